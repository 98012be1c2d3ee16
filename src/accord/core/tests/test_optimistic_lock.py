"""Optimistic locking on the pages: a write made against a version someone else has
since replaced is refused with a clear message, nothing is overwritten, and what the
user typed is still on the page."""

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from accord.core.context import acting_as
from accord.core.testing import form_data
from accord.incidents import actions
from accord.incidents.models import Incident
from accord.users.testing import api_client_for

pytestmark = pytest.mark.django_db

STALE_FORM = "Someone else changed this record while you were editing"
STALE_ACTION = "Someone else changed this record since you opened it"


def someone_else_edits(incident, user, **changes):
    with acting_as(user, "test"):
        actions.update_ticket(
            Incident.objects.get(pk=incident.pk), user, changes, expected_version=incident.version
        )
    return Incident.objects.get(pk=incident.pk)


def test_stale_edit_form_is_refused_and_keeps_the_users_input(client, world, make_incident):
    incident = make_incident()
    client.force_login(world.agent_a)
    url = reverse("incidents:edit", args=[incident.pk])
    data = form_data(client.get(url).context["form"])
    assert data["version"] == 1
    # While the agent edits, the manager changes the record.
    current = someone_else_edits(incident, world.manager_a, description="Manager's notes")
    assert current.version == 2

    data.update(short_description="Agent's title", workaround="Use webmail meanwhile")
    response = client.post(url, data)

    assert response.status_code == 409
    html = response.content.decode()
    assert STALE_FORM in html
    assert "were not saved" in html
    form = response.context["form"]
    assert form.stale
    assert form["short_description"].value() == "Agent's title"
    assert form["workaround"].value() == "Use webmail meanwhile"
    assert 'value="Agent&#x27;s title"' in html
    assert "Use webmail meanwhile" in html
    # The manager's change stands; nothing of the agent's was written.
    stored = Incident.objects.get(pk=incident.pk)
    assert stored.version == 2
    assert stored.short_description == "Mail is down"
    assert stored.workaround == ""
    assert stored.description == "Manager's notes"

    # Against the current version the same edit goes through.
    data["version"] = 2
    data["description"] = "Manager's notes"
    response = client.post(url, data)
    assert response.status_code == 302
    stored = Incident.objects.get(pk=incident.pk)
    assert (stored.version, stored.short_description) == (3, "Agent's title")
    assert stored.description == "Manager's notes"


def test_stale_edit_that_repeats_the_current_values_is_still_refused(client, world, make_incident):
    """Even when the stale form's values happen to match what is stored now."""
    incident = make_incident()
    client.force_login(world.agent_a)
    url = reverse("incidents:edit", args=[incident.pk])
    data = form_data(client.get(url).context["form"])
    someone_else_edits(incident, world.manager_a, short_description="Mail is down again")
    data["short_description"] = "Mail is down again"
    response = client.post(url, data)
    assert response.status_code == 409
    assert STALE_FORM in response.content.decode()


def test_stale_record_page_action_via_htmx_is_a_409_with_the_current_record(
    client, world, make_incident
):
    incident = make_incident()
    current = someone_else_edits(incident, world.manager_a, description="Changed meanwhile")
    client.force_login(world.agent_a)
    url = reverse("incidents:action", args=[incident.pk, "assign_me"])

    response = client.post(url, {"version": 1}, HTTP_HX_REQUEST="true")

    assert response.status_code == 409
    html = response.content.decode()
    assert STALE_ACTION in html
    assert 'id="record"' in html and "<html" not in html  # the record panel only
    # The panel is the current record, so the next click sends the current version.
    assert response.context["record"].version == current.version
    assert f'name="version" value="{current.version}"' in html
    stored = Incident.objects.get(pk=incident.pk)
    assert stored.assignee_id is None and stored.version == current.version

    response = client.post(url, {"version": current.version}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert Incident.objects.get(pk=incident.pk).assignee_id == world.agent_a.pk


def test_stale_record_page_action_without_htmx_redirects_with_the_message(
    client, world, make_incident
):
    incident = make_incident()
    someone_else_edits(incident, world.manager_a, description="Changed meanwhile")
    client.force_login(world.agent_a)

    response = client.post(
        reverse("incidents:action", args=[incident.pk, "assign_me"]), {"version": 1}
    )

    assert response.status_code == 302
    assert response.url == reverse("incidents:detail", args=[incident.pk])
    errors = [m for m in get_messages(response.wsgi_request) if m.level_tag == "error"]
    assert len(errors) == 1 and STALE_ACTION in str(errors[0])
    assert Incident.objects.get(pk=incident.pk).assignee_id is None
    page = client.get(response.url)
    assert STALE_ACTION in page.content.decode()


def test_stale_transition_keeps_the_note_and_offers_the_current_version(
    client, world, make_incident
):
    incident = make_incident()
    current = someone_else_edits(incident, world.manager_a, description="Changed meanwhile")
    client.force_login(world.agent_a)
    response = client.post(
        reverse("incidents:action", args=[incident.pk, "transition"]),
        {"name": "cancel", "version": 1, "note": "Logged twice by mistake"},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 409
    form = response.context["transition_form"]
    assert form["note"].value() == "Logged twice by mistake"
    assert int(form["version"].value()) == current.version
    assert Incident.objects.get(pk=incident.pk).status == "new"


def test_api_stale_version_is_a_409_naming_the_current_version(world, make_incident):
    incident = make_incident()
    current = someone_else_edits(incident, world.manager_a, description="Changed meanwhile")
    client = api_client_for(world.agent_a)
    response = client.patch(
        f"/api/incidents/{incident.pk}/", {"short_description": "x", "version": 1}, format="json"
    )
    assert response.status_code == 409
    assert response.json()["code"] == "stale_version"
    assert response.json()["current_version"] == current.version
    response = client.patch(
        f"/api/incidents/{incident.pk}/", {"short_description": "x"}, format="json"
    )
    assert response.status_code == 400
    assert "version" in response.json()
