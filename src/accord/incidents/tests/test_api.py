"""The incidents REST API: logging, priority, optimistic locking, lifecycle, journal,
history, bad input and query counts, driven through DRF's client with API tokens."""

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from accord.core.models import JournalEntry, ObjectChange
from accord.incidents.models import Incident

LIST = "/api/incidents/"


def detail(pk, action=""):
    return f"/api/incidents/{pk}/" + (f"{action}/" if action else "")


@pytest.fixture
def api(api_as):
    """api(user) -> an APIClient that sends that user's token (the shared fixture)."""
    return api_as


@pytest.fixture
def agent(api, world):
    return api(world.agent_a)


def create(client, world, **fields):
    data = {
        "customer": world.customer_a.pk,
        "short_description": "Mail is down",
        "impact": 2,
        "urgency": 2,
        **fields,
    }
    return client.post(LIST, data, format="json")


# --- create and priority -------------------------------------------------------------
@pytest.mark.django_db
@pytest.mark.parametrize(("impact", "urgency", "priority"), [(1, 1, 1), (2, 2, 3), (3, 3, 5)])
def test_create_numbers_the_incident_and_takes_priority_from_the_matrix(
    agent, world, impact, urgency, priority
):
    r = create(agent, world, impact=impact, urgency=urgency)
    assert r.status_code == 201, r.json()
    body = r.json()
    assert re.fullmatch(r"INC\d{7}", body["number"])
    assert body["priority"] == priority
    assert body["status"] == "new"
    assert body["version"] == 1
    incident = Incident.objects.get(pk=body["id"])
    assert incident.number == body["number"]
    assert incident.priority == priority
    assert incident.customer == world.customer_a
    assert incident.caller == world.agent_a


@pytest.mark.django_db
def test_numbers_are_unique_and_increase(agent, world):
    first = create(agent, world).json()["number"]
    second = create(agent, world).json()["number"]
    assert int(second[3:]) == int(first[3:]) + 1


@pytest.mark.django_db
def test_priority_override_needs_a_reason(agent, world):
    r = create(agent, world, impact=3, urgency=3, priority=1)
    assert r.status_code == 400
    assert "priority_reason" in r.json()
    assert not Incident.objects.exists()


@pytest.mark.django_db
def test_priority_override_with_reason_is_saved_and_journalled_internally(agent, api, world):
    r = create(agent, world, impact=3, urgency=3, priority=1, priority_reason="CEO's laptop")
    assert r.status_code == 201, r.json()
    body = r.json()
    assert body["priority"] == 1
    assert "priority_reason" not in body  # write-only
    assert Incident.objects.get(pk=body["id"]).priority == 1

    journal = agent.get(detail(body["id"], "journal")).json()
    events = [e for e in journal if e["kind"] == "event"]
    assert len(events) == 1
    assert events[0]["customer_visible"] is False
    assert "CEO's laptop" in events[0]["body"]
    assert events[0]["author_label"] == "agent_a"

    # The customer never sees the internal override note.
    customer_journal = api(world.customer_user_a).get(detail(body["id"], "journal")).json()
    assert all("CEO's laptop" not in e["body"] for e in customer_journal)


@pytest.mark.django_db
def test_customer_user_logs_for_own_organisation_unassigned(api, world):
    client = api(world.customer_user_a)
    r = client.post(
        LIST,
        {
            "short_description": "Printer on fire",
            "impact": 1,
            "urgency": 1,
            "assignee": world.agent_a.pk,
            "priority": 5,
        },
        format="json",
    )
    assert r.status_code == 201, r.json()
    incident = Incident.objects.get(pk=r.json()["id"])
    assert incident.customer == world.customer_a
    assert incident.caller == world.customer_user_a
    assert incident.assignee is None
    assert incident.priority == 1  # a customer cannot override the matrix


# --- optimistic locking ---------------------------------------------------------------
@pytest.mark.django_db
def test_patch_with_current_version_saves_and_increments_version(agent, world, make_incident):
    incident = make_incident()
    r = agent.patch(
        detail(incident.pk),
        {"short_description": "Mail is slow", "version": incident.version},
        format="json",
    )
    assert r.status_code == 200, r.json()
    assert r.json()["version"] == incident.version + 1
    assert r.json()["short_description"] == "Mail is slow"
    incident.refresh_from_db()
    assert incident.short_description == "Mail is slow"
    assert incident.version == 2


@pytest.mark.django_db
def test_patch_with_stale_version_is_refused_with_409(agent, world, make_incident):
    incident = make_incident()
    ok = agent.patch(detail(incident.pk), {"description": "first", "version": 1}, format="json")
    assert ok.status_code == 200
    r = agent.patch(detail(incident.pk), {"description": "second", "version": 1}, format="json")
    assert r.status_code == 409
    body = r.json()
    assert body["code"] == "stale_version"
    assert body["current_version"] == 2
    incident.refresh_from_db()
    assert incident.description == "first"
    assert incident.version == 2


@pytest.mark.django_db
def test_patch_without_version_is_refused(agent, world, make_incident):
    incident = make_incident()
    r = agent.patch(detail(incident.pk), {"description": "no version"}, format="json")
    assert r.status_code == 400
    assert "version" in r.json()
    incident.refresh_from_db()
    assert incident.description == ""
    assert incident.version == 1


@pytest.mark.django_db
def test_patch_rating_recomputes_priority(agent, world, make_incident):
    incident = make_incident(impact=2, urgency=2)
    assert incident.priority == 3
    r = agent.patch(detail(incident.pk), {"impact": 1, "urgency": 1, "version": 1}, format="json")
    assert r.status_code == 200, r.json()
    assert r.json()["priority"] == 1


# --- lifecycle ------------------------------------------------------------------------
@pytest.mark.django_db
def test_transitions_start_resolve_close(agent, world, make_incident):
    incident = make_incident()
    url = detail(incident.pk, "transition")

    r = agent.post(url, {"name": "start", "version": 1}, format="json")
    assert r.status_code == 200, r.json()
    assert r.json()["status"] == "in_progress"
    assert r.json()["assignee"] == world.agent_a.pk
    version = r.json()["version"]

    r = agent.post(url, {"name": "resolve", "version": version}, format="json")
    assert r.status_code == 400
    assert {"resolution_code", "resolution_notes"} <= set(r.json())
    incident.refresh_from_db()
    assert incident.status == "in_progress"

    r = agent.post(
        url,
        {
            "name": "resolve",
            "version": version,
            "resolution_code": "solved",
            "resolution_notes": "Restarted the mail relay.",
        },
        format="json",
    )
    assert r.status_code == 200, r.json()
    assert r.json()["status"] == "resolved"
    assert r.json()["resolution_code"] == "solved"
    assert r.json()["resolved_at"]
    version = r.json()["version"]

    r = agent.post(url, {"name": "close", "version": version}, format="json")
    assert r.status_code == 200, r.json()
    assert r.json()["status"] == "closed"
    assert r.json()["closed_at"]
    incident.refresh_from_db()
    assert incident.status == "closed"

    events = JournalEntry.objects.filter(object_id=incident.pk, kind="event")
    assert events.count() == 3
    assert all(e.customer_visible for e in events)


@pytest.mark.django_db
def test_transition_not_allowed_from_current_status(agent, world, make_incident):
    incident = make_incident()
    r = agent.post(
        detail(incident.pk, "transition"), {"name": "close", "version": 1}, format="json"
    )
    assert r.status_code == 400
    assert "transition" in r.json()
    incident.refresh_from_db()
    assert incident.status == "new"


@pytest.mark.django_db
def test_transition_with_stale_version_is_409(agent, world, make_incident):
    incident = make_incident()
    r = agent.post(
        detail(incident.pk, "transition"), {"name": "start", "version": 7}, format="json"
    )
    assert r.status_code == 409
    assert r.json()["code"] == "stale_version"


@pytest.mark.django_db
def test_closed_incident_cannot_be_edited(agent, world, make_incident):
    incident = make_incident()
    url = detail(incident.pk, "transition")
    agent.post(url, {"name": "cancel", "version": 1, "note": "Duplicate call"}, format="json")
    incident.refresh_from_db()
    assert incident.status == "cancelled"
    r = agent.patch(
        detail(incident.pk), {"description": "x", "version": incident.version}, format="json"
    )
    assert r.status_code == 400


# --- journal --------------------------------------------------------------------------
@pytest.mark.django_db
def test_customer_user_can_reply_but_not_write_work_notes(api, world, make_incident):
    incident = make_incident()
    client = api(world.customer_user_a)
    url = detail(incident.pk, "journal")

    r = client.post(url, {"kind": "reply", "body": "Still broken here."}, format="json")
    assert r.status_code == 201, r.json()
    assert r.json()["customer_visible"] is True
    assert r.json()["author"] == world.customer_user_a.pk

    r = client.post(url, {"kind": "work_note", "body": "sneaky"}, format="json")
    assert r.status_code == 403
    assert not JournalEntry.objects.filter(body="sneaky").exists()


@pytest.mark.django_db
def test_journal_for_customer_user_excludes_work_notes(api, agent, world, make_incident):
    incident = make_incident()
    url = detail(incident.pk, "journal")
    assert (
        agent.post(url, {"kind": "work_note", "body": "internal-xyz"}, format="json").status_code
        == 201
    )
    assert (
        agent.post(url, {"kind": "reply", "body": "public-xyz"}, format="json").status_code == 201
    )

    staff_bodies = [e["body"] for e in agent.get(url).json()]
    assert {"internal-xyz", "public-xyz"} <= set(staff_bodies)

    customer = api(world.customer_user_a).get(url)
    assert customer.status_code == 200
    bodies = [e["body"] for e in customer.json()]
    assert "public-xyz" in bodies
    assert "internal-xyz" not in bodies
    assert all(e["customer_visible"] for e in customer.json())


@pytest.mark.django_db
def test_empty_and_unknown_journal_entries_are_refused(agent, world, make_incident):
    incident = make_incident()
    url = detail(incident.pk, "journal")
    assert agent.post(url, {"kind": "reply", "body": "   "}, format="json").status_code == 400
    assert agent.post(url, {"kind": "event", "body": "x"}, format="json").status_code == 400
    assert not JournalEntry.objects.filter(kind__in=["reply", "event"]).exists()


@pytest.mark.django_db
def test_customer_reply_while_pending_customer_resumes_work(api, agent, world, make_incident):
    incident = make_incident()
    url = detail(incident.pk, "transition")
    v = agent.post(url, {"name": "start", "version": 1}, format="json").json()["version"]
    r = agent.post(url, {"name": "wait_customer", "version": v}, format="json")
    assert r.json()["status"] == "pending_customer"
    api(world.customer_user_a).post(
        detail(incident.pk, "journal"), {"kind": "reply", "body": "Here you go"}, format="json"
    )
    incident.refresh_from_db()
    assert incident.status == "in_progress"


# --- history --------------------------------------------------------------------------
@pytest.mark.django_db
def test_history_shows_field_changes_with_actor_and_channel(agent, api, world):
    r = create(agent, world)
    pk = r.json()["id"]
    agent.patch(detail(pk), {"short_description": "Mail bounces", "version": 1}, format="json")

    history = agent.get(detail(pk, "history"))
    assert history.status_code == 200
    rows = history.json()
    assert [row["action"] for row in rows] == ["update", "create"]  # newest first
    update = rows[0]
    assert update["changes"]["short_description"] == ["Mail is down", "Mail bounces"]
    assert "version" not in update["changes"]
    assert update["actor"] == world.agent_a.pk
    assert update["actor_label"] == "agent_a"
    assert update["via"] == "api"
    assert rows[1]["changes"]["short_description"] == "Mail is down"
    assert ObjectChange.objects.filter(object_id=pk, via="api").count() == 2

    # Customer users do not get the internal change log.
    assert api(world.customer_user_a).get(detail(pk, "history")).json() == []


# --- bad input ------------------------------------------------------------------------
@pytest.mark.django_db
@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"impact": "abc"}, "impact"),
        ({"urgency": [1]}, "urgency"),
        ({"impact": 9}, "impact"),
        ({"priority": 0, "priority_reason": "x"}, "priority"),
        ({"short_description": "x" * 161}, "short_description"),
        ({"short_description": ""}, "short_description"),
        ({"short_description": None}, "short_description"),
        ({"customer": "not-an-id"}, "customer"),
        ({"customer": 10**20}, "customer"),
        ({"service": -1}, "service"),
        ({"service": True}, "service"),
        ({"service": {"id": 1}}, "service"),
        ({"customer": 2**63}, "customer"),
        ({"customer": 0}, "customer"),
        ({"assignee": "me"}, "assignee"),
        ({"description": "x" * 20001}, "description"),
    ],
)
def test_bad_input_is_a_400_naming_the_field(agent, world, change, field):
    r = create(agent, world, **change)
    assert r.status_code == 400, r.content
    assert field in r.json()
    assert not Incident.objects.exists()


@pytest.mark.django_db
def test_missing_short_description_is_a_400(agent, world):
    r = agent.post(LIST, {"customer": world.customer_a.pk, "impact": 1}, format="json")
    assert r.status_code == 400
    assert "short_description" in r.json()


@pytest.mark.django_db
def test_body_that_is_not_an_object_is_a_400(agent, world):
    for payload in ('"just a string"', "[1, 2]", "{not json"):
        r = agent.generic("POST", LIST, payload, content_type="application/json")
        assert r.status_code == 400, (payload, r.content)
    assert not Incident.objects.exists()


@pytest.mark.django_db
def test_staff_cannot_log_for_a_customer_they_do_not_serve(agent, world):
    r = create(agent, world, customer=world.customer_b.pk)
    assert r.status_code == 400
    assert "customer" in r.json()
    assert not Incident.objects.exists()


@pytest.mark.django_db
def test_staff_cannot_move_an_incident_to_a_customer_they_do_not_serve(agent, world, make_incident):
    incident = make_incident()
    r = agent.patch(
        detail(incident.pk), {"customer": world.customer_b.pk, "version": 1}, format="json"
    )
    assert r.status_code == 400
    assert "customer" in r.json()
    incident.refresh_from_db()
    assert incident.customer == world.customer_a


@pytest.mark.django_db
def test_customer_user_cannot_use_a_service_they_cannot_see(api, world):
    client = api(world.customer_user_a)
    r = client.post(
        LIST,
        {"short_description": "ERP down", "service": world.service_b_only.pk},
        format="json",
    )
    assert r.status_code == 400
    assert "service" in r.json()
    r = client.post(
        LIST,
        {"short_description": "ERP down", "customer": world.customer_b.pk},
        format="json",
    )
    assert r.status_code == 400
    assert "customer" in r.json()
    assert not Incident.objects.exists()


@pytest.mark.django_db
def test_service_must_be_used_by_the_customer(agent, world):
    r = create(agent, world, service=world.service_b_only.pk)
    assert r.status_code == 400
    assert "service" in r.json()


@pytest.mark.django_db
def test_assignee_must_be_in_the_assignment_team(agent, world):
    r = create(agent, world, assignment_team=world.team_b.pk, assignee=world.agent_a.pk)
    assert r.status_code == 400
    assert "assignee" in r.json()


@pytest.mark.django_db
def test_bad_transition_input_is_a_400(agent, world, make_incident):
    incident = make_incident()
    url = detail(incident.pk, "transition")
    for payload in (
        {"name": "explode", "version": 1},
        {"name": "start"},
        {"name": "start", "version": "one"},
        {"name": "resolve", "version": 1, "resolution_code": "nope"},
    ):
        r = agent.post(url, payload, format="json")
        assert r.status_code == 400, (payload, r.content)
    incident.refresh_from_db()
    assert incident.status == "new"


@pytest.mark.django_db
def test_non_numeric_and_unknown_ids_are_404(agent, world):
    assert agent.get("/api/incidents/abc/").status_code == 404
    assert agent.get("/api/incidents/999999/").status_code == 404
    assert agent.get(f"/api/incidents/{10**30}/").status_code == 404
    r = agent.patch(f"/api/incidents/{10**30}/", {"version": 1}, format="json")
    assert r.status_code == 404


@pytest.mark.django_db
def test_unauthenticated_and_bad_token_are_refused(world):
    client = APIClient()
    assert client.get(LIST).status_code in (401, 403)
    client.credentials(HTTP_AUTHORIZATION="Token not-a-real-key")
    assert client.get(LIST).status_code == 401


# --- query counts ---------------------------------------------------------------------
def _list_queries(client, url):
    with CaptureQueriesContext(connection) as ctx:
        r = client.get(url)
    assert r.status_code == 200
    return len(ctx.captured_queries), r.json()


@pytest.mark.django_db
def test_list_uses_a_bounded_number_of_queries(
    agent, world, make_incident, django_assert_max_num_queries
):
    for _ in range(5):
        make_incident(service=world.service, assignment_team=world.team_a)
    small, body = _list_queries(agent, LIST)
    assert len(body["results"]) == 5

    for _ in range(55):
        make_incident(service=world.service, assignment_team=world.team_a, assignee=world.agent_a)
    large, body = _list_queries(agent, LIST)
    assert len(body["results"]) == 50
    assert body["next"]
    assert small == large, f"{small} queries for 5 rows, {large} for 50"

    with django_assert_max_num_queries(6):
        r = agent.get(LIST)
    assert len(r.json()["results"]) == 50

    # The next page costs the same.
    with django_assert_max_num_queries(6):
        r = agent.get(body["next"])
    assert len(r.json()["results"]) == 10
