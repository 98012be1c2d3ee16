"""Recomputing SLA clocks after a calendar edit (the worker's job), timed.

python -m benchkit.clocks --setup setup.json --count 100000 prints JSON. Gives
``count`` existing incidents a running resolution clock each (started over the last
30 days on the bench's business-hours calendar; some with a finished pause, some
paused now), edits the calendar through Accord (which records a recalculation run),
then times ``accord.slas.tasks.recalculate`` — what the worker runs — in this process.
"""

import argparse
import datetime as dt
import json
import os
import random
import time

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "accord.settings")

import django  # noqa: E402

django.setup()

from django.contrib.contenttypes.models import ContentType  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.utils import timezone  # noqa: E402

from accord.calendars.models import Calendar  # noqa: E402
from accord.core.context import acting_as  # noqa: E402
from accord.core.rows import insert_rows  # noqa: E402
from accord.incidents.models import Incident  # noqa: E402
from accord.slas import clocks  # noqa: E402
from accord.slas.models import Agreement, Clock, Recalculation  # noqa: E402
from accord.slas.tasks import recalculate  # noqa: E402

BATCH = 500


def make_clocks(setup, count, rng):
    calendar = Calendar.objects.get(pk=setup["calendar"])
    engine = calendar.calendar()
    agreement = Agreement.objects.filter(calendar=calendar).order_by("pk").first()
    ct = ContentType.objects.get_for_model(Incident)
    now = timezone.now()
    Clock.objects.filter(calendar=calendar).delete()
    rows = Incident.objects.order_by("pk").values_list(
        "pk", "number", "customer_id", "service_id", "priority"
    )[:count]
    fields = clocks.INSERT_FIELDS
    made = 0
    batch = []
    for pk, number, customer_id, service_id, priority in rows.iterator(chunk_size=5000):
        started = now - dt.timedelta(minutes=rng.randrange(1, 30 * 24 * 60))
        pauses, state = [], "running"
        if rng.random() < 0.3:
            a = started + (now - started) * rng.random() / 2
            pauses.append(
                [a.isoformat(), (a + dt.timedelta(hours=rng.randrange(1, 30))).isoformat()]
            )
        if rng.random() < 0.1:
            pauses.append([(now - dt.timedelta(minutes=5)).isoformat(), None])
            state = "paused"
        clock = Clock(
            content_type_id=ct.pk,
            object_id=pk,
            record_number=number,
            customer_id=customer_id,
            service_id=service_id,
            priority=priority,
            agreement=agreement,
            metric="resolution",
            calendar=calendar,
            target_seconds=8 * 3600,
            started_at=started,
            base_at=started,
            spent_before=0,
            pauses=pauses,
            state=state,
            alerts_sent=[],
            timeline=[
                {"at": started.isoformat(), "event": "started", "note": "", "deadline": None}
            ],
        )
        deadline = engine.add(started, 8 * 3600, clocks.pauses_of(clock))
        clock.deadline = deadline if state == "running" else None
        batch.append({f: getattr(clock, f) for f in fields})
        if len(batch) == BATCH:
            with transaction.atomic():
                insert_rows(Clock, batch)
            made += len(batch)
            batch = []
    if batch:
        with transaction.atomic():
            insert_rows(Clock, batch)
        made += len(batch)
    if connection.vendor == "postgresql":
        # The clocks of a real desk accrue over months with autovacuum keeping the
        # planner's statistics; loaded in one go here, they are analysed as it would.
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE slas_clock")
    return calendar, made


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--setup", required=True)
    parser.add_argument("--count", type=int, default=100_000)
    args = parser.parse_args()
    with open(args.setup) as fh:
        setup = json.load(fh)
    rng = random.Random(20261126)
    t0 = time.perf_counter()
    calendar, made = make_clocks(setup, args.count, rng)
    made_s = time.perf_counter() - t0
    # The edit an administrator makes: a shorter Friday. Through the model, so the
    # recalculation run is recorded exactly as from the calendar page.
    with acting_as(None, "bench"), transaction.atomic():
        calendar = Calendar.objects.get(pk=calendar.pk)
        old = {n: getattr(calendar, n) for n in ("time_zone", "weekly_hours", "holidays")}
        hours = dict(calendar.weekly_hours)
        hours["fri"] = [["08:00", "12:00"], ["13:00", "15:00"]]
        calendar.weekly_hours = hours
        calendar.save()
    run = Recalculation.objects.filter(calendar=calendar).first()
    t0 = time.perf_counter()
    done = recalculate(run.pk, old)
    seconds = time.perf_counter() - t0
    run.refresh_from_db()
    print(
        json.dumps(
            {
                "clocks": made,
                "made_s": round(made_s, 1),
                "recalculated": done,
                "seconds": round(seconds, 1),
                "per_second": round(done / seconds) if seconds else None,
                "progress_recorded": [run.done, run.total],
                "finished": run.finished_at is not None,
                "vendor": connection.vendor,
            }
        )
    )


if __name__ == "__main__":
    main()
