"""The problem management reports on a small known dataset, as different users see
them, on the page and as CSV; refused parameters."""

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from accord.core.context import acting_as
from accord.problems import actions, reports
from accord.problems.choices import KnownErrorStatus, Status
from accord.problems.models import KnownError, KnownErrorUse, Problem

NOW = datetime.datetime(2026, 6, 15, 12, 0, tzinfo=datetime.UTC)


def at(days_before):
    return NOW - datetime.timedelta(days=days_before)


@pytest.fixture
def problem(world):
    def make(*, customers=(), impact=2, urgency=2, **changes):
        with acting_as(world.admin, "test"):
            made = actions.create_problem(
                world.admin,
                {"short_description": "p", "impact": impact, "urgency": urgency},
                customers=customers,
            )
        if changes:
            Problem.objects.filter(pk=made.pk).update(**changes)
        return made

    return make


@pytest.fixture
def known_error(world):
    def make(services=(), customers=(), status=KnownErrorStatus.OPEN):
        known = KnownError(short_description="k", symptoms="s", workaround="w", status=status)
        with acting_as(world.admin, "test"):
            actions.save_known_error(known, world.admin, services=services, customers=customers)
        return known

    return make


def rows(table):
    return {row[0]: row[1:] for row in table.rows}


def test_open_problems_by_age_and_priority(world, problem):
    problem(created=at(2))  # P3, under a week
    problem(created=at(40))  # P3, 1 to 3 months
    problem(impact=1, urgency=1, created=at(400))  # P1, over a year
    problem(created=at(3), status=Status.CLOSED, is_open=False)
    problem(customers=[world.customer_b], impact=3, urgency=3, created=at(10))  # P5, Beta's

    table = reports.open_by_age(world.admin, now=NOW)
    assert table.columns[1:] == ["P1", "P2", "P3", "P4", "P5", "Total"]
    by_band = rows(table)
    assert by_band["Under a week"] == [0, 0, 1, 0, 0, 1]
    assert by_band["1 week to 1 month"] == [0, 0, 0, 0, 1, 1]
    assert by_band["1 to 3 months"] == [0, 0, 1, 0, 0, 1]
    assert by_band["Over a year"] == [1, 0, 0, 0, 0, 1]
    assert table.total == ["Total", 1, 0, 2, 0, 1, 4]
    # Agent A serves Alpha only: Beta's problem is not counted.
    assert reports.open_by_age(world.agent_a, now=NOW).total == ["Total", 1, 0, 2, 0, 0, 3]


def test_known_errors_by_service(world, known_error):
    known_error(services=[world.service])
    known_error(services=[world.service, world.service_b_only], status=KnownErrorStatus.FIXED)
    known_error(status=KnownErrorStatus.RETIRED)
    known_error(services=[world.service_b_only], customers=[world.customer_b])

    table = reports.known_errors_by_service(world.admin)
    assert table.columns == ["Service", "Open (workaround in use)", "Fixed", "Retired", "Total"]
    assert table.rows == [
        ["Beta ERP", 1, 1, 0, 2],
        ["Email", 1, 1, 0, 2],
        ["No service", 0, 0, 1, 1],
    ]
    assert table.total == ["All known errors", 2, 1, 1, 4]
    mine = reports.known_errors_by_service(world.agent_a)
    assert rows(mine)["Beta ERP"] == [0, 1, 0, 1]
    assert mine.total == ["All known errors", 1, 1, 1, 3]


def test_incidents_served_by_known_errors_per_month(world, known_error, make_incident):
    first, second = known_error(), known_error()
    alpha = [make_incident() for _ in range(2)]
    beta = make_incident(customer=world.customer_b)
    uses = [
        (first, alpha[0], NOW.replace(day=2)),
        (second, alpha[0], NOW.replace(day=3)),  # the same incident again
        (first, alpha[1], NOW.replace(month=4, day=20)),
        (first, beta, NOW.replace(day=5)),
        (second, alpha[1], NOW.replace(year=2025, month=1, day=5)),  # before the range
    ]
    for known, incident, when in uses:
        KnownErrorUse.objects.create(known_error=known, incident=incident, applied_at=when)
    table = reports.workaround_uses_by_month(world.admin, months=3, now=NOW)
    assert table.rows == [["2026-04", 1, 1], ["2026-05", 0, 0], ["2026-06", 3, 2]]
    assert table.total == ["Total", 4, 3]
    mine = reports.workaround_uses_by_month(world.agent_a, months=3, now=NOW)
    assert mine.rows == [["2026-04", 1, 1], ["2026-05", 0, 0], ["2026-06", 2, 1]]
    assert mine.total == ["Total", 3, 2]


def test_problems_resolved_per_month(world, problem):
    problem(resolved_at=NOW.replace(day=1, hour=0, minute=5))
    problem(resolved_at=NOW.replace(month=5, day=31, hour=23))
    problem(resolved_at=NOW.replace(month=5, day=2), customers=[world.customer_b])
    problem(resolved_at=NOW.replace(year=2025))  # a year ago: out of range
    problem()  # not resolved
    table = reports.resolved_by_month(world.admin, months=2, now=NOW)
    assert table.rows == [["2026-05", 2], ["2026-06", 1]]
    assert table.total == ["Total", 3]
    assert reports.resolved_by_month(world.agent_a, months=2, now=NOW).rows == [
        ["2026-05", 1],
        ["2026-06", 1],
    ]


def test_mean_time_to_root_cause(world, problem):
    logged = NOW.replace(day=1)
    problem(created=logged, root_cause_at=logged + datetime.timedelta(days=2))
    problem(created=logged, root_cause_at=logged + datetime.timedelta(days=4))
    problem(created=logged, root_cause_at=logged + datetime.timedelta(days=9))
    may = NOW.replace(month=5, day=1)
    problem(created=may, root_cause_at=may + datetime.timedelta(hours=12))
    problem(
        created=may, root_cause_at=may + datetime.timedelta(days=30), customers=[world.customer_b]
    )
    problem(created=logged)  # no root cause yet
    table = reports.time_to_root_cause(world.admin, months=2, now=NOW)
    assert table.rows == [["2026-05", 2, 15.2, 15.2], ["2026-06", 3, 5.0, 4.0]]
    assert table.total == ["All 2 months", 5, 9.1, 4.0]
    mine = reports.time_to_root_cause(world.agent_a, months=2, now=NOW)
    assert mine.rows == [["2026-05", 1, 0.5, 0.5], ["2026-06", 3, 5.0, 4.0]]
    empty = reports.time_to_root_cause(world.agent_a, months=1, now=NOW.replace(year=2020))
    assert empty.rows == [["2020-06", 0, "—", "—"]]


def test_months_are_checked():
    assert reports.check_months("") == 12
    assert reports.check_months("24") == 24
    for bad in ("0", "121", "twelve", "-1"):
        with pytest.raises(Exception) as exc:
            reports.check_months(bad)
        assert "Months" in exc.value.message_dict["months"][0]


def test_the_page_csv_and_bad_input(world, problem, client):
    problem(created=timezone.now() - datetime.timedelta(days=1))
    problem(customers=[world.customer_b])
    client.force_login(world.agent_a)
    page = client.get(reverse("problems:reports"))
    assert page.status_code == 200
    body = page.content.decode()
    for key in reports.REPORTS:
        assert f'data-report="{key}"' in body
    csv = client.get(reverse("problems:reports"), {"export": "open_by_age"})
    assert csv.status_code == 200 and csv["Content-Type"].startswith("text/csv")
    text = b"".join(csv.streaming_content).decode()
    assert "Age,P1,P2,P3,P4,P5,Total" in text
    assert "Total,0,0,1,0,0,1" in text  # Beta's problem is not agent A's
    monthly = client.get(reverse("problems:reports"), {"export": "resolved_by_month", "months": 3})
    assert len(b"".join(monthly.streaming_content).decode().strip().splitlines()) == 1 + 3 + 1
    bad = client.get(reverse("problems:reports"), {"months": "0"})
    assert bad.status_code == 400
    assert "Months: enter a whole number from 1 to 120." in bad.content.decode()
    unknown = client.get(reverse("problems:reports"), {"export": "nope"})
    assert unknown.status_code == 400 and "Export: there is no report" in unknown.content.decode()
    client.force_login(world.customer_user_a)
    assert client.get(reverse("problems:reports")).status_code == 403
