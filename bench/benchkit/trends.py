"""The trend analysis job over the bench's incidents, timed.

python -m benchkit.trends --setup setup.json [--window 90] [--wide 3650] prints JSON.

Runs on the incidents ``benchkit.generate`` made (one every 150 s, so 1M incidents
span about 4.75 years and a 90-day window holds about 52,000). It first gives the
last year's incidents what a real desk's have and the generator leaves out:

* a category (a two-level tree; each subject of the generated descriptions belongs
  to one category, one incident in ten has none);
* a configuration item for 40% of them (400 CIs, twenty per subject, named on the
  incidents through CMDB links, as the incident page does);
* a problem for 5% of them (300 problems; those incidents drop out of the analysis).

Then it records a run as the trend page does and times
``accord.problems.trends.run_trends`` — what the worker runs — in this process, for
the ``--window`` (the target) and again for ``--wide`` days (every incident), and
times the trend page for an administrator and for an agent who serves two of the
three customers (in-process, django.test.Client: the first request, then the median
of 5).
"""

import argparse
import datetime as dt
import json
import os
import random
import resource
import statistics
import time

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "accord.settings")
os.environ.setdefault("ACCORD_ALLOWED_HOSTS", "127.0.0.1,localhost,testserver")

import django  # noqa: E402

django.setup()

from django.contrib.contenttypes.models import ContentType  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.test import Client  # noqa: E402
from django.utils import timezone  # noqa: E402

from accord.cmdb.models import CILink, CIType, ConfigurationItem  # noqa: E402
from accord.core.context import acting_as  # noqa: E402
from accord.core.rows import insert_rows  # noqa: E402
from accord.incidents.models import Category, Incident  # noqa: E402
from accord.problems import trends  # noqa: E402
from accord.problems.models import Problem, ProblemIncident, TrendCluster, TrendRun  # noqa: E402
from accord.users.models import User  # noqa: E402

from .generate import SUBJECTS  # noqa: E402

BATCH = 5000
HISTORY_DAYS = 365
CIS_PER_SUBJECT = 20
CI_SHARE = 0.4
PROBLEM_SHARE = 0.05
PROBLEMS = 300
# Subject of the generated descriptions -> (category, subcategory).
CATEGORY_OF = {
    "VPN client": ("Network", "Remote access"),
    "Outlook mailbox": ("Software", "Email"),
    "Printer on floor 3": ("Hardware", "Printers"),
    "ERP invoice run": ("Software", "Business applications"),
    "Wi-Fi in meeting room": ("Network", "Wireless"),
    "Laptop docking station": ("Hardware", "Laptops"),
    "Shared drive": ("Infrastructure", "File storage"),
    "Teams meeting audio": ("Software", "Collaboration"),
    "Password reset portal": ("Access", "Passwords"),
    "Payroll export": ("Software", "Business applications"),
    "Warehouse scanner": ("Hardware", "Handhelds"),
    "Website checkout": ("Software", "Web shop"),
    "Nightly backup job": ("Infrastructure", "Backup"),
    "Desk phone": ("Hardware", "Telephony"),
    "CRM dashboard": ("Software", "Business applications"),
    "Label printer": ("Hardware", "Printers"),
    "Badge reader": ("Access", "Physical access"),
    "Intranet search": ("Software", "Web shop"),
    "Expense app": ("Software", "Business applications"),
    "Database replica": ("Infrastructure", "Databases"),
}


def _categories():
    out = {}
    with acting_as(None, "bench"):
        for subject, (top, sub) in CATEGORY_OF.items():
            parent, _new = Category.objects.get_or_create(name=top, parent=None)
            child = Category.objects.filter(name=sub, parent=parent).first()
            if child is None:
                child = Category(name=sub, parent=parent)
                child.save()
            out[subject] = child.pk
    return out


def add_categories(since):
    """One UPDATE: each incident of the last year gets its subject's category."""
    ids = _categories()
    cases, params = [], []
    for subject, pk in ids.items():
        cases.append("WHEN short_description LIKE %s THEN %s")
        params += [subject + " %", pk]
    table = Incident._meta.db_table
    sql = (
        f'UPDATE "{table}" SET category_id = CASE {" ".join(cases)} ELSE NULL END '  # noqa: S608
        "WHERE created >= %s AND id %% 10 <> 0"
    )
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, [*params, since])
        return cursor.rowcount


def add_cis(setup, since, rng):
    """400 CIs (20 per subject) and a CMDB link from 40% of the last year's incidents
    to one CI of their subject."""
    server = CIType.objects.filter(key="server").first() or CIType.objects.first()
    now = timezone.now()
    start = ConfigurationItem.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    rows = []
    for s, subject in enumerate(SUBJECTS):
        for k in range(CIS_PER_SUBJECT):
            slug = "".join(ch for ch in subject.lower() if ch.isalnum())[:12]
            rows.append(
                {
                    "name": f"{slug}-{k:02d}",
                    "ci_type_id": server.pk,
                    "status": "live",
                    "criticality": 1 + (s + k) % 4,
                    "owner_id": None,
                    "location_id": None,
                    "description": "",
                    "serial": f"TR{s:02d}{k:04d}",
                    "asset_tag": "",
                    "external_key": f"trend-bench-{s}-{k}",
                    "installed_on": None,
                    "warranty_end": None,
                    "retire_by": None,
                    "attributes": {},
                    "created": now,
                    "updated": now,
                    "version": 1,
                }
            )
    with transaction.atomic():
        insert_rows(ConfigurationItem, rows)
    made = list(
        ConfigurationItem.objects.filter(pk__gt=start).order_by("pk").values_list("pk", flat=True)
    )
    by_subject = {
        subject: made[i * CIS_PER_SUBJECT : (i + 1) * CIS_PER_SUBJECT]
        for i, subject in enumerate(SUBJECTS)
    }
    ct = ContentType.objects.get_for_model(Incident).pk
    incidents = (
        Incident.objects.filter(created__gte=since)
        .order_by("pk")
        .values_list("pk", "short_description")
    )
    links, count = [], 0
    with transaction.atomic():
        for pk, text in incidents.iterator(chunk_size=BATCH):
            if rng.random() >= CI_SHARE:
                continue
            subject = next((s for s in SUBJECTS if text.startswith(s)), SUBJECTS[0])
            # A few CIs of each subject fail far more often than the others.
            pool = by_subject[subject]
            ci = pool[min(int(rng.expovariate(0.5)), len(pool) - 1)]
            links.append(
                {
                    "ci_id": ci,
                    "content_type_id": ct,
                    "object_id": pk,
                    "created": now,
                    "created_by_id": None,
                }
            )
            if len(links) == BATCH:
                insert_rows(CILink, links)
                count += len(links)
                links = []
        if links:
            insert_rows(CILink, links)
            count += len(links)
    return len(made), count


def add_problems(since, rng):
    """300 problems, and 5% of the last year's incidents linked to one of them."""
    now = timezone.now()
    with acting_as(None, "bench"):
        made = []
        for i in range(PROBLEMS):
            problem = Problem(short_description=f"Bench problem {i}", impact=2, urgency=2)
            problem.priority = 3
            problem.save()
            made.append(problem.pk)
    ids = Incident.objects.filter(created__gte=since).order_by("pk").values_list("pk", flat=True)
    rows, count = [], 0
    with transaction.atomic():
        for pk in ids.iterator(chunk_size=BATCH):
            if rng.random() >= PROBLEM_SHARE:
                continue
            rows.append(
                {
                    "problem_id": rng.choice(made),
                    "incident_id": pk,
                    "linked_at": now,
                    "linked_by_id": None,
                }
            )
            if len(rows) == BATCH:
                insert_rows(ProblemIncident, rows)
                count += len(rows)
                rows = []
        if rows:
            insert_rows(ProblemIncident, rows)
            count += len(rows)
    return count


def analyse_statistics():
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            for model in (Incident, CILink, ProblemIncident):
                cursor.execute(f'VACUUM ANALYZE "{model._meta.db_table}"')
        else:
            from accord.core.tasks import refresh_sqlite_statistics

            refresh_sqlite_statistics()


def timed_run(window_days, min_count=trends.DEFAULT_MIN_COUNT):
    now = timezone.now()
    run = TrendRun.objects.create(
        window_days=window_days,
        min_count=min_count,
        since=now - dt.timedelta(days=window_days),
        until=now,
        created=now,
    )
    t0 = time.perf_counter()
    cpu0 = time.process_time()
    done = trends.run_trends(run.pk)
    seconds = time.perf_counter() - t0
    cpu = time.process_time() - cpu0
    assert done.state == TrendRun.State.DONE, done.error
    per_kind = {}
    for kind in TrendCluster.objects.filter(run=done).values_list("kind", flat=True):
        per_kind[kind] = per_kind.get(kind, 0) + 1
    top = (
        TrendCluster.objects.filter(run=done)
        .order_by("-count", "-impact_score")
        .values_list("kind", "label", "count", "impact_score")[:5]
    )
    return {
        "window_days": window_days,
        "seconds": round(seconds, 2),
        "cpu_s": round(cpu, 2),
        "incidents_scanned": done.incidents_scanned,
        "clusters_stored": sum(per_kind.values()),
        "clusters_stored_per_kind": per_kind,
        "top": [list(t) for t in top],
        "run": done.pk,
    }


def time_page(username, run_id, requests=5):
    """(first, median of the next ``requests``) ms of the trend page for a user: the
    first works out the user's part of each cluster, the others find it cached."""
    client = Client()
    client.force_login(User.objects.get(username=username))
    url = f"/problems/trends/?run={run_id}"
    client.get("/problems/reports/")  # the process's first page (templates, URLs)
    t0 = time.perf_counter()
    response = client.get(url)
    first = (time.perf_counter() - t0) * 1000
    assert response.status_code == 200, response.status_code
    times = []
    for _ in range(requests):
        t0 = time.perf_counter()
        client.get(url)
        times.append((time.perf_counter() - t0) * 1000)
    return [round(first, 1), round(statistics.median(times), 1)]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--setup", required=True)
    parser.add_argument("--window", type=int, default=90)
    parser.add_argument("--wide", type=int, default=3650, help="0 to skip")
    args = parser.parse_args()
    with open(args.setup) as fh:
        setup = json.load(fh)
    rng = random.Random(20261126)
    since = timezone.now() - dt.timedelta(days=HISTORY_DAYS)
    t0 = time.perf_counter()
    if ConfigurationItem.objects.filter(external_key="trend-bench-0-0").exists():
        # Made by an earlier run on this database (--keep): time the job again only.
        categorised = Incident.objects.filter(created__gte=since, category__isnull=False).count()
        cis = ConfigurationItem.objects.filter(external_key__startswith="trend-bench-").count()
        ci_links, problem_links = CILink.objects.count(), ProblemIncident.objects.count()
    else:
        categorised = add_categories(since)
        cis, ci_links = add_cis(setup, since, rng)
        problem_links = add_problems(since, rng)
        analyse_statistics()
    made_s = time.perf_counter() - t0
    result = {
        "vendor": connection.vendor,
        "incidents": Incident.objects.count(),
        "made_s": round(made_s, 1),
        "categorised": categorised,
        "cis": cis,
        "ci_links": ci_links,
        "problem_links": problem_links,
        "target": timed_run(args.window),
    }
    result["page_ms"] = {
        "admin": time_page("bench-admin", result["target"]["run"]),
        "agent": time_page("bench-agent", result["target"]["run"]),
    }
    if args.wide:
        result["wide"] = timed_run(args.wide)
    result["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
