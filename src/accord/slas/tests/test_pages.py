"""Agreement, calendar and compliance pages: forms refuse bad input naming the field,
the record page explains its clocks, the report counts only what the user may see."""

import csv
import datetime
import io

import pytest
from django.urls import reverse

from accord.calendars.models import Calendar
from accord.core.context import acting_as
from accord.core.testing import form_data
from accord.slas import clocks
from accord.slas.forms import AgreementForm
from accord.slas.models import Agreement
from accord.slas.tasks import check_clocks

pytestmark = pytest.mark.django_db


def calendar_post(**changes):
    data = {
        "name": "Berlin office",
        "description": "",
        "time_zone": "Europe/Berlin",
        "hours_mon": "08:00-12:00, 13:00-17:00",
        "hours_tue": "08:00-17:00",
        "hours_wed": "08:00-17:00",
        "hours_thu": "08:00-17:00",
        "hours_fri": "08:00-15:00",
        "hours_sat": "",
        "hours_sun": "",
        "holidays_text": "2026-12-24 Christmas Eve\n12-25 Christmas Day\n"
        "2026-08-03..2026-08-14 Summer shutdown",
    }
    data.update(changes)
    return data


def test_a_calendar_is_created_from_the_form(client, world):
    client.force_login(world.admin)
    r = client.post(reverse("calendars:calendar_create"), calendar_post())
    assert r.status_code == 302, r.content.decode()[:2000]
    cal = Calendar.objects.get(name="Berlin office")
    assert cal.weekly_hours["mon"] == [["08:00", "12:00"], ["13:00", "17:00"]]
    assert cal.holidays["recurring"] == [[12, 25]]
    assert cal.holidays["names"]["2026-12-24"] == "Christmas Eve"
    page = client.get(cal.get_absolute_url()).content.decode()
    assert "Summer shutdown" in page and "13:00–17:00" in page


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"hours_mon": "08:00-12:00, 11:00-14:00"}, "hours_mon", "overlap"),
        ({"hours_tue": "17:00-08:00"}, "hours_tue", ""),
        ({"hours_wed": "eight to five"}, "hours_wed", "not an interval"),
        ({"time_zone": "Mars/Olympus"}, "time_zone", ""),
        (
            {"holidays_text": "2026-12-24\n2026-08-14..2026-08-03 Shutdown"},
            "holidays_text",
            "Line 2",
        ),
        ({"holidays_text": "13-45 Nonsense"}, "holidays_text", "Line 1"),
        ({"import_country": "ZZ", "import_years": "2026"}, "import_country", ""),
        ({"import_country": "DE", "import_years": "soon"}, "import_years", ""),
    ],
)
def test_a_bad_calendar_is_refused_naming_the_field(client, world, change, field, words):
    client.force_login(world.admin)
    r = client.post(reverse("calendars:calendar_create"), calendar_post(**change))
    assert r.status_code == 400
    errors = r.context["form"].errors
    assert field in errors, errors
    assert words in " ".join(errors[field])
    assert not Calendar.objects.filter(name="Berlin office").exists()


def test_public_holidays_are_added_from_the_package(client, world):
    client.force_login(world.admin)
    r = client.post(
        reverse("calendars:calendar_create"),
        calendar_post(import_country="DE", import_subdivision="BY", import_years="2026-2027"),
    )
    assert r.status_code == 302
    cal = Calendar.objects.get(name="Berlin office")
    assert "2026-10-03" in cal.holidays["dates"]  # German Unity Day
    assert "2027-01-06" in cal.holidays["dates"]  # Epiphany, in Bavaria


def agreement_post(world, calendar, **changes):
    form = AgreementForm()
    data = {
        k: v
        for k, v in form_data(form).items()
        if not k.startswith("target_") and k not in ("services", "supports")
    }
    data.update(
        {
            "kind": "sla",
            "name": "Alpha silver",
            "customer": world.customer_a.pk,
            "calendar": calendar.pk,
            "status": "agreed",
            "valid_from": "2026-01-01",
            "response_event": "assignment",
            "warning_percents": "75, 90",
            "pause_statuses": ["pending_customer"],
            "target_response_1": "30m",
            "target_resolution_1": "4h",
            "target_resolution_3": "1:30",
            "escalations-TOTAL_FORMS": "0",
            "escalations-INITIAL_FORMS": "0",
        }
    )
    data.update(changes)
    return data


def test_an_agreement_is_saved_with_its_targets(client, world, always):
    client.force_login(world.admin)
    r = client.post(reverse("slas:agreement_create"), agreement_post(world, always))
    assert r.status_code == 302, r.context and (
        r.context["form"].errors,
        r.context["formset"].errors,
    )
    agreement = Agreement.objects.get(name="Alpha silver")
    got = {(t.metric, t.priority): t.seconds for t in agreement.targets.all()}
    assert got == {("response", 1): 1800, ("resolution", 1): 14400, ("resolution", 3): 5400}
    page = client.get(agreement.get_absolute_url()).content.decode()
    assert "1h 30m" in page and "30m" in page
    assert "Pending customer" in page  # the clock pauses while pending customer


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"target_resolution_1": "soon"}, "target_resolution_1"),
        ({"target_response_2": "10"}, None),  # 10 h is fine
        ({"warning_percents": "75, 120"}, "warning_percents"),
        ({"kind": "sla", "customer": ""}, "customer"),
        ({"valid_to": "2025-01-01"}, "valid_to"),
        ({"kind": "ola", "customer": "", "team": ""}, "team"),
    ],
)
def test_a_bad_agreement_is_refused_naming_the_field(client, world, always, change, field):
    client.force_login(world.admin)
    r = client.post(reverse("slas:agreement_create"), agreement_post(world, always, **change))
    if field is None:
        assert r.status_code == 302
        return
    assert r.status_code == 400
    assert field in r.context["form"].errors, r.context["form"].errors
    assert not Agreement.objects.filter(name="Alpha silver").exists()


def test_an_agreement_without_targets_is_refused(client, world, always):
    client.force_login(world.admin)
    data = agreement_post(world, always)
    for key in list(data):
        if key.startswith("target_"):
            data[key] = ""
    r = client.post(reverse("slas:agreement_create"), data)
    assert r.status_code == 400
    assert "target" in " ".join(r.context["form"].non_field_errors())
    assert not Agreement.objects.filter(name="Alpha silver").exists()


def test_only_administrators_and_owners_edit_agreements(client, world, sla):
    for user, status in ((world.agent_a, 403), (world.auditor, 403), (world.owner, 200)):
        client.force_login(user)
        assert client.get(reverse("slas:agreement_edit", args=[sla.pk])).status_code == status


def test_the_record_page_shows_its_clocks(client, world, sla, make_incident):
    incident = make_incident()
    client.force_login(world.agent_a)
    page = client.get(incident.get_absolute_url()).content.decode()
    assert "Service levels" in page and "Alpha gold" in page
    assert "How this deadline was reached" in page
    other = make_incident(customer=world.customer_b)
    client.force_login(world.agent_b)
    page = client.get(other.get_absolute_url()).content.decode()
    assert "No agreement covers this record" in page


def test_the_queue_shows_and_sorts_by_due(client, world, sla, make_incident):
    first = make_incident(short_description="First logged")
    second = make_incident(short_description="Second logged")
    client.force_login(world.agent_a)
    r = client.get(reverse("incidents:queue"), {"queue": "open", "sort": "sla_due"})
    assert r.status_code == 200
    rows = [row.pk for row in r.context["rows"]]
    assert rows.index(first.pk) < rows.index(second.pk)
    assert "Due" in r.content.decode()


def test_compliance_counts_only_what_the_user_serves(client, world, sla, always, make_incident):
    with_b = Agreement(
        name="Beta basic",
        customer=world.customer_b,
        calendar=always,
        status="agreed",
        valid_from="2020-01-01",
    )
    with acting_as(world.admin, "test"):
        with_b.save()
    with_b.targets.create(priority=3, metric="resolution", seconds=3600)
    a = make_incident()
    make_incident(customer=world.customer_b)
    breach = clocks.clocks_of(a).get(metric="resolution").started_at
    check_clocks(now=breach + datetime.timedelta(hours=5))
    client.force_login(world.agent_a)
    r = client.get(reverse("slas:compliance"), {"by": "agreement"})
    names = [row["name"] for row in r.context["table"]]
    assert names == ["Alpha gold"]
    assert r.context["totals"]["breached"] == 2  # response and resolution
    r = client.get(reverse("slas:compliance"), {"by": "customer", "export": "csv"})
    rows = list(csv.reader(io.StringIO(b"".join(r.streaming_content).decode("utf-8-sig"))))
    assert [row[0] for row in rows[1:]] == ["Alpha Ltd"]
    client.force_login(world.admin)
    r = client.get(reverse("slas:compliance"), {"by": "customer"})
    assert [row["name"] for row in r.context["table"]] == ["Alpha Ltd", "Beta plc"]
    client.force_login(world.customer_user_a)
    assert client.get(reverse("slas:compliance")).status_code == 403


def test_calendar_pages_are_for_staff(client, world, always):
    client.force_login(world.customer_user_a)
    for url in (reverse("calendars:calendar_list"), always.get_absolute_url()):
        assert client.get(url).status_code == 403
    client.force_login(world.agent_a)
    assert client.get(always.get_absolute_url()).status_code == 200
    client.logout()
    assert client.get(reverse("calendars:calendar_list")).status_code == 302
