"""Throughput of the business calendar engine (accord.calendars.engine), no Django.

python -m benchkit.engine [--starts 20000] [--rounds 5] [--seed 2026] [--cpu N]

One calendar: Europe/Berlin, Monday to Friday 08:00-12:00 and 13:00-17:00, 20 holidays
a year (Bavaria's public holidays from the ``holidays`` package, filled up with
24 and 31 December and seeded random weekdays). Starts are random instants (with
microseconds, in UTC as the database hands them over) over 2026. For each duration —
1 hour, 8 hours, 5 business days (40 h) and 30 business days (240 h) — it times
``add(start, seconds)`` over all starts and ``between(start, deadline)`` over the same
spans, in one thread (``--cpu N`` pins the process to CPU N): one warm-up pass (it fills
the calendar's block cache, as a long-running process would), then ``--rounds``
measured passes; the median pass counts. Two extra rows, without a target: add and
between with two pauses per start. Prints one JSON object.
"""

import argparse
import json
import os
import platform
import random
import statistics
import sys
import time
from datetime import UTC, date, datetime, timedelta

from accord.calendars.engine import BusinessCalendar, holidays_from_package

HOUR = 3600
BUSINESS_DAY = 8 * HOUR
DURATIONS = [
    ("1 h", HOUR),
    ("8 h", 8 * HOUR),
    ("5 business days", 5 * BUSINESS_DAY),
    ("30 business days", 30 * BUSINESS_DAY),
]
WORKDAYS = ("mon", "tue", "wed", "thu", "fri")
YEARS = range(2025, 2029)
HOLIDAYS_PER_YEAR = 20


def bench_calendar(seed):
    rng = random.Random(seed)
    dates = set(holidays_from_package("DE", years=YEARS, subdiv="BY"))
    for year in YEARS:
        dates |= {date(year, 12, 24), date(year, 12, 31)}
        in_year = {d for d in dates if d.year == year and d.weekday() < 5}
        while len(in_year) < HOLIDAYS_PER_YEAR:
            day = date(year, 1, 1) + timedelta(days=rng.randrange(365))
            if day.weekday() < 5:
                in_year.add(day)
        dates = {d for d in dates if d.year != year} | in_year
    weekly = {day: [("08:00", "12:00"), ("13:00", "17:00")] for day in WORKDAYS}
    return BusinessCalendar("Europe/Berlin", weekly, {"dates": sorted(dates)}), len(dates)


def timed(rounds, call, items):
    """Calls per second of ``call(*item)`` over ``items``: median of ``rounds`` passes
    after one warm-up pass."""
    for item in items:
        call(*item)
    rates = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        for item in items:
            call(*item)
        rates.append(len(items) / (time.perf_counter() - t0))
    return round(statistics.median(rates)), round(min(rates)), round(max(rates))


def pin_to_cpu(cpu):
    try:
        os.sched_setaffinity(0, {cpu})
        return cpu
    except (AttributeError, OSError):
        return None


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--starts", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--cpu", type=int, default=None, help="pin the process to this CPU")
    args = parser.parse_args(argv)

    cpu = None if args.cpu is None else pin_to_cpu(args.cpu)
    cal, holiday_count = bench_calendar(args.seed)
    rng = random.Random(args.seed)
    year_start = datetime(2026, 1, 1, tzinfo=UTC)
    year_us = 365 * 86_400 * 1_000_000
    starts = [
        year_start + timedelta(microseconds=rng.randrange(year_us)) for _ in range(args.starts)
    ]
    results = []
    for label, seconds in DURATIONS:
        deadlines = [cal.add(start, seconds) for start in starts]
        assert all(
            cal.between(s, d) == seconds for s, d in zip(starts[:500], deadlines[:500], strict=True)
        )
        add_rate = timed(args.rounds, cal.add, [(s, seconds) for s in starts])
        between_rate = timed(args.rounds, cal.between, list(zip(starts, deadlines, strict=True)))
        for op, (median, low, high) in (("add", add_rate), ("between", between_rate)):
            results.append(
                {
                    "op": op,
                    "duration": label,
                    "seconds": seconds,
                    "per_second": median,
                    "per_second_min": low,
                    "per_second_max": high,
                    "us_per_call": round(1e6 / median, 2),
                    "target": True,
                }
            )
    # With two pauses per start (pending customer for a while), informational.
    seconds = 8 * HOUR
    paused = []
    for start in starts:
        first = start + timedelta(hours=rng.uniform(0, 20))
        second = first + timedelta(hours=rng.uniform(1, 60))
        pauses = (
            (first, first + timedelta(hours=rng.uniform(0, 10))),
            (second, second + timedelta(hours=rng.uniform(0, 30))),
        )
        paused.append((start, seconds, pauses))
    add_rate = timed(args.rounds, cal.add, paused)
    spans = [(s, cal.add(s, n, p), p) for s, n, p in paused]
    between_rate = timed(args.rounds, cal.between, spans)
    for op, (median, low, high) in (("add", add_rate), ("between", between_rate)):
        results.append(
            {
                "op": op,
                "duration": "8 h, 2 pauses",
                "seconds": seconds,
                "per_second": median,
                "per_second_min": low,
                "per_second_max": high,
                "us_per_call": round(1e6 / median, 2),
                "target": False,
            }
        )
    print(
        json.dumps(
            {
                "calendar": "Europe/Berlin, Mon-Fri 08:00-12:00 + 13:00-17:00, "
                f"{HOLIDAYS_PER_YEAR} holidays/year ({holiday_count} in "
                f"{YEARS.start}-{YEARS.stop - 1})",
                "starts": f"{args.starts} random instants in 2026 (UTC, with microseconds)",
                "method": f"single thread, median of {args.rounds} passes after a warm-up pass",
                "pinned_cpu": cpu,
                "python": platform.python_version(),
                "results": results,
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
