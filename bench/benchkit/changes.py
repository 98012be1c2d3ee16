"""Change conflict detection over a large CMDB and schedule, and the schedule's
iCalendar feed.

python -m benchkit.changes --setup setup.json [--cis 100000] [--links 300000]
                           [--changes 20000] [--feed-changes 2000] [--runs 30]
prints JSON.

Generates the CMDB as the ``cmdb`` part does (``benchkit.cmdb.generate``: ``cis``
configuration items, ``links`` "depends on" relationships), then writes straight
into the tables (``insert_many``: COPY on PostgreSQL):

* ``changes`` changes holding their slots over next quarter (91 days from the first
  day of the next quarter): submitted to implementing, 1 to 6 hours long (one in
  twenty over a weekend, up to 48 hours), each on 1 to 5 CIs (CMDB links), nine in
  ten for one of the three bench customers;
* ``feed_changes`` changes over this quarter, as a schedule has them: those already
  past implemented or closed, the rest planned, each with a service, a team, 1 or 2
  CIs and a description of a few lines (commas, semicolons, accents: what the feed
  must escape and fold);
* the change whose conflicts are timed: 50 CIs (five of them touched by changes in
  its slot, the rest anywhere in the CMDB), two services (one with a maintenance
  window on the bench's business-hours calendar), and three blackout windows, one
  over its weekend slot.

Then, after the process has loaded its impact graph (timed on its own), times
``accord.changes.conflicts.find(change)`` 30 times for a 4-hour slot and for a
48-hour weekend slot (what ``actions.refresh_conflicts`` runs when a change is
submitted or moved; the graph search run afresh each time), the change's page, and
``GET /changes/schedule.ics`` (this quarter by default) through django.test.Client
as the administrator (token in the Authorization header) and as an agent who serves
two of the three customers (token in the address), checking that the icalendar
package parses the feed and counting its events; and the schedule's month page.
"""

import argparse
import datetime as dt
import json
import os
import random
import statistics
import time

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "accord.settings")
os.environ.setdefault("ACCORD_ALLOWED_HOSTS", "127.0.0.1,localhost,testserver")

import django  # noqa: E402

django.setup()

from django.contrib.contenttypes.models import ContentType  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.test import Client  # noqa: E402
from django.urls import NoReverseMatch, reverse  # noqa: E402
from django.utils import timezone  # noqa: E402

from accord.calendars.models import Calendar  # noqa: E402
from accord.changes import conflicts  # noqa: E402
from accord.changes.choices import SCHEDULED_STATUSES, Status  # noqa: E402
from accord.changes.models import BlackoutWindow, Change, MaintenanceWindow  # noqa: E402
from accord.changes.views_schedule import quarter_of  # noqa: E402
from accord.cmdb import graph  # noqa: E402
from accord.cmdb.models import CILink  # noqa: E402
from accord.core.rows import insert_many  # noqa: E402
from accord.users.models import User  # noqa: E402
from benchkit.cmdb import generate as generate_cmdb  # noqa: E402

BATCH = 5000
HOUR = dt.timedelta(hours=1)
DAY = dt.timedelta(days=1)
TARGET_CIS = 50
TEXT = (
    "Rolling upgrade of the nodes, one at a time; traffic drained first, checked after, "
    "and put back. Owner: Müller (network), café-floor switch included.\n"
    "Rollback: restore the previous image, then re-enable the pool."
)


def _defaults():
    """A Change row with every column (the model's defaults) for insert_many."""
    row = {}
    for field in Change._meta.concrete_fields:
        if field.primary_key:
            continue
        row[field.attname] = field.get_default()
    return row


def _advance_sequence(last):
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT setval('accord_ref_chg', %s)", [last])
        else:
            cursor.execute(
                "INSERT INTO core_referencesequence (prefix, last_value) VALUES ('CHG', %s) "
                "ON CONFLICT (prefix) DO UPDATE SET last_value = excluded.last_value",
                [last],
            )


class Writer:
    """Changes and their links and many-to-many rows, written in batches."""

    def __init__(self, setup):
        self.setup = setup
        self.admin_id = setup["users"]["admin"]
        self.number = Change.objects.count()
        self.base = _defaults()
        self.now = timezone.now()
        self.change_ct = ContentType.objects.get_for_model(Change).pk
        self.rows, self.cis, self.customers, self.services = [], [], [], []
        self.made = 0

    def add(self, **fields):
        self.number += 1
        number = f"CHG{self.number:07d}"
        row = dict(self.base)
        row.update(
            number=number,
            created=self.now,
            updated=self.now,
            version=1,
            requester_id=self.admin_id,
            reason="Planned maintenance",
            implementation_plan="Drain, upgrade, check, enable.",
            backout_plan="Restore the previous image.",
        )
        cis = fields.pop("cis", ())
        customer = fields.pop("customer", None)
        service = fields.pop("service", None)
        row.update(fields)
        row["is_open"] = row["status"] not in (Status.CLOSED, Status.CANCELLED, Status.REJECTED)
        self.rows.append(row)
        self.cis.append((number, cis))
        self.customers.append((number, customer))
        self.services.append((number, service))
        if len(self.rows) >= BATCH:
            self.flush()
        return number

    def flush(self):
        if not self.rows:
            return
        with transaction.atomic():
            insert_many(Change, self.rows)
            ids = dict(
                Change.objects.filter(number__in=[r["number"] for r in self.rows]).values_list(
                    "number", "pk"
                )
            )
            links = [
                {
                    "ci_id": ci,
                    "content_type_id": self.change_ct,
                    "object_id": ids[number],
                    "created": self.now,
                    "created_by_id": None,
                }
                for number, cis in self.cis
                for ci in cis
            ]
            for start in range(0, len(links), BATCH):
                insert_many(CILink, links[start : start + BATCH])
            through = Change.customers.through
            through.objects.bulk_create(
                [through(change_id=ids[n], customer_id=c) for n, c in self.customers if c],
                batch_size=BATCH,
            )
            through = Change.services.through
            through.objects.bulk_create(
                [through(change_id=ids[n], service_id=s) for n, s in self.services if s],
                batch_size=BATCH,
            )
        self.made += len(self.rows)
        self.rows, self.cis, self.customers, self.services = [], [], [], []


def make_schedule(setup, ci_ids, count, feed_count, rng):
    """The scheduled changes of next quarter and this quarter's feed changes."""
    writer = Writer(setup)
    customers = setup["customers"]
    teams = list(setup["teams"].values())
    today = timezone.localdate()
    first, after = quarter_of(today)
    next_start = timezone.make_aware(dt.datetime.combine(after, dt.time.min))
    span = 91 * 24 * 4  # quarter hours in 91 days
    statuses = list(SCHEDULED_STATUSES)
    for i in range(count):
        start = next_start + dt.timedelta(minutes=15 * rng.randrange(span))
        hours = rng.randint(1, 6) if i % 20 else rng.randint(24, 48)
        writer.add(
            short_description=f"Planned maintenance {i}",
            kind="normal" if i % 10 else ("standard" if i % 20 else "emergency"),
            status=statuses[i % len(statuses)],
            planned_start=start,
            planned_end=start + hours * HOUR,
            submitted_at=start - 14 * DAY,
            assignment_team_id=teams[i % len(teams)],
            cis=rng.sample(ci_ids, rng.randint(1, 5)),
            customer=None if i % 10 == 0 else customers[i % len(customers)],
        )
    quarter_start = timezone.make_aware(dt.datetime.combine(first, dt.time.min))
    quarter_end = timezone.make_aware(dt.datetime.combine(after, dt.time.min))
    minutes = int((quarter_end - quarter_start).total_seconds() // 900) - 8 * 4
    now = timezone.now()
    for i in range(feed_count):
        start = quarter_start + dt.timedelta(minutes=15 * rng.randrange(minutes))
        end = start + rng.randint(1, 6) * HOUR
        past = end < now
        fields = {
            "status": (Status.CLOSED if i % 3 else Status.IMPLEMENTED)
            if past
            else (Status.SCHEDULED if i % 2 else Status.AWAITING_APPROVAL),
        }
        if past:
            fields.update(actual_start=start, actual_end=end, outcome="successful")
        writer.add(
            short_description=f"Upgrade node {i:04d}, cluster {i % 7}; after patch day",
            description=TEXT,
            kind="normal" if i % 10 else "emergency",
            risk_class=("low", "medium", "high")[i % 3],
            planned_start=start,
            planned_end=end,
            submitted_at=start - 10 * DAY,
            assignment_team_id=teams[i % len(teams)],
            cis=rng.sample(ci_ids, rng.randint(1, 2)),
            customer=None if i % 10 == 0 else customers[i % len(customers)],
            service=setup["services"][i % len(setup["services"])],
            **fields,
        )
    writer.flush()
    _advance_sequence(writer.number)
    return writer, next_start


def make_target(setup, ci_ids, next_start, rng):
    """The change whose conflicts are timed, and the windows it meets."""
    slot = next_start + 45 * DAY + 10 * HOUR  # a weekday morning mid-quarter
    # Five CIs that changes in its slot touch; the rest anywhere.
    ct = ContentType.objects.get_for_model(Change)
    busy = list(
        CILink.objects.filter(
            content_type=ct,
            object_id__in=Change.objects.filter(
                status__in=SCHEDULED_STATUSES,
                planned_start__lt=slot + 4 * HOUR,
                planned_end__gt=slot,
            ).values("pk"),
        ).values_list("ci_id", flat=True)[:5]
    )
    chosen = list(dict.fromkeys(busy))
    while len(chosen) < TARGET_CIS:
        ci = rng.choice(ci_ids)
        if ci not in chosen:
            chosen.append(ci)
    writer = Writer(setup)
    number = writer.add(
        short_description="Database cluster upgrade",
        kind="normal",
        status=Status.SUBMITTED,
        planned_start=slot,
        planned_end=slot + 4 * HOUR,
        submitted_at=timezone.now(),
        assignment_team_id=setup["teams"]["desk"],
        cis=chosen,
        customer=setup["customers"][0],
        service=setup["services"][0],
    )
    writer.flush()
    _advance_sequence(writer.number)
    change = Change.objects.get(number=number)
    change.services.add(setup["services"][1])
    MaintenanceWindow.objects.create(
        service_id=setup["services"][0], calendar=Calendar.objects.get(pk=setup["calendar"])
    )
    saturday = slot + dt.timedelta(days=(5 - slot.weekday()) % 7)
    weekend = saturday.replace(hour=0, minute=0)
    for name, start, length in (
        ("Quarter close", next_start + 80 * DAY, 3 * DAY),
        ("Payroll run", weekend + 6 * HOUR, 12 * HOUR),
        ("Sales campaign", next_start + 20 * DAY, 2 * DAY),
    ):
        window = BlackoutWindow(name=name, starts_at=start, ends_at=start + length)
        window.save()
    return change, weekend


def _analyse():
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            for table in (
                "changes_change",
                "changes_change_customers",
                "changes_change_services",
                "cmdb_cilink",
            ):
                cursor.execute(f"VACUUM ANALYZE {table}")
        else:
            from accord.core.tasks import refresh_sqlite_statistics

            refresh_sqlite_statistics()


# --- timing ----------------------------------------------------------------------
def _pct(values, q):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


class QueryLog:
    def __init__(self):
        self.queries = []

    def __call__(self, execute, sql, params, many, context):
        t0 = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            self.queries.append(((time.perf_counter() - t0) * 1000, sql))


def timed(fn, runs, warmup=3):
    for _ in range(warmup):
        result = fn()
    times, cpu = [], []
    for _ in range(runs):
        c0, t0 = time.process_time(), time.perf_counter()
        result = fn()
        times.append((time.perf_counter() - t0) * 1000)
        cpu.append((time.process_time() - c0) * 1000)
    log = QueryLog()
    with connection.execute_wrapper(log):
        fn()
    slowest = sorted(log.queries, reverse=True)[:3]
    return result, {
        "p50_ms": round(statistics.median(times), 2),
        "p95_ms": round(_pct(times, 0.95), 2),
        "max_ms": round(max(times), 2),
        # CPU of this process (SQLite's work included, PostgreSQL's server not): far
        # less disturbed than wall-clock time by other load on the machine.
        "cpu_p50_ms": round(statistics.median(cpu), 2),
        "queries": len(log.queries),
        "sql_ms": round(sum(t for t, _ in log.queries), 2),
        "slowest_sql": [{"ms": round(t, 2), "sql": sql[:300]} for t, sql in slowest],
    }


def time_conflicts(change, runs, start=None, end=None):
    def find():
        # Cold: the graph search run afresh each time, as for a change just moved
        # (the process keeps its last few searches until the graph changes).
        graph.current()._depth_cache.clear()
        return conflicts.find(change, start, end)

    found, out = timed(find, runs)
    kinds = {}
    for f in found:
        kinds[f.kind] = kinds.get(f.kind, 0) + 1
    out["conflicts"] = kinds
    return out


def time_get(client, path, runs, check=None):
    def get():
        response = client.get(path)
        if response.status_code != 200:
            raise SystemExit(
                f"GET {path} answered {response.status_code}: {response.content[:300]!r}"
            )
        return response

    response, out = timed(get, runs)
    out["bytes"] = len(response.content)
    if check:
        out.update(check(response))
    return out


def parse_feed(response):
    import icalendar

    parsed = icalendar.Calendar.from_ical(response.content)
    events = parsed.walk("VEVENT")
    return {
        "events": len(events),
        "change_events": sum(1 for e in events if str(e["UID"]).startswith("CHG")),
    }


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--setup", required=True)
    parser.add_argument("--cis", type=int, default=100_000)
    parser.add_argument("--links", type=int, default=300_000)
    parser.add_argument("--changes", type=int, default=20_000)
    parser.add_argument("--feed-changes", type=int, default=2_000)
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    with open(args.setup) as fh:
        setup = json.load(fh)
    rng = random.Random(20261126)
    out = {"vendor": connection.vendor, "cis": args.cis, "links": args.links}
    ci_ids, out["made_cis_s"], out["made_links_s"] = generate_cmdb(setup, args.cis, args.links, rng)
    t0 = time.perf_counter()
    writer, next_start = make_schedule(setup, ci_ids, args.changes, args.feed_changes, rng)
    change, weekend = make_target(setup, ci_ids, next_start, rng)
    _analyse()
    out["made_changes_s"] = round(time.perf_counter() - t0, 1)
    out["changes"] = Change.objects.count()
    out["scheduled_next_quarter"] = args.changes
    out["feed_quarter_changes"] = args.feed_changes
    out["change_ci_links"] = CILink.objects.filter(
        content_type=ContentType.objects.get_for_model(Change)
    ).count()
    out["target_cis"] = len(conflicts.change_ci_ids(change))

    graph.forget()
    t0 = time.perf_counter()
    loaded = graph.current()
    out["graph_load_s"] = round(time.perf_counter() - t0, 2)
    out["graph_nodes"] = loaded.graph.num_nodes()
    out["graph_edges"] = loaded.graph.num_edges()

    out["conflicts_slot"] = time_conflicts(change, args.runs)
    out["conflicts_weekend"] = time_conflicts(change, args.runs, weekend, weekend + 48 * HOUR)

    admin = User.objects.get(pk=setup["users"]["admin"])
    session = Client()
    session.force_login(admin)
    try:
        detail = reverse("changes:detail", args=[change.pk])
    except NoReverseMatch:
        detail = None
    if detail:
        out["detail_page"] = time_get(session, detail, args.runs)

    header = Client()
    header.defaults["HTTP_AUTHORIZATION"] = f"Token {setup['keys']['admin']}"
    feed = reverse("changes:schedule_ics")
    out["feed_admin"] = time_get(header, feed, args.runs, parse_feed)
    agent = Client()
    out["feed_agent"] = time_get(
        agent, f"{feed}?token={setup['keys']['agent']}", args.runs, parse_feed
    )
    month = timezone.localdate().replace(day=15).isoformat()
    out["schedule_month"] = time_get(
        session, f"{reverse('changes:schedule')}?view=month&date={month}", args.runs
    )
    print(json.dumps(out))


if __name__ == "__main__":
    main()
