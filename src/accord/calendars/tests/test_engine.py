"""The business calendar engine against a slow, minute-by-minute reference model, plus
explicit cases: DST changes in Berlin, São Paulo, Sydney, Tehran and New York, split
days, every kind of holiday, zones that differ from the input's offset, pauses, 24x7,
24:00, deadlines at a closing time, working days and validation. Pure Python: no
database."""

import copy
import itertools
from bisect import bisect_left
from datetime import UTC, date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, reject, settings
from hypothesis import strategies as st

from accord.calendars.engine import (
    WEEKDAYS,
    BusinessCalendar,
    CalendarError,
    holidays_from_package,
)

H = 3600
BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
SAO_PAULO = ZoneInfo("America/Sao_Paulo")
SYDNEY = ZoneInfo("Australia/Sydney")
TEHRAN = ZoneInfo("Asia/Tehran")
IST = timezone(timedelta(hours=5, minutes=30))

OFFICE = {day: [("08:00", "12:00"), ("13:00", "17:00")] for day in WEEKDAYS[:5]}
EIGHT_TO_SIX = {day: [("08:00", "18:00")] for day in WEEKDAYS[:5]}
ALWAYS = {day: [("00:00", "24:00")] for day in WEEKDAYS}


def local(tz, *args):
    return datetime(*args, tzinfo=tz)


def utc(*args):
    return datetime(*args, tzinfo=UTC)


def in_utc(moment):
    """For comparing results with UTC instants: an aware datetime that falls in a DST
    fold never compares equal to one in another zone (PEP 495), so compare in UTC."""
    return moment.astimezone(UTC)


# --- the reference model ------------------------------------------------------------
def _minutes(text):
    hours, minutes = text.split(":")
    return int(hours) * 60 + int(minutes)


def _ref_is_holiday(day, holidays):
    return (
        day in holidays.get("dates", ())
        or (day.month, day.day) in holidays.get("recurring", ())
        or any(first <= day <= last for first, last in holidays.get("ranges", ()))
    )


class Reference:
    """A calendar evaluated minute by minute over a window of UTC minutes.

    Every minute gets the local wall-clock time it shows; an interval bound *D HH:MM*
    is the first minute whose wall clock (or any earlier minute's) reached D HH:MM —
    the running maximum of the wall clock, so that after the clock is set back the
    first occurrence counts and a skipped time is the minute of the jump. A minute is
    working time if it lies in [bound(start), bound(end)) of an interval of a non-
    holiday date. Interval bounds, pauses and starts are on whole minutes, so a minute
    is all working or all not."""

    def __init__(self, zone, weekly, holidays, first, last):
        tz = ZoneInfo(zone)
        self.t0 = int(first.timestamp()) // 60 * 60
        self.n = (int(last.timestamp()) - self.t0) // 60
        walls = [
            datetime.fromtimestamp(self.t0 + 60 * i, tz).replace(tzinfo=None)
            for i in range(self.n + 1)
        ]
        reached = list(itertools.accumulate(walls, max))
        self.working = bytearray(self.n)
        day = walls[0].date() - timedelta(days=1)
        while day <= walls[-1].date() + timedelta(days=1):
            hours = weekly.get(WEEKDAYS[day.weekday()]) or []
            if hours and not _ref_is_holiday(day, holidays):
                midnight = datetime.combine(day, time())
                for start, end in hours:
                    i = bisect_left(reached, midnight + timedelta(minutes=_minutes(start)))
                    j = bisect_left(reached, midnight + timedelta(minutes=_minutes(end)))
                    self.working[i:j] = b"\x01" * (j - i)
            day += timedelta(days=1)
        self.counting = self.working
        self.open_pause = False

    def with_pauses(self, pauses):
        """The same model with the clock stopped during ``pauses``."""
        other = copy.copy(self)
        other.counting = bytearray(self.working)
        for pause_from, pause_to in pauses:
            i = other.index(pause_from)
            if pause_to is None:
                other.open_pause = True
                j = self.n
            else:
                j = self.index(pause_to)
            i, j = max(i, 0), min(max(j, 0), self.n)
            if j > i:
                other.counting[i:j] = bytes(j - i)
        return other

    def index(self, moment):
        return (int(moment.timestamp()) - self.t0) // 60

    def instant(self, i, seconds=0):
        return datetime.fromtimestamp(self.t0 + 60 * i + seconds, UTC)

    def is_working_time(self, moment):
        return bool(self.working[self.index(moment)])

    def between(self, start, end):
        i, j = self.index(start), self.index(end)
        return 60 * sum(self.counting[i:j]) if j > i else 0

    def add(self, start, seconds):
        """None when the window is too short (or an open pause never ends)."""
        i = self.index(start)
        if seconds == 0:
            while i < self.n and not self.counting[i]:
                i += 1
            return self.instant(i) if i < self.n else None
        if seconds > 0:
            left = seconds
            while i < self.n:
                if self.counting[i]:
                    if left <= 60:
                        return self.instant(i, left)
                    left -= 60
                i += 1
            return None
        left = -seconds
        i -= 1
        while i >= 0:
            if self.counting[i]:
                if left < 60:
                    return self.instant(i, 60 - left)
                left -= 60
            i -= 1
        return None


# --- strategies ---------------------------------------------------------------------
ZONES = {
    # zone: instants (UTC) at which its clocks change, to start near
    "Europe/Berlin": [utc(2026, 3, 29, 1), utc(2026, 10, 25, 1)],
    "America/Sao_Paulo": [utc(2018, 11, 4, 3), utc(2019, 2, 17, 2)],
    "Australia/Sydney": [utc(2026, 4, 4, 16), utc(2026, 10, 3, 16)],
    "Asia/Tehran": [utc(2021, 3, 21, 20, 30), utc(2021, 9, 21, 19, 30)],
    "America/New_York": [utc(2026, 3, 8, 7), utc(2026, 11, 1, 6)],
    "UTC": [utc(2026, 2, 27)],
}
INPUT_ZONES = [UTC, IST, NEW_YORK, BERLIN, timezone(timedelta(hours=-3))]
# Interval bounds that meet the DST changes above (local 00:00-03:00, 23:00-24:00).
SPECIAL_MINUTES = [0, 30, 60, 90, 120, 150, 180, 210, 1380, 1410, 1440]
DAY = 86_400


def _fmt(minute):
    return f"{minute // 60:02d}:{minute % 60:02d}"


@st.composite
def weekly_hours(draw):
    out = {}
    bound = st.one_of(st.integers(0, 1440), st.sampled_from(SPECIAL_MINUTES))
    for key in WEEKDAYS:
        kind = draw(st.integers(0, 9))
        if kind == 0:
            continue  # no key: no hours
        count = 0 if kind == 1 else draw(st.integers(1, 3))
        points = sorted(draw(st.sets(bound, min_size=2 * count, max_size=2 * count)))
        out[key] = [(_fmt(points[2 * i]), _fmt(points[2 * i + 1])) for i in range(count)]
    if not any(out.values()):
        out["wed"] = [("09:00", "17:00")]
    return out


@st.composite
def scenarios(draw):
    zone = draw(st.sampled_from(sorted(ZONES)))
    if draw(st.booleans()):
        anchor = draw(st.sampled_from(ZONES[zone]))
        start = anchor + timedelta(minutes=draw(st.integers(-4 * 1440, 4 * 1440)))
    else:
        start = utc(2018, 1, 1) + timedelta(minutes=draw(st.integers(0, 9 * 365 * 1440)))
    weekly = draw(weekly_hours())
    near = start.date()

    def a_day():
        return near + timedelta(days=draw(st.integers(-12, 12)))

    holidays = {
        "dates": [a_day() for _ in range(draw(st.integers(0, 3)))],
        "recurring": [(d.month, d.day) for d in (a_day() for _ in range(draw(st.integers(0, 2))))],
        "ranges": [],
    }
    for _ in range(draw(st.integers(0, 2))):
        first = a_day()
        holidays["ranges"].append((first, first + timedelta(days=draw(st.integers(0, 4)))))
    pauses = []
    for _ in range(draw(st.integers(0, 3))):
        begin = start + timedelta(minutes=draw(st.integers(-2 * 1440, 3 * 1440)))
        if draw(st.integers(0, 9)) == 0:
            pauses.append((begin, None))
        else:
            length = draw(st.integers(0, 1440))
            pauses.append((begin, begin + timedelta(minutes=length)))
    weekly_seconds = sum(
        60 * (_minutes(e) - _minutes(s)) for day in weekly.values() for s, e in day
    )
    cap = max(1, min(weekly_seconds, 2 * DAY))
    duration = draw(
        st.one_of(st.integers(1, cap), st.integers(1, max(1, cap // 60)).map(lambda m: m * 60))
    )
    input_zone = draw(st.sampled_from(INPUT_ZONES))
    probes = draw(st.lists(st.integers(-8 * 1440, 8 * 1440), min_size=2, max_size=6))
    return {
        "zone": zone,
        "weekly": weekly,
        "holidays": holidays,
        "start": start.astimezone(input_zone),
        "pauses": [(a.astimezone(input_zone), b) for a, b in pauses],
        "duration": duration,
        "probes": [start + timedelta(minutes=m) for m in probes],
    }


REFERENCE_SETTINGS = settings(
    max_examples=45,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


@REFERENCE_SETTINGS
@given(scenarios())
def test_engine_agrees_with_the_minute_by_minute_reference(case):
    start, duration, pauses = case["start"], case["duration"], case["pauses"]
    cal = BusinessCalendar(case["zone"], case["weekly"], case["holidays"])
    window = timedelta(days=14)
    plain = Reference(
        case["zone"], case["weekly"], case["holidays"], start - window, start + window
    )
    ref = plain.with_pauses(pauses)

    for probe in [start, *case["probes"]]:
        for moment in (probe, probe + timedelta(seconds=30)):
            assert cal.is_working_time(moment) == plain.is_working_time(moment), moment
        lo, hi = sorted([start, probe])
        assert cal.between(lo, hi) == plain.between(lo, hi), (lo, hi)
        assert cal.between(lo, hi, pauses) == ref.between(lo, hi), (lo, hi)
        assert cal.between(hi, lo, pauses) == 0

    for seconds in (duration, -duration, 0):
        for model, args in ((plain, ()), (ref, (pauses,))):
            expected = model.add(start, seconds)
            if expected is None and not (seconds >= 0 and model.open_pause):
                reject()  # the answer lies beyond the reference's window
            got = cal.add(start, seconds, *args)
            if expected is None:
                # An open pause: the engine gives None, or a time past the window.
                assert got is None or got > start + window, (seconds, got)
                continue
            # Compared in UTC: an aware datetime in the fold never equals one in another zone.
            assert got.astimezone(UTC) == expected, (seconds, args, got, expected)
            assert got.tzinfo is cal.tzinfo
            if seconds > 0:
                assert cal.between(start, got, *args) == seconds
            elif seconds < 0:
                assert cal.between(got, start, *args) == -seconds


# Long durations need no reference: the defining properties of add hold at any length.
@settings(max_examples=150, deadline=None)
@given(
    scenarios(),
    st.integers(1, 90 * DAY),
    st.sampled_from([False, True]),
)
def test_add_is_the_earliest_instant_with_that_much_business_time(case, seconds, with_pauses):
    cal = BusinessCalendar(case["zone"], case["weekly"], case["holidays"])
    start = case["start"]
    pauses = [p for p in case["pauses"] if p[1] is not None] if with_pauses else ()
    one = timedelta(seconds=1)

    # In UTC: arithmetic on an aware datetime in a zone is wall-clock arithmetic.
    deadline = in_utc(cal.add(start, seconds, pauses))
    assert cal.between(start, deadline, pauses) == seconds
    assert cal.between(start, deadline - one, pauses) == seconds - 1

    warning = in_utc(cal.add(start, -seconds, pauses))
    assert warning <= start
    assert cal.between(warning, start, pauses) == seconds
    assert cal.between(warning - one, start, pauses) == seconds + 1

    # between is additive over any split point
    middle = start + timedelta(seconds=seconds // 3)
    end = start + timedelta(seconds=seconds)
    assert cal.between(start, end, pauses) == cal.between(start, middle, pauses) + cal.between(
        middle, end, pauses
    )


def first_instant(tz, wall):
    """Brute force: the first whole minute at which the local clock shows ``wall`` or
    later (``wall`` on a whole minute)."""
    minute = int(wall.replace(tzinfo=UTC).timestamp()) // 60 * 60 - 15 * 3600
    while datetime.fromtimestamp(minute, tz).replace(tzinfo=None) < wall:
        minute += 60
    return datetime.fromtimestamp(minute, UTC)


@settings(max_examples=60, deadline=None)
@given(scenarios(), st.integers(-40, 40), st.booleans())
def test_add_working_days_against_counting_days(case, days, end_of_day):
    cal = BusinessCalendar(case["zone"], case["weekly"], case["holidays"])
    tz, start = cal.tzinfo, case["start"]
    wall = start.astimezone(tz).replace(tzinfo=None)
    day, count = wall.date(), 0
    if days == 0:
        while not cal.is_working_day(day):
            day += timedelta(days=1)
    while count < abs(days):
        day += timedelta(days=1 if days > 0 else -1)
        hours = case["weekly"].get(WEEKDAYS[day.weekday()])
        count += bool(hours) and not _ref_is_holiday(day, case["holidays"])
    closing_time = _minutes(case["weekly"][WEEKDAYS[day.weekday()]][-1][1])
    closing = first_instant(tz, datetime.combine(day, time()) + timedelta(minutes=closing_time))
    kept = first_instant(tz, datetime.combine(day, wall.time()))
    expected = closing if end_of_day else min(kept, closing)

    result = cal.add_working_days(start, days, end_of_day=end_of_day)
    assert in_utc(result) == in_utc(expected)
    assert result.tzinfo is tz


# --- DST -------------------------------------------------------------------------------
def test_berlin_spring_forward():
    cal = BusinessCalendar("Europe/Berlin", ALWAYS)
    assert cal.between(local(BERLIN, 2026, 3, 29), local(BERLIN, 2026, 3, 30)) == 23 * H
    # 24x7 is real time: one day later in wall-clock terms is 23 hours later
    assert cal.add(local(BERLIN, 2026, 3, 28, 12), 23 * H) == local(BERLIN, 2026, 3, 29, 12)
    night = BusinessCalendar("Europe/Berlin", {"sun": [("01:00", "04:00")]})
    assert night.between(local(BERLIN, 2026, 3, 29), local(BERLIN, 2026, 3, 30)) == 2 * H
    # A bound the clock skips is the instant of the jump (01:00 UTC = 03:00 CEST).
    gap = BusinessCalendar("Europe/Berlin", {"sun": [("02:30", "05:00")]})
    assert in_utc(gap.add(local(BERLIN, 2026, 3, 29), 0)) == utc(2026, 3, 29, 1)
    assert gap.between(utc(2026, 3, 29), utc(2026, 3, 30)) == 2 * H
    # An interval wholly inside the skipped hour is empty that day only.
    inside = BusinessCalendar("Europe/Berlin", {"sun": [("02:00", "02:30")]})
    assert inside.between(utc(2026, 3, 28), utc(2026, 3, 30)) == 0
    assert not inside.is_working_time(utc(2026, 3, 29, 1))
    assert inside.add(local(BERLIN, 2026, 3, 28), 60) == local(BERLIN, 2026, 4, 5, 2, 1)
    # Office hours that week: Monday 08:00 is 06:00 UTC, not 07:00.
    office = BusinessCalendar("Europe/Berlin", OFFICE)
    assert in_utc(office.add(local(BERLIN, 2026, 3, 27, 16), 2 * H)) == utc(2026, 3, 30, 7)


def test_berlin_fall_back():
    cal = BusinessCalendar("Europe/Berlin", ALWAYS)
    assert cal.between(local(BERLIN, 2026, 10, 25), local(BERLIN, 2026, 10, 26)) == 25 * H
    # 02:00-03:00 runs from the first 02:00 (CEST) to 03:00 (CET): two hours.
    hour = BusinessCalendar("Europe/Berlin", {"sun": [("02:00", "03:00")]})
    assert hour.between(utc(2026, 10, 24), utc(2026, 10, 26)) == 2 * H
    assert in_utc(hour.add(utc(2026, 10, 24), 0)) == utc(2026, 10, 25, 0)
    assert in_utc(hour.add(utc(2026, 10, 24), 2 * H)) == utc(2026, 10, 25, 2)
    # An ambiguous start is its first occurrence: 02:30 CEST = 00:30 UTC.
    late = BusinessCalendar("Europe/Berlin", {"sun": [("02:30", "04:00")]})
    assert in_utc(late.add(utc(2026, 10, 24), 0)) == utc(2026, 10, 25, 0, 30)
    assert late.between(utc(2026, 10, 24), utc(2026, 10, 26)) == int(2.5 * H)
    assert late.is_working_time(utc(2026, 10, 25, 1, 15))  # the second 02:15 (CET)


def test_sao_paulo_dst_at_midnight():
    # 2018-11-04: 00:00 became 01:00; 2019-02-17: 00:00 became 23:00 of the 16th.
    cal = BusinessCalendar("America/Sao_Paulo", ALWAYS)
    assert cal.between(local(SAO_PAULO, 2018, 11, 4), local(SAO_PAULO, 2018, 11, 5)) == 23 * H
    assert cal.between(local(SAO_PAULO, 2019, 2, 16), local(SAO_PAULO, 2019, 2, 17)) == 25 * H
    split = BusinessCalendar(
        "America/Sao_Paulo", {"sat": [("20:00", "24:00")], "sun": [("00:00", "02:00")]}
    )
    # Saturday 20:00-24:00 ends at the jump (03:00 UTC): 4 h; Sunday 00:00-02:00 is
    # 03:00-04:00 UTC: 1 h.
    assert split.between(utc(2018, 11, 3, 23), utc(2018, 11, 4, 3)) == 4 * H
    assert split.between(utc(2018, 11, 4, 3), utc(2018, 11, 5)) == H
    assert in_utc(split.add(utc(2018, 11, 3, 23), 4 * H)) == utc(2018, 11, 4, 3)
    assert in_utc(split.add(utc(2018, 11, 3, 23), 5 * H)) == utc(2018, 11, 4, 4)
    # At the end of DST Saturday 20:00-24:00 lasts 5 hours (23:00 comes twice).
    assert split.between(utc(2019, 2, 16), utc(2019, 2, 17, 3)) == 5 * H
    assert in_utc(split.add(utc(2019, 2, 16), 0)) == utc(2019, 2, 16, 22)
    assert in_utc(split.add(utc(2019, 2, 16), 5 * H + 1800)) == utc(2019, 2, 17, 3, 30)


def test_sydney_southern_hemisphere():
    cal = BusinessCalendar("Australia/Sydney", ALWAYS)
    assert cal.between(local(SYDNEY, 2026, 4, 5), local(SYDNEY, 2026, 4, 6)) == 25 * H
    assert cal.between(local(SYDNEY, 2026, 10, 4), local(SYDNEY, 2026, 10, 5)) == 23 * H
    office = BusinessCalendar("Australia/Sydney", EIGHT_TO_SIX)
    deadline = office.add(local(SYDNEY, 2026, 10, 2, 17), 2 * H)
    assert deadline == local(SYDNEY, 2026, 10, 5, 9)
    assert deadline.utcoffset() == timedelta(hours=11)
    assert office.between(local(SYDNEY, 2026, 10, 2, 17), deadline) == 2 * H


def test_tehran_dst_at_midnight():
    cal = BusinessCalendar("Asia/Tehran", ALWAYS)
    assert cal.between(local(TEHRAN, 2021, 3, 22), local(TEHRAN, 2021, 3, 23)) == 23 * H
    assert cal.between(local(TEHRAN, 2021, 9, 21), local(TEHRAN, 2021, 9, 22)) == 25 * H
    # Iran's week: Saturday to Wednesday, 08:00-16:00.
    week = {day: [("08:00", "16:00")] for day in ("sat", "sun", "mon", "tue", "wed")}
    iran = BusinessCalendar("Asia/Tehran", week)
    # Wednesday 15:00 + 2 h: 1 h on Wednesday, 1 h on Saturday, after the clock change
    # of Tuesday night (21 Sep); Saturday 09:00 is +03:30 again.
    deadline = iran.add(local(TEHRAN, 2021, 9, 15, 15), 2 * H)
    assert deadline == local(TEHRAN, 2021, 9, 18, 9)
    # Tuesday 21 Sep 23:30 comes twice; an interval 23:00-24:00 lasts two hours.
    night = BusinessCalendar("Asia/Tehran", {"tue": [("23:00", "24:00")]})
    assert night.between(utc(2021, 9, 21), utc(2021, 9, 22)) == 2 * H
    assert in_utc(night.add(utc(2021, 9, 21), 2 * H)) == utc(2021, 9, 21, 20, 30)
    # Monday 22 March 2021: 00:00-01:00 does not exist.
    early = BusinessCalendar("Asia/Tehran", {"mon": [("00:00", "02:00")]})
    assert early.between(utc(2021, 3, 21), utc(2021, 3, 23)) == H


def test_new_york_calendar_with_inputs_in_other_offsets():
    cal = BusinessCalendar("America/New_York", EIGHT_TO_SIX)
    # 13:00 UTC on 2026-06-01 is 09:00 EDT, 18:30 in India.
    start_utc = utc(2026, 6, 1, 13)
    start_ist = start_utc.astimezone(IST)
    assert start_ist.hour == 18 and start_ist.minute == 30
    for start in (start_utc, start_ist):
        deadline = cal.add(start, 10 * H)
        assert deadline == local(NEW_YORK, 2026, 6, 2, 9)
        assert deadline.tzinfo is cal.tzinfo
        assert cal.between(start, deadline) == 10 * H
    # Saturday 02:00 in India is Friday 16:30 in New York: working time.
    assert cal.is_working_time(datetime(2026, 6, 6, 2, 0, tzinfo=IST))
    assert not cal.is_working_time(datetime(2026, 6, 6, 4, 0, tzinfo=IST))
    # Across the March change: Friday 17:00 EST + 2 h = Monday 09:00 EDT = 13:00 UTC.
    assert in_utc(cal.add(utc(2026, 3, 6, 22), 2 * H)) == utc(2026, 3, 9, 13)


# --- ordinary rules -------------------------------------------------------------------
def test_split_days_and_deadline_at_closing():
    cal = BusinessCalendar("Europe/Berlin", OFFICE)
    monday = date(2026, 6, 1)

    def at(hour, minute=0, day=monday):
        return datetime.combine(day, time(hour, minute), BERLIN)

    assert cal.add(at(11), H) == at(12)  # exactly at the lunch closing, not 13:00
    assert cal.add(at(11), H + 1) == at(13, 0) + timedelta(seconds=1)
    assert cal.add(at(12, 30), H) == at(14)  # inside the break counts from 13:00
    assert cal.add(at(16), H) == at(17)  # the day's closing, not Tuesday 08:00
    assert cal.add(at(16), H + 60) == at(8, 1, monday + timedelta(days=1))
    assert cal.add(at(12, 30), 0) == at(13)
    assert cal.add(at(9), 0) == at(9)
    assert cal.add(at(17), 0) == at(8, 0, monday + timedelta(days=1))
    assert cal.between(at(7), at(18)) == 8 * H
    assert cal.between(at(12), at(13)) == 0
    assert cal.between(at(18), at(7)) == 0
    assert cal.is_working_time(at(8)) and not cal.is_working_time(at(12))
    assert cal.is_working_time(at(11, 59)) and not cal.is_working_time(at(17))
    # Friday 16:00 + 2 h = Monday 09:00
    assert cal.add(at(16, 0, date(2026, 6, 5)), 2 * H) == at(9, 0, date(2026, 6, 8))
    # Microseconds survive.
    precise = at(9) + timedelta(microseconds=250)
    assert cal.add(precise, 60) == at(9, 1) + timedelta(microseconds=250)
    assert cal.add(precise, 1.5) == precise + timedelta(seconds=1.5)
    assert cal.add(at(9), timedelta(minutes=90)) == at(10, 30)


def test_negative_add_counts_backwards_to_the_earliest_instant():
    cal = BusinessCalendar("Europe/Berlin", EIGHT_TO_SIX)
    tuesday_10 = local(BERLIN, 2026, 6, 2, 10)
    # Counting back 2 h ends at Tuesday's opening; the earliest instant with 2 business
    # hours before the deadline is Monday's closing.
    assert cal.add(tuesday_10, -2 * H) == local(BERLIN, 2026, 6, 1, 18)
    assert cal.add(tuesday_10, -H) == local(BERLIN, 2026, 6, 2, 9)
    assert cal.add(tuesday_10, -3 * H) == local(BERLIN, 2026, 6, 1, 17)
    # From outside working time: Saturday noon - 1 h = Friday 17:00.
    assert cal.add(local(BERLIN, 2026, 6, 6, 12), -H) == local(BERLIN, 2026, 6, 5, 17)
    # Monday 09:00 - 1 h ends at Monday's opening: Friday's closing.
    assert cal.add(local(BERLIN, 2026, 6, 8, 9), -H) == local(BERLIN, 2026, 6, 5, 18)
    for seconds in (1, H, 10 * H, 33 * H):
        earlier = cal.add(tuesday_10, -seconds)
        assert cal.between(earlier, tuesday_10) == seconds


def test_holidays_of_every_kind():
    cal = BusinessCalendar(
        "Europe/Berlin",
        EIGHT_TO_SIX,
        {
            "dates": [date(2026, 12, 24), "2026-12-31"],
            "recurring": [(12, 25), "12-26", (2, 29)],
            "ranges": [(date(2026, 8, 3), date(2026, 8, 14))],
        },
    )
    assert not cal.is_working_day(date(2026, 12, 24))
    assert not cal.is_working_day(date(2026, 12, 25))
    assert cal.is_working_day(date(2027, 12, 24))  # a single date: 2026 only
    assert not cal.is_working_day(date(2030, 12, 25))  # recurring
    assert not cal.is_working_day(date(2028, 2, 29))  # 29 February, leap years only
    assert cal.is_working_day(date(2028, 2, 28))
    assert not cal.is_working_day(date(2026, 12, 31))
    # The range is inclusive at both ends.
    assert cal.is_working_day(date(2026, 7, 31))
    assert not cal.is_working_day(date(2026, 8, 3))
    assert not cal.is_working_day(date(2026, 8, 14))
    assert cal.is_working_day(date(2026, 8, 17))
    assert not cal.is_working_day(date(2026, 8, 15))  # a Saturday
    # Wednesday 23 Dec 17:00 + 2 h: 1 h that day, then 24-27 Dec are holidays or the
    # weekend, so Monday 28 Dec 09:00.
    assert cal.add(local(BERLIN, 2026, 12, 23, 17), 2 * H) == local(BERLIN, 2026, 12, 28, 9)
    # Friday 31 Jul 17:00 + 2 h: the range runs to Friday 14 Aug, so Monday 17 Aug.
    assert cal.add(local(BERLIN, 2026, 7, 31, 17), 2 * H) == local(BERLIN, 2026, 8, 17, 9)
    assert cal.between(local(BERLIN, 2026, 8, 1), local(BERLIN, 2026, 8, 16)) == 0
    assert not cal.is_working_time(local(BERLIN, 2026, 8, 5, 10))
    # Backwards over the same range.
    assert cal.add(local(BERLIN, 2026, 8, 17, 9), -2 * H) == local(BERLIN, 2026, 7, 31, 17)


def test_touching_and_unsorted_intervals_and_24_00():
    cal = BusinessCalendar(
        "Europe/Berlin",
        {"mon": [("13:00", "24:00"), ("08:00", "13:00")], "tue": [("00:00", "02:00")]},
    )
    assert cal.weekly_hours["mon"] == [("08:00", "24:00")]
    monday = local(BERLIN, 2026, 6, 1, 22)
    assert cal.add(monday, 2 * H) == local(BERLIN, 2026, 6, 2, 0)  # 24:00 is midnight
    assert cal.add(monday, 3 * H) == local(BERLIN, 2026, 6, 2, 1)
    assert cal.add(monday, 4 * H) == local(BERLIN, 2026, 6, 2, 2)
    assert cal.is_working_time(local(BERLIN, 2026, 6, 2, 0))
    assert cal.between(local(BERLIN, 2026, 6, 1), local(BERLIN, 2026, 6, 3)) == 18 * H


def test_24x7_is_real_elapsed_time():
    cal = BusinessCalendar("America/New_York", ALWAYS)
    start = utc(2026, 10, 30, 12)
    for seconds in (1, H, 3 * DAY, 40 * DAY):
        assert cal.add(start, seconds) == start + timedelta(seconds=seconds)
        assert cal.add(start, -seconds) == start - timedelta(seconds=seconds)
        assert cal.between(start, start + timedelta(seconds=seconds)) == seconds
    assert cal.add(start, 0) == start
    assert cal.is_working_time(start)


def test_pauses():
    cal = BusinessCalendar("Europe/Berlin", EIGHT_TO_SIX)
    monday = date(2026, 6, 1)

    def at(day_offset, hour, minute=0):
        return datetime.combine(monday + timedelta(days=day_offset), time(hour, minute), BERLIN)

    start = at(0, 9)
    # A pause from Monday 17:00 to Tuesday 10:00 (starts in, ends in working time):
    # 1 h lost on Monday and 2 h on Tuesday.
    pause = [(at(0, 17), at(1, 10))]
    assert cal.add(start, 9 * H, pause) == at(1, 11)
    assert cal.between(start, at(1, 11), pause) == 9 * H
    # A pause that starts and ends outside working time changes nothing.
    night = [(at(0, 19), at(1, 7))]
    assert cal.add(start, 9 * H, night) == at(0, 18)
    assert cal.add(start, 10 * H, night) == at(1, 9)
    # Starting inside a pause counts from its end; overlapping pauses merge.
    overlapping = [(at(0, 8), at(0, 10)), (at(0, 9, 30), at(0, 11)), (at(0, 10), at(0, 10))]
    assert cal.add(start, H, overlapping) == at(0, 12)
    assert cal.add(start, 0, overlapping) == at(0, 11)
    assert cal.between(at(0, 8), at(0, 18), overlapping) == 7 * H
    # A deadline reached exactly where a pause begins is that instant.
    assert cal.add(start, H, [(at(0, 10), at(0, 12))]) == at(0, 10)
    # Backwards over a pause: from Monday 12:00 back 2 h with 10:00-11:00 paused.
    assert cal.add(at(0, 12), -2 * H, [(at(0, 10), at(0, 11))]) == at(0, 9)
    # Counting back 1 h from 12:00 ends where the pause ends, so the result moves back
    # to its start.
    assert cal.add(at(0, 12), -H, [(at(0, 10), at(0, 11))]) == at(0, 10)
    assert cal.add(at(0, 12), -H, [(at(0, 7), at(0, 11))]) == at(-3, 18)
    # Open-ended pauses: the clock stops for good.
    forever = [(at(0, 10), None)]
    assert cal.add(start, 30 * 60, forever) == at(0, 9, 30)
    assert cal.add(start, H, forever) == at(0, 10)
    assert cal.add(start, H + 1, forever) is None
    assert cal.add(at(0, 11), 0, forever) is None
    assert cal.between(start, at(5, 0), forever) == H
    assert cal.add(at(1, 12), -H, forever) == at(0, 9)
    # Pauses in other zones than the calendar's.
    in_utc = [(at(0, 17).astimezone(UTC), at(1, 10).astimezone(IST))]
    assert cal.add(start, 9 * H, in_utc) == at(1, 11)


def test_add_working_days():
    cal = BusinessCalendar("Europe/Berlin", OFFICE, {"dates": [date(2026, 6, 4)]})
    wednesday = local(BERLIN, 2026, 6, 3, 10, 15)
    assert cal.add_working_days(wednesday, 1) == local(BERLIN, 2026, 6, 5, 10, 15)  # skips Thu
    assert cal.add_working_days(wednesday, 2) == local(BERLIN, 2026, 6, 8, 10, 15)
    assert cal.add_working_days(wednesday, -3) == local(BERLIN, 2026, 5, 29, 10, 15)
    assert cal.add_working_days(wednesday, 0) == wednesday
    assert cal.add_working_days(wednesday, 1, end_of_day=True) == local(BERLIN, 2026, 6, 5, 17)
    assert cal.add_working_days(wednesday, -1, end_of_day=True) == local(BERLIN, 2026, 6, 2, 17)
    # After the last closing: clamped to it. Before the opening: kept.
    evening = local(BERLIN, 2026, 6, 3, 20)
    assert cal.add_working_days(evening, 1) == local(BERLIN, 2026, 6, 5, 17)
    early = local(BERLIN, 2026, 6, 3, 6, 30)
    assert cal.add_working_days(early, 1) == local(BERLIN, 2026, 6, 5, 6, 30)
    # From a Saturday: the first working day after it is Monday; 0 days is Monday too.
    saturday = local(BERLIN, 2026, 6, 6, 11)
    assert cal.add_working_days(saturday, 1) == local(BERLIN, 2026, 6, 8, 11)
    assert cal.add_working_days(saturday, 0) == local(BERLIN, 2026, 6, 8, 11)
    assert cal.add_working_days(saturday, -1) == local(BERLIN, 2026, 6, 5, 11)
    # Input in another zone: its local date and time are taken in the calendar's zone.
    assert cal.add_working_days(wednesday.astimezone(IST), 1) == local(BERLIN, 2026, 6, 5, 10, 15)
    # Across DST, the wall-clock time is kept (Friday 27 Mar 10:00 CET -> Monday CEST).
    assert in_utc(cal.add_working_days(local(BERLIN, 2026, 3, 27, 10), 1)) == utc(2026, 3, 30, 8)
    # A 24:00 closing is midnight at the end of that day.
    late = BusinessCalendar("Europe/Berlin", {"fri": [("18:00", "24:00")]})
    assert late.add_working_days(wednesday, 1, end_of_day=True) == local(BERLIN, 2026, 6, 6, 0)


def test_inputs_and_outputs():
    cal = BusinessCalendar(ZoneInfo("Europe/Berlin"), OFFICE)
    assert cal.timezone == "Europe/Berlin"
    naive = datetime(2026, 6, 1, 9)
    for call in (
        lambda: cal.add(naive, 60),
        lambda: cal.between(naive, utc(2026, 6, 2)),
        lambda: cal.between(utc(2026, 6, 2), naive),
        lambda: cal.is_working_time(naive),
        lambda: cal.add_working_days(naive, 1),
        lambda: cal.add(utc(2026, 6, 1), 60, [(naive, None)]),
    ):
        with pytest.raises(ValueError, match="naive datetime"):
            call()
    with pytest.raises(CalendarError, match="aware datetime"):
        cal.add(date(2026, 6, 1), 60)
    with pytest.raises(CalendarError, match="pause 2: the start is required"):
        cal.add(utc(2026, 6, 1), 60, [(utc(2026, 6, 1), None), (None, utc(2026, 6, 2))])
    with pytest.raises(CalendarError, match="pause 1: expected a \\(from, to\\) pair"):
        cal.between(utc(2026, 6, 1), utc(2026, 6, 2), ["soon"])
    with pytest.raises(CalendarError, match="seconds must be a number"):
        cal.add(utc(2026, 6, 1), "60")
    # Pauses may come from any iterable.
    lunch = ((utc(2026, 6, 1, 9), utc(2026, 6, 1, 10)) for _ in range(2))
    assert cal.between(utc(2026, 6, 1), utc(2026, 6, 2), lunch) == 7 * H
    assert cal.is_working_day(local(BERLIN, 2026, 6, 1, 23, 30))
    assert not cal.is_working_day(utc(2026, 6, 6, 22, 30))  # Sunday 00:30 in Berlin
    assert cal.weekly_seconds == 5 * 8 * H


def test_calendar_without_hours():
    cal = BusinessCalendar("Europe/Berlin", {"mon": []}, None)
    assert cal.between(utc(2026, 1, 1), utc(2027, 1, 1)) == 0
    assert not cal.is_working_time(utc(2026, 1, 5, 10))
    assert not cal.is_working_day(date(2026, 1, 5))
    for seconds in (60, -60, 0):
        with pytest.raises(ValueError, match="no working hours"):
            cal.add(utc(2026, 1, 1), seconds)
    with pytest.raises(ValueError, match="no working hours"):
        cal.add_working_days(utc(2026, 1, 1), 1)
    assert BusinessCalendar().between(utc(2026, 1, 1), utc(2027, 1, 1)) == 0


def test_a_calendar_that_is_always_on_holiday_gives_up():
    leap_year = date(2028, 1, 1)
    everything = [(d.month, d.day) for d in (leap_year + timedelta(n) for n in range(366))]
    cal = BusinessCalendar("UTC", OFFICE, {"recurring": everything})
    with pytest.raises(ValueError, match="200 years"):
        cal.add(utc(2026, 1, 1), 60)
    with pytest.raises(ValueError, match="200 years"):
        cal.add(utc(2026, 1, 1), -60)
    with pytest.raises(ValueError, match="200 years"):
        cal.add_working_days(utc(2026, 1, 1), 1)
    assert cal.between(utc(2026, 1, 1), utc(2027, 1, 1)) == 0


# --- validation -------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("kwargs", "field", "key", "message"),
    [
        ({"timezone": "Mars/Olympus"}, "timezone", None, "unknown time zone 'Mars/Olympus'"),
        ({"timezone": ""}, "timezone", None, "IANA zone name"),
        ({"timezone": UTC}, "timezone", None, "IANA zone name"),
        ({"weekly_hours": {"mon": [("8am", "17:00")]}}, "weekly_hours", "mon", "'8am'"),
        ({"weekly_hours": {"tue": [("08:00", "25:00")]}}, "weekly_hours", "tue", "'25:00'"),
        ({"weekly_hours": {"tue": [("08:60", "12:00")]}}, "weekly_hours", "tue", "'08:60'"),
        ({"weekly_hours": {"wed": [("24:00", "24:00")]}}, "weekly_hours", "wed", "24:00"),
        (
            {"weekly_hours": {"thu": [("08:00", "12:00"), ("17:00", "09:00")]}},
            "weekly_hours",
            "thu",
            r"thu, interval 2 \(17:00–09:00\) ends before it starts",
        ),
        (
            {"weekly_hours": {"fri": [("09:00", "09:00")]}},
            "weekly_hours",
            "fri",
            r"fri, interval 1 \(09:00–09:00\) is empty",
        ),
        (
            {"weekly_hours": {"sat": [("13:00", "17:00"), ("08:00", "14:00")]}},
            "weekly_hours",
            "sat",
            r"sat, intervals 1 \(13:00–17:00\) and 2 \(08:00–14:00\) overlap",
        ),
        ({"weekly_hours": {"mo": []}}, "weekly_hours", None, "unknown weekday 'mo'"),
        ({"weekly_hours": {"mon": [], "Monday": []}}, "weekly_hours", "mon", "twice"),
        ({"weekly_hours": {"sun": "08:00-17:00"}}, "weekly_hours", "sun", "list of"),
        ({"weekly_hours": {"sun": [("08:00",)]}}, "weekly_hours", "sun", "pair"),
        ({"weekly_hours": [("08:00", "17:00")]}, "weekly_hours", None, "mapping"),
        (
            {"holidays": {"ranges": [(date(2026, 8, 14), date(2026, 8, 3))]}},
            "holidays",
            "ranges",
            "ranges item 1: ends \\(2026-08-03\\) before it starts \\(2026-08-14\\)",
        ),
        ({"holidays": {"recurring": [(13, 1)]}}, "holidays", "recurring", r"\(13, 1\)"),
        ({"holidays": {"recurring": [(2, 30)]}}, "holidays", "recurring", r"\(2, 30\)"),
        ({"holidays": {"recurring": ["Christmas"]}}, "holidays", "recurring", "Christmas"),
        ({"holidays": {"dates": ["2026-02-30"]}}, "holidays", "dates", "dates item 1"),
        ({"holidays": {"dates": [utc(2026, 1, 1)]}}, "holidays", "dates", "not a date"),
        ({"holidays": {"easter": []}}, "holidays", None, "unknown kind 'easter'"),
    ],
)
def test_validation(kwargs, field, key, message):
    with pytest.raises(CalendarError, match=message) as caught:
        BusinessCalendar(**kwargs)
    assert caught.value.field == field
    assert caught.value.key == key
    assert isinstance(caught.value, ValueError)


def test_valid_definitions_in_other_spellings():
    cal = BusinessCalendar(
        " Europe/Berlin ",
        {"Monday": [[time(8), "12:00"]], "TUE": None, "sun": []},
        {"dates": [], "recurring": ["1-1"], "ranges": [["2026-08-03", "2026-08-04"]]},
    )
    assert cal.weekly_hours["mon"] == [("08:00", "12:00")]
    assert not cal.is_working_day(date(2029, 1, 1))
    assert repr(cal) == "<BusinessCalendar Europe/Berlin 4 h/week>"


# --- holidays from the holidays package ---------------------------------------------------
def test_holidays_from_package():
    bavaria = holidays_from_package("DE", years=range(2026, 2029), subdiv="BY")
    germany = holidays_from_package("DE", years=2026)
    assert date(2026, 1, 6) in bavaria  # Epiphany: Bavaria, not all of Germany
    assert date(2026, 1, 6) not in germany
    assert date(2028, 12, 25) in bavaria
    assert bavaria == sorted(bavaria) and {d.year for d in bavaria} == {2026, 2027, 2028}
    cal = BusinessCalendar("Europe/Berlin", OFFICE, {"dates": bavaria})
    assert not cal.is_working_day(date(2026, 1, 6))
    assert holidays_from_package("de", years=2026, subdiv="by") == [
        d for d in bavaria if d.year == 2026
    ]
    with pytest.raises(CalendarError, match="country 'XX'") as caught:
        holidays_from_package("XX", years=[2026])
    assert caught.value.field == "holidays"
    with pytest.raises(CalendarError, match="DE has no subdivision 'ZZ'") as caught:
        holidays_from_package("DE", years=[2026], subdiv="ZZ")
    assert caught.value.field == "holidays"
    assert holidays_from_package("DE", years=[]) == []
