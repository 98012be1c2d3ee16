"""Concurrent writers through the real stack: optimistic locking and reference numbers.

Each test runs real threads, each with its own database connection, against committed
data (hence ``transaction=True``). They must pass on SQLite (WAL, BEGIN IMMEDIATE,
busy timeout) and on PostgreSQL alike: a loser gets a clean 409, never a 500 or
"database is locked", and nothing is lost or duplicated.
"""

import random
import threading
import time

import pytest
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from rest_framework.test import APIClient

from accord.core.context import acting_as
from accord.core.models import ObjectChange
from accord.incidents.actions import log_ticket
from accord.incidents.models import Incident
from accord.users.models import ApiToken

pytestmark = pytest.mark.django_db(transaction=True)

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
