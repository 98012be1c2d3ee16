"""Concurrent writers through the real stack: optimistic locking and reference numbers.

Each test runs real threads, each with its own database connection, against committed
data (hence ``transaction=True``). They must pass on SQLite (WAL, BEGIN IMMEDIATE,
busy timeout) and on PostgreSQL alike: a loser gets a clean 409, never a 500 or
"database is locked", and nothing is lost or duplicated.
"""

import datetime
import random
import threading
import time

import pytest
from django.contrib.contenttypes.models import ContentType
from django.db import connection, transaction
from django.utils import timezone
from rest_framework.test import APIClient

from accord.core import history
from accord.core.context import acting_as
from accord.core.models import JournalEntry, ObjectChange
from accord.incidents.actions import log_ticket, transition
from accord.incidents.models import Incident
from accord.incidents.tasks import close_resolved_records
from accord.organizations.models import Customer
from accord.users.models import ApiToken

pytestmark = [
    pytest.mark.django_db(transaction=True),
    # One worker runs them one after another: two of them at once on two workers
    # would open about 100 PostgreSQL connections, the server's default limit.
    pytest.mark.xdist_group("concurrency"),
]

THREADS = 50


def run_threads(count, target, timeout=60):
    """Run ``target(i)`` in ``count`` threads started together; return the results in
    order. Every thread closes its own connection; any exception fails the test."""
    barrier = threading.Barrier(count)
    results = [None] * count
    errors = []

    def body(i):
        try:
            barrier.wait(timeout=timeout)
            results[i] = target(i)
        except BaseException as exc:  # reported below, in the test's thread
            errors.append((i, repr(exc)))
        finally:
            connection.close()

    threads = [threading.Thread(target=body, args=(i,), daemon=True) for i in range(count)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + timeout
    for t in threads:
        t.join(max(0.1, deadline - time.monotonic()))
    assert not any(t.is_alive() for t in threads), "threads still running after the timeout"
    assert not errors, errors[:5]
    return results


def api_client(key):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def update_rows(incident):
    return ObjectChange.objects.filter(
        content_type=ContentType.objects.get_for_model(Incident),
        object_id=incident.pk,
        action="update",
    )


def body_of(response):
    return response.content.decode(errors="replace")[:300]


def test_fifty_patches_with_the_same_version_one_wins(world, make_incident):
    incident = make_incident()
    assert incident.version == 1
    _token, key = ApiToken.issue(world.agent_a, "race")
    url = f"/api/incidents/{incident.pk}/"

    def patch(i):
        response = api_client(key).patch(
            url, {"short_description": f"Writer {i}", "version": 1}, format="json"
        )
        return response.status_code, body_of(response)

    results = run_threads(THREADS, patch)

    statuses = [status for status, _body in results]
    assert all(status in (200, 409) for status in statuses), [
        r for r in results if r[0] not in (200, 409)
    ][:3]
    assert not any("locked" in body for _status, body in results)
    assert statuses.count(200) == 1
    assert statuses.count(409) == THREADS - 1
    winner = statuses.index(200)
    incident = Incident.objects.get(pk=incident.pk)
    assert incident.short_description == f"Writer {winner}"
    assert incident.version == 2
    rows = list(update_rows(incident))
    assert len(rows) == 1
    assert rows[0].changes["short_description"] == ["Mail is down", f"Writer {winner}"]
    assert rows[0].via == "api"
    assert rows[0].actor_id == world.agent_a.pk


def test_fifty_writers_that_retry_lose_no_update(world, make_incident):
    incident = make_incident()
    _token, key = ApiToken.issue(world.agent_a, "retry")
    url = f"/api/incidents/{incident.pk}/"

    def write_until_applied(i):
        client = api_client(key)
        rng = random.Random(i)
        for attempt in range(1, 101):
            read = client.get(url)
            assert read.status_code == 200, body_of(read)
            response = client.patch(
                url,
                {"short_description": f"Writer {i}", "version": read.json()["version"]},
                format="json",
            )
            if response.status_code == 200:
                return attempt
            assert response.status_code == 409, (response.status_code, body_of(response))
            assert response.json()["code"] == "stale_version"
            # Back off a little, so the writers do not all collide again at once.
            time.sleep(rng.uniform(0, 0.02 * 2 ** min(attempt, 5)))
        raise AssertionError(f"writer {i} gave up after {attempt} attempts")

    run_threads(THREADS, write_until_applied, timeout=120)

    incident = Incident.objects.get(pk=incident.pk)
    assert incident.version == 1 + THREADS
    rows = list(update_rows(incident).order_by("id"))
    assert len(rows) == THREADS
    written = [row.changes["short_description"][1] for row in rows]
    assert sorted(written) == sorted(f"Writer {i}" for i in range(THREADS))
    # Each update started from the value the one before it wrote: a chain, no gaps.
    befores = [row.changes["short_description"][0] for row in rows]
    assert befores == ["Mail is down", *written[:-1]]
    assert incident.short_description == written[-1]


def test_concurrent_creates_get_distinct_reference_numbers(world):
    threads, per_thread = 8, 25
    data = {"customer": world.customer_a, "short_description": "Parallel", "impact": 3}

    def create_many(i):
        numbers = []
        with acting_as(world.agent_a, "test"):
            for n in range(per_thread):
                ticket = log_ticket(
                    Incident, world.agent_a, {**data, "description": f"thread {i} #{n}"}
                )
                numbers.append(ticket.number)
        return numbers

    results = run_threads(threads, create_many)

    numbers = [number for chunk in results for number in chunk]
    assert len(numbers) == threads * per_thread
    assert len(set(numbers)) == threads * per_thread
    assert all(number.startswith("INC") and len(number) == 10 for number in numbers)
    assert Incident.objects.filter(short_description="Parallel").count() == threads * per_thread
    assert set(Incident.objects.values_list("number", flat=True)) == set(numbers)
    # Each thread's own numbers rise: the allocator never hands back an older one.
    for chunk in results:
        assert chunk == sorted(chunk)


# --- the auto-close job ------------------------------------------------------------------
def resolve_long_ago(incident, user, days=30):
    with acting_as(user, "test"):
        transition(incident, user, "start", expected_version=incident.version)
        transition(
            incident,
            user,
            "resolve",
            expected_version=incident.version,
            resolution_code="solved",
            resolution_notes="Fixed.",
        )
    Incident.objects.filter(pk=incident.pk).update(
        resolved_at=timezone.now() - datetime.timedelta(days=days)
    )


def test_overlapping_auto_close_runs_close_each_record_once(world, make_incident):
    incidents = [make_incident() for _ in range(5)]
    for incident in incidents:
        resolve_long_ago(incident, world.agent_a)

    closed = run_threads(6, lambda i: close_resolved_records.call_local())

    assert sum(closed) == len(incidents)
    assert not Incident.objects.exclude(status="closed").exists()
    by_job = ObjectChange.objects.filter(via="job:auto-close")
    assert sorted(by_job.values_list("object_id", flat=True)) == sorted(i.pk for i in incidents)
    closing = JournalEntry.objects.filter(body__startswith="Closed automatically")
    assert sorted(closing.values_list("object_id", flat=True)) == sorted(i.pk for i in incidents)


def test_a_long_auto_close_run_survives_other_writers(world, make_incident, monkeypatch):
    """More due records than one fetch of the job's query (2,000), and someone else
    writes while the job works through them: on SQLite the job's open read cursor
    pinned an old snapshot, so its next write failed with "database is locked"."""
    template = make_incident()
    resolve_long_ago(template, world.agent_a)
    template = Incident.objects.get(pk=template.pk)
    fields = {
        f.attname: getattr(template, f.attname)
        for f in Incident._meta.concrete_fields
        if f.attname not in ("id", "number")
    }
    Incident.objects.bulk_create(
        [Incident(**fields, number=f"INC9{n:06d}") for n in range(2100)], batch_size=500
    )

    class Enough(Exception):
        pass

    real_event = history.event
    calls, writer_errors = [], []

    def other_writer():
        try:
            with acting_as(world.admin, "web"):
                Customer.objects.create(name="Meanwhile Inc", code="meanwhile")
        except Exception as exc:
            writer_errors.append(repr(exc))
        finally:
            connection.close()

    def another_request_writes():
        thread = threading.Thread(target=other_writer)
        thread.start()
        thread.join(60)

    def event_then_a_concurrent_write(*args, **kwargs):
        entry = real_event(*args, **kwargs)
        calls.append(entry)
        if len(calls) == 1:
            # Once the job has committed its first record, another request writes.
            transaction.on_commit(another_request_writes)
        if len(calls) == 5:
            raise Enough  # the job went on writing after the other writer: enough seen
        return entry

    monkeypatch.setattr(history, "event", event_then_a_concurrent_write)
    with pytest.raises(Enough):
        close_resolved_records.call_local()
    assert not writer_errors
    assert Customer.objects.filter(code="meanwhile").exists()
    assert Incident.objects.filter(status="closed").count() == 4
