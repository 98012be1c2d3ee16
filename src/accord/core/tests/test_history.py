"""The change log: every way a record is written (web page, API, background job, CLI)
leaves one ObjectChange row naming the actor and the channel, with each changed
field's before and after value; creates list the initial values."""

import datetime

import pytest
from django.contrib.contenttypes.models import ContentType
from django.urls import reverse
from django.utils import timezone

from accord import cli
from accord.core import history
from accord.core.context import acting_as, current_actor
from accord.core.models import JournalEntry, ObjectChange
from accord.core.testing import form_data
from accord.incidents import actions
from accord.incidents.models import DeskSettings, Incident
from accord.incidents.tasks import close_resolved_records
from accord.organizations.models import Customer
from accord.users.testing import api_client_for

pytestmark = pytest.mark.django_db


def changes_of(record, action=None):
    rows = ObjectChange.objects.filter(
        content_type=ContentType.objects.get_for_model(type(record)), object_id=record.pk
    ).order_by("id")
    return list(rows.filter(action=action) if action else rows)


def events_of(record):
    return list(
        JournalEntry.objects.filter(
            content_type=ContentType.objects.get_for_model(type(record)),
            object_id=record.pk,
            kind=JournalEntry.Kind.EVENT,
        ).order_by("id")
    )


api = api_client_for


def resolved_incident(make_incident, user, resolved_days_ago):
    incident = make_incident(user=user)
    with acting_as(user, "test"):
        actions.transition(incident, user, "start", expected_version=incident.version)
        actions.transition(
            incident,
            user,
            "resolve",
            expected_version=incident.version,
            resolution_code="solved",
            resolution_notes="Restarted the mail server.",
        )
    Incident.objects.filter(pk=incident.pk).update(
        resolved_at=timezone.now() - datetime.timedelta(days=resolved_days_ago)
    )
    return Incident.objects.get(pk=incident.pk)


# --- web ---------------------------------------------------------------------------
def test_web_edit_records_the_user_and_each_field_before_and_after(client, world, make_incident):
    incident = make_incident()
    client.force_login(world.agent_a)
    url = reverse("incidents:edit", args=[incident.pk])
    page = client.get(url)
    assert page.status_code == 200
    data = form_data(page.context["form"])
    assert data["version"] == 1
    data.update(short_description="Mail is slow", impact=1)

    response = client.post(url, data)

    assert response.status_code == 302, response.content.decode()[:500]
    incident.refresh_from_db()
    assert (incident.short_description, incident.impact, incident.version) == ("Mail is slow", 1, 2)
    [row] = changes_of(incident, "update")
    assert row.via == "web"
    assert row.actor_id == world.agent_a.pk
    assert row.actor_label == "agent_a"
    # Field by field, before and after; the priority follows the matrix (2 x 2 -> 1 x 2).
    assert row.changes == {
        "short_description": ["Mail is down", "Mail is slow"],
        "impact": [2, 1],
        "priority": [3, 2],
    }


def test_web_record_page_action_records_the_user(client, world, make_incident):
    incident = make_incident()
    client.force_login(world.agent_a)
    response = client.post(
        reverse("incidents:action", args=[incident.pk, "assign_me"]), {"version": 1}
    )
    assert response.status_code == 302
    [row] = changes_of(incident, "update")
    assert (row.via, row.actor_id) == ("web", world.agent_a.pk)
    assert row.changes["assignee"] == [None, world.agent_a.pk]
    assert row.changes["assignment_team"] == [None, world.team_a.pk]
    assert row.changes["status"] == ["new", "assigned"]


# --- API ---------------------------------------------------------------------------
def test_api_create_lists_the_initial_values(world):
    response = api(world.agent_a).post(
        "/api/incidents/",
        {
            "customer": world.customer_a.pk,
            "service": world.service.pk,
            "short_description": "VPN drops",
            "impact": 1,
            "urgency": 1,
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    incident = Incident.objects.get(pk=response.json()["id"])
    [row] = changes_of(incident)
    assert row.action == "create"
    assert (row.via, row.actor_id, row.actor_label) == ("api", world.agent_a.pk, "agent_a")
    values = row.changes
    assert values["number"] == incident.number
    assert values["short_description"] == "VPN drops"
    assert values["customer"] == world.customer_a.pk
    assert values["service"] == world.service.pk
    assert values["caller"] == world.agent_a.pk
    assert (values["impact"], values["urgency"], values["priority"]) == (1, 1, 1)
    assert values["status"] == "new"
    # Empty values are left out; bookkeeping columns are not "values".
    assert "description" not in values and "assignee" not in values
    assert not {"id", "version", "created", "updated"} & values.keys()


def test_api_update_records_the_token_user(world, make_incident):
    incident = make_incident()
    client = api(world.agent_a)
    response = client.patch(
        f"/api/incidents/{incident.pk}/",
        {"description": "Outlook cannot connect", "version": 1},
        format="json",
    )
    assert response.status_code == 200, response.json()
    [row] = changes_of(incident, "update")
    assert (row.via, row.actor_id) == ("api", world.agent_a.pk)
    assert row.changes == {"description": ["", "Outlook cannot connect"]}
    # The API's own history endpoint shows the same row.
    history = client.get(f"/api/incidents/{incident.pk}/history/").json()
    assert history[0]["via"] == "api"
    assert history[0]["changes"] == row.changes
    assert history[-1]["action"] == "create"


# --- background job -------------------------------------------------------------------
def test_auto_close_job_records_its_name_and_is_idempotent(world, make_incident):
    desk = DeskSettings.get()  # the one row, seeded by a migration
    desk.auto_close_days = 3
    with acting_as(world.admin, "test"):
        desk.save()
    due = resolved_incident(make_incident, world.agent_a, resolved_days_ago=4)
    recent = resolved_incident(make_incident, world.agent_a, resolved_days_ago=2)
    assert current_actor().via == "system"

    assert close_resolved_records.call_local() == 1

    due.refresh_from_db()
    recent.refresh_from_db()
    assert due.status == "closed" and due.closed_at is not None
    assert recent.status == "resolved"  # not yet past the desk's three days
    row = changes_of(due, "update")[-1]
    assert row.via == "job:auto-close"
    assert row.actor_id is None and row.actor_label == "job:auto-close"
    assert row.changes["status"] == ["resolved", "closed"]
    assert "closed_at" in row.changes
    closing = [e for e in events_of(due) if "Closed automatically" in e.body]
    assert len(closing) == 1
    assert closing[0].author_id is None and closing[0].author_label == "job:auto-close"
    assert closing[0].customer_visible
    # The job's actor does not leak out of the job.
    assert current_actor().via == "system"

    # Again: nothing more is due, so nothing more is closed, logged or journalled.
    updates, events = len(changes_of(due, "update")), len(events_of(due))
    assert close_resolved_records.call_local() == 0
    assert len(changes_of(due, "update")) == updates
    assert len(events_of(due)) == events
    assert changes_of(recent)[-1].via != "job:auto-close"


# --- command line --------------------------------------------------------------------
# A management command closes every connection when it ends, which a test transaction
# would not survive: this test commits for real.
@pytest.mark.django_db(transaction=True)
def test_cli_writes_are_attributed_to_the_cli(world, capsys):
    code = (
        "from accord.core.context import current_actor\n"
        "from accord.organizations.models import Customer\n"
        "Customer.objects.create(name='Gamma GmbH', code='gamma')\n"
        "print('via=' + current_actor().via)\n"
    )
    cli.main(["shell", "--no-imports", "-c", code])

    assert "via=cli" in capsys.readouterr().out
    customer = Customer.objects.get(code="gamma")
    [row] = changes_of(customer)
    assert (row.action, row.via, row.actor_id, row.actor_label) == ("create", "cli", None, "cli")
    assert row.changes["name"] == "Gamma GmbH"
    assert current_actor().via == "system"


def test_acting_as_names_the_actor_of_direct_saves(world):
    customer = world.customer_a
    with acting_as(world.admin, "cli"):
        customer.description = "Key account"
        customer.save()
    with acting_as(None, "job:nightly"):
        customer.active = False
        customer.save()
    first, second = changes_of(customer, "update")
    assert (first.via, first.actor_id, first.changes) == (
        "cli",
        world.admin.pk,
        {"description": ["", "Key account"]},
    )
    assert (second.via, second.actor_id, second.actor_label) == (
        "job:nightly",
        None,
        "job:nightly",
    )
    assert second.changes == {"active": [True, False]}


def test_a_save_without_changes_writes_no_history(world, make_incident):
    incident = make_incident()
    before = len(changes_of(incident))
    with acting_as(world.agent_a, "test"):
        incident.save()
    assert len(changes_of(incident)) == before
    assert Incident.objects.get(pk=incident.pk).version == 1


def test_a_change_of_named_values_reads_key_by_key(world):
    from accord.cmdb import actions as cmdb_actions
    from accord.cmdb.models import CIType, ConfigurationItem
    from accord.cmdb.testing import ensure_starting_types

    ensure_starting_types()
    with acting_as(world.admin, "test"):
        ci = cmdb_actions.save_ci(
            ConfigurationItem(
                name="mail-app",
                ci_type=CIType.objects.get(key="application"),
                attributes={"version": "1.9", "vendor": "Acme"},
            )
        )
        ci.attributes = {"version": "2.0", "vendor": "Acme"}
        cmdb_actions.save_ci(ci)
    [update] = history.describe(ConfigurationItem, changes_of(ci, "update"))
    assert update.rows == [("attributes › version", "1.9", "2.0")]
    [create] = history.describe(ConfigurationItem, changes_of(ci, "create"))
    assert ("attributes › vendor", "—", "Acme") in create.rows
