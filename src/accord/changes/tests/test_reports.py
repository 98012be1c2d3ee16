"""The change management reports on a small known dataset, as different users see
them, on the page and as CSV; refused parameters."""

import csv
import datetime
import io

import pytest
from django.contrib.contenttypes.models import ContentType

from accord.changes import actions, reports
from accord.changes.choices import Status
from accord.changes.models import Change, ChangeSettings
from accord.core.context import acting_as
from accord.incidents.models import Incident

UTC = datetime.UTC
NOW = datetime.datetime(2026, 6, 15, 12, 0, tzinfo=UTC)


def at(text):
    return datetime.datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.fixture
def made(world):
    """make(customers=(), cis=(), **fields): a change with the fields set as given."""

    def make(*, customers=(), cis=(), **fields):
        with acting_as(world.admin, "test"):
            change = actions.create_change(
                world.admin,
                {
                    "short_description": fields.pop("short_description", "Change"),
                    "reason": "r",
                    "implementation_plan": "i",
                    "backout_plan": "b",
                    "emergency_reason": "e",
                },
                customers=customers,
                cis=cis,
            )
        status = fields.get("status", Status.DRAFT)
        ended = (Status.CLOSED, Status.CANCELLED, Status.REJECTED)
        fields.setdefault("is_open", status not in ended)
        Change.objects.filter(pk=change.pk).update(**fields)
        change.refresh_from_db()
        return change

    return make


def implemented(made, kind, outcome, submitted, finished, *, closed=None, started=None, **kw):
    return made(
        kind=kind,
        outcome=outcome,
        submitted_at=at(submitted),
        actual_start=at(started) if started else at(finished) - datetime.timedelta(hours=2),
        actual_end=at(finished),
        closed_at=at(closed) if closed else None,
        status=Status.CLOSED if closed else Status.IMPLEMENTED,
        **kw,
    )


@pytest.fixture
def history(world, made):
    """April to June 2026 (and one change in January, outside three months)."""
    return {
        "a": implemented(
            made,
            "normal",
            "successful",
            "2026-05-30T12:00",
            "2026-06-02T12:00",
            closed="2026-06-04T12:00",
        ),
        "b": implemented(made, "emergency", "failed", "2026-06-09T12:00", "2026-06-10T12:00"),
        "c": implemented(made, "standard", "successful", "2026-05-01T00:00", "2026-05-05T00:00"),
        "d": implemented(
            made,
            "normal",
            "backed_out",
            "2026-04-10T00:00",
            "2026-04-20T00:00",
            customers=[world.customer_b],
        ),
        "e": implemented(made, "normal", "successful", "2026-01-01T00:00", "2026-01-10T00:00"),
    }


def rows(table):
    return {str(row[0]): row[1:] for row in table.rows}


def test_changes_by_kind_and_outcome_per_month(world, history):
    table = reports.by_month(world.admin, 3, now=NOW)
    assert table.columns == [
        "Month",
        "Standard",
        "Normal",
        "Emergency",
        "Successful",
        "Failed",
        "Backed out",
        "Total",
        "Success rate",
        "Emergency share",
    ]
    by_month = rows(table)
    assert list(by_month) == ["2026-04", "2026-05", "2026-06"]
    assert by_month["2026-04"] == [0, 1, 0, 0, 0, 1, 1, "0.0%", "0.0%"]
    assert by_month["2026-05"] == [1, 0, 0, 1, 0, 0, 1, "100.0%", "0.0%"]
    assert by_month["2026-06"] == [0, 1, 1, 1, 1, 0, 2, "50.0%", "50.0%"]
    assert table.total == ["Total", 1, 2, 1, 2, 1, 1, 4, "50.0%", "25.0%"]
    # Agent A serves Alpha only: Beta's backed-out change is not counted.
    mine = reports.by_month(world.agent_a, 3, now=NOW)
    assert rows(mine)["2026-04"] == [0, 0, 0, 0, 0, 0, 0, "—", "—"]
    assert mine.total == ["Total", 1, 1, 1, 2, 1, 0, 3, "66.7%", "33.3%"]


@pytest.fixture
def incidents_after(world, history, make_incident):
    """Change A (2026-06-02, 10:00 to 12:00) touched mail-relay; incidents on it and
    elsewhere, before, during and after."""
    from accord.cmdb import actions as cmdb_actions
    from accord.cmdb.models import CILink, CIType, ConfigurationItem

    with acting_as(world.admin, "test"):
        relay, other = (
            cmdb_actions.save_ci(
                ConfigurationItem(name=name, ci_type=CIType.objects.get(key="server"))
            )
            for name in ("mail-relay", "web-01")
        )
    CILink.objects.create(
        ci=relay,
        content_type=ContentType.objects.get_for_model(Change),
        object_id=history["a"].pk,
    )
    made = {}
    for key, customer, ci, when in [
        ("before", world.customer_a, relay, "2026-06-01T12:00"),
        ("during", world.customer_a, relay, "2026-06-02T11:00"),
        ("day_after", world.customer_a, relay, "2026-06-03T09:00"),
        ("beta", world.customer_b, relay, "2026-06-04T09:00"),
        ("elsewhere", world.customer_a, other, "2026-06-03T09:00"),
        ("ten_days", world.customer_a, relay, "2026-06-12T13:00"),
    ]:
        incident = make_incident(customer=customer)
        Incident.objects.filter(pk=incident.pk).update(created=at(when))
        with acting_as(world.admin, "test"):
            cmdb_actions.link_record(ci, incident, world.admin)
        made[key] = Incident.objects.get(pk=incident.pk)
    return made


def test_changes_followed_by_incidents_on_the_cis_they_touched(world, history, incidents_after):
    table = reports.caused_incidents(world.admin, 3, now=NOW)
    assert table.columns == [
        "Month",
        "Changes implemented",
        "Followed by incidents",
        "Share",
        "Incidents",
    ]
    assert "between the start of its implementation and 7 days after" in table.explanation
    # During the work, the day after, and Beta's: not the one before, nor elsewhere,
    # nor ten days later.
    assert rows(table)["2026-06"] == [2, 1, "50.0%", 3]
    assert table.total == ["Total", 4, 1, "25.0%", 3]
    listed = reports.caused_incident_list(world.admin, 3, now=NOW)
    (row,) = listed.rows
    assert str(row[0]) == history["a"].number and row[0].url == f"/changes/{history['a'].pk}/"
    expected = [incidents_after[k].number for k in ("during", "day_after", "beta")]
    assert row[5] == ", ".join(expected)
    # Agent A does not see Beta's incident.
    assert rows(reports.caused_incidents(world.agent_a, 3, now=NOW))["2026-06"] == [
        2,
        1,
        "50.0%",
        2,
    ]
    # A longer period (a change setting) catches the one ten days later.
    with acting_as(world.admin, "test"):
        settings = ChangeSettings(caused_incident_days=14)
        settings.save()
    assert rows(reports.caused_incidents(world.admin, 3, now=NOW))["2026-06"][3] == 4


def test_lead_time(world, history):
    table = reports.lead_time(world.admin, 3, now=NOW)
    assert table.columns == [
        "Month",
        "Changes",
        "Mean (days)",
        "Median (days)",
        "Standard (mean)",
        "Normal (mean)",
        "Emergency (mean)",
        "To closed (mean days)",
    ]
    by_month = rows(table)
    assert by_month["2026-06"] == [2, 2.0, 2.0, "—", 3.0, 1.0, 5.0]
    assert by_month["2026-05"] == [1, 4.0, 4.0, 4.0, "—", "—", "—"]
    assert by_month["2026-04"] == [1, 10.0, 10.0, "—", 10.0, "—", "—"]
    assert table.total == ["All 3 months", 4, 4.5, 3.5, 4.0, 6.5, 1.0, 5.0]
    assert reports.lead_time(world.agent_a, 3, now=NOW).total[1] == 3


def test_the_backlog_by_status_and_age(world, made):
    days = datetime.timedelta(days=1)
    made(status=Status.DRAFT, created=NOW - 2 * days)
    made(status=Status.SUBMITTED, created=NOW - 40 * days)
    made(status=Status.AWAITING_APPROVAL, created=NOW - 100 * days)
    made(status=Status.AWAITING_APPROVAL, created=NOW - 3 * days, customers=[world.customer_b])
    made(status=Status.CLOSED, created=NOW - 3 * days)
    table = reports.backlog(world.admin, now=NOW)
    assert table.columns == [
        "Status",
        "Under a week",
        "1 week to 1 month",
        "1 to 3 months",
        "Over 3 months",
        "Total",
    ]
    by_status = rows(table)
    assert list(by_status)[:4] == ["Draft", "Submitted", "Assessed", "Awaiting approval"]
    assert "Closed" not in by_status
    assert by_status["Draft"] == [1, 0, 0, 0, 1]
    assert by_status["Submitted"] == [0, 0, 1, 0, 1]
    assert by_status["Awaiting approval"] == [1, 0, 0, 1, 2]
    assert table.total == ["Total", 2, 0, 1, 1, 4]
    assert reports.backlog(world.agent_a, now=NOW).total == ["Total", 1, 0, 1, 1, 3]


def test_the_page_and_its_csv(client, world, history):
    client.force_login(world.agent_a)
    response = client.get("/changes/reports/")
    assert response.status_code == 200
    html = response.content.decode()
    for title in (
        "Changes implemented per month, by kind and outcome",
        "Changes followed by incidents",
        "Lead time",
        "Backlog: open changes by status and age",
    ):
        assert title in html
    assert "between the start of its implementation and 7 days after it finished" in html
    response = client.get("/changes/reports/?export=by_month&months=120")
    assert response.status_code == 200
    assert response["Content-Disposition"] == 'attachment; filename="changes-by_month.csv"'
    table = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))
    assert table[0][0] == "Month" and len(table) == 1 + 120 + 1
    assert table[-1][:2] == ["Total", "1"]  # agent A: standard C only
    assert table[-1][7] == "4"  # A, B, C and January's E; not Beta's D


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("months=0", "Months: enter a whole number from 1 to 120."),
        ("months=abc", "Months: enter a whole number from 1 to 120."),
        ("export=nothing", "export: there is no report “nothing”."),
    ],
)
def test_bad_parameters_are_refused_naming_them(client, world, query, message):
    client.force_login(world.admin)
    response = client.get(f"/changes/reports/?{query}")
    assert response.status_code == 400
    assert message in response.content.decode()


def test_customers_may_not_see_the_reports(client, world):
    client.force_login(world.customer_user_a)
    assert client.get("/changes/reports/").status_code == 403
