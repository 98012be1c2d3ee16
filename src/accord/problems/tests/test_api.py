"""The problem API: the same rules as the pages (through the actions), filters, the
lifecycle and incident actions, and who may do what."""

import datetime

import pytest

from accord.core.context import acting_as
from accord.problems import actions
from accord.problems.choices import Status
from accord.problems.models import Problem

pytestmark = pytest.mark.django_db
URL = "/api/problems/"


@pytest.fixture
def raise_problem(world):
    def make(user=None, incidents=(), **fields):
        user = user or world.admin
        data = {"short_description": "Mail queue stalls", "impact": 2, "urgency": 2, **fields}
        with acting_as(user, "test"):
            return actions.create_problem(user, data, incidents=incidents)

    return make


def test_create_from_incidents_and_read_back(world, make_incident, api_as):
    incident = make_incident(service=world.service)
    beta = make_incident(customer=world.customer_b)
    client = api_as(world.agent_a)
    body = {"short_description": "Relay drops", "impact": 1, "urgency": 2, "is_major": True}

    r = client.post(URL, {**body, "incidents": [beta.pk]}, format="json")
    assert r.status_code == 400 and "incidents" in r.json()
    assert beta.number not in r.content.decode()

    r = client.post(URL, {**body, "incidents": [incident.pk]}, format="json")
    assert r.status_code == 201, r.json()
    data = r.json()
    assert data["number"].startswith("PRB") and data["status"] == "new"
    assert data["priority"] == 2 and data["origin"] == "incidents"
    assert data["services"] == [world.service.pk] and data["customers"] == [world.customer_a.pk]
    assert data["target_date"] == str(datetime.date.today() + datetime.timedelta(days=14))
    assert "incidents" not in data
    r = client.get(f"{URL}{data['id']}/incidents/")
    assert [row["number"] for row in r.json()] == [incident.number]

    # The matrix's priority unless overridden with a reason.
    r = client.post(URL, {**body, "priority": 5}, format="json")
    assert r.status_code == 400 and "priority_reason" in r.json()
    r = client.post(URL, {**body, "priority": 5, "priority_reason": "Planned"}, format="json")
    assert r.status_code == 201 and r.json()["priority"] == 5
    # Bad input names its field.
    r = client.post(URL, {"impact": 7, "owner": world.customer_user_a.pk}, format="json")
    assert r.status_code == 400
    assert {"short_description", "impact", "owner"} <= set(r.json())


def test_update_with_version_and_hidden_customers_kept(world, make_incident, raise_problem, api_as):
    problem = raise_problem(incidents=[make_incident(), make_incident(customer=world.customer_b)])
    client = api_as(world.agent_a)
    r = client.get(f"{URL}{problem.pk}/")
    assert r.json()["customers"] == [world.customer_a.pk]  # B is not named to A's agent
    r = client.patch(f"{URL}{problem.pk}/", {"symptoms": "Slow"}, format="json")
    assert r.status_code == 400 and "version" in r.json()
    r = client.patch(
        f"{URL}{problem.pk}/",
        {"version": problem.version, "symptoms": "Slow", "customers": [world.customer_a.pk]},
        format="json",
    )
    assert r.status_code == 200, r.json()
    problem.refresh_from_db()
    assert problem.symptoms == "Slow"
    assert set(problem.customers.all()) == {world.customer_a, world.customer_b}
    r = client.patch(f"{URL}{problem.pk}/", {"version": 1, "symptoms": "x"}, format="json")
    assert r.status_code == 409 and r.json()["current_version"] == problem.version
    r = client.patch(
        f"{URL}{problem.pk}/", {"version": problem.version, "incidents": [1]}, format="json"
    )
    assert r.status_code == 400
    # The status changes only through transitions.
    r = client.patch(
        f"{URL}{problem.pk}/", {"version": problem.version, "status": "closed"}, format="json"
    )
    assert r.status_code == 200 and r.json()["status"] == "new"


def test_transitions_through_the_api(world, make_incident, raise_problem, api_as):
    problem = raise_problem(incidents=[make_incident()])
    client = api_as(world.agent_a)
    url = f"{URL}{problem.pk}/transition/"

    def go(name, version=None, **fields):
        version = version or Problem.objects.get(pk=problem.pk).version
        return client.post(url, {"name": name, "version": version, **fields}, format="json")

    r = go("close")
    assert r.status_code == 400 and "not possible" in r.json()["transition"][0]
    r = go("start")
    assert r.status_code == 400 and "name" in r.json()
    assert go("investigate", version=99).status_code == 409
    r = go("known_error", root_cause="Disk full", workaround="Purge")
    assert r.status_code == 400 and "transition" in r.json()  # still new
    assert go("investigate").json()["status"] == Status.INVESTIGATING
    r = go("known_error")
    assert r.status_code == 400 and set(r.json()) == {"root_cause", "workaround"}
    r = go("known_error", root_cause="Disk full", workaround="Purge")
    assert r.status_code == 200 and r.json()["status"] == Status.KNOWN_ERROR
    r = go("resolve", fix_change="C" * 51, fix_description="x")
    assert r.status_code == 400 and "fix_change" in r.json()
    r = go("resolve", fix_change="CHG1", fix_description="Rotate logs")
    assert r.status_code == 200 and r.json()["fix_change"] == "CHG1"
    r = go("close")
    assert r.status_code == 400
    assert r.json()["transition"] == ["Confirm that the fixing change closed successfully."]
    version = Problem.objects.get(pk=problem.pk).version
    r = client.post(f"{URL}{problem.pk}/confirm_fix/", {"version": version}, format="json")
    assert r.status_code == 200 and r.json()["fix_verified_at"]
    r = go("close")
    assert r.status_code == 200 and r.json()["status"] == Status.CLOSED and not r.json()["is_open"]


def test_accept_risk_needs_a_permitted_user_and_an_approver(world, raise_problem, api_as):
    problem = raise_problem(root_cause="Old firmware")
    with acting_as(world.admin, "test"):
        actions.transition(problem, world.admin, "root_cause")
    body = {"name": "accept_risk", "version": problem.version, "risk_reason": "EOL"}
    url = f"{URL}{problem.pk}/transition/"
    r = api_as(world.agent_a).post(url, {**body, "risk_approver": world.owner.pk}, format="json")
    assert r.status_code == 403
    manager = api_as(world.manager_a)
    r = manager.post(url, body, format="json")
    assert r.status_code == 400 and "risk_approver" in r.json()
    r = manager.post(url, {**body, "risk_approver": world.agent_a.pk}, format="json")
    assert r.status_code == 400 and "risk_approver" in r.json()
    r = manager.post(url, {**body, "risk_approver": 987654}, format="json")
    assert r.status_code == 400 and "risk_approver" in r.json()
    r = manager.post(url, {**body, "risk_approver": world.owner.pk}, format="json")
    assert r.status_code == 200 and r.json()["status"] == Status.ACCEPTED_RISK
    assert r.json()["risk_approver"] == world.owner.pk


def test_link_and_unlink_incidents(world, make_incident, raise_problem, api_as):
    problem = raise_problem()
    mine, beta = make_incident(), make_incident(customer=world.customer_b)
    client = api_as(world.agent_a)
    url = f"{URL}{problem.pk}/link_incidents/"
    r = client.post(url, {"incidents": [beta.pk]}, format="json")
    assert r.status_code == 400 and "incidents" in r.json()
    assert not problem.incident_links.exists()
    too_many = {"incidents": list(range(1, 202))}
    for bad in ({}, {"incidents": []}, {"incidents": ["x"]}, {"incidents": [2**70]}, too_many):
        assert client.post(url, bad, format="json").status_code == 400, bad
    r = client.post(url, {"incidents": [mine.pk]}, format="json")
    assert r.status_code == 200 and [row["id"] for row in r.json()] == [mine.pk]
    r = client.post(url, {"incidents": [mine.pk]}, format="json")
    assert r.status_code == 400 and "already linked" in r.json()["incidents"][0]
    r = client.post(f"{URL}{problem.pk}/unlink_incident/", {"incident": mine.pk}, format="json")
    assert r.status_code == 200 and r.json() == []
    r = client.post(f"{URL}{problem.pk}/unlink_incident/", {"incident": mine.pk}, format="json")
    assert r.status_code == 400 and "not linked" in r.json()["incidents"][0]


def test_filters(world, make_incident, raise_problem, api_as):
    late = raise_problem(owner=world.agent_a, is_major=True)
    Problem.objects.filter(pk=late.pk).update(target_date=datetime.date(2020, 1, 1))
    other = raise_problem(impact=1, urgency=1, incidents=[make_incident(service=world.service)])
    with acting_as(world.admin, "test"):
        actions.transition(other, world.admin, "cancel", note="Duplicate")
    client = api_as(world.agent_a)

    def ids(**params):
        r = client.get(URL, params)
        assert r.status_code == 200, r.json()
        return {row["id"] for row in r.json()["results"]}

    assert ids() == {late.pk, other.pk}
    assert ids(overdue="true") == {late.pk}
    assert ids(overdue="false") == {other.pk}
    assert ids(is_open="false") == {other.pk}
    assert ids(status="cancelled") == {other.pk}
    assert ids(priority="1") == {other.pk}
    assert ids(owner=world.agent_a.pk) == {late.pk}
    assert ids(service=world.service.pk) == {other.pk}
    assert ids(is_major="true") == {late.pk}
    assert ids(q=late.number) == {late.pk}
    r = client.get(URL, {"customer": world.customer_b.pk})
    assert r.status_code == 400 and "customer" in r.json()
    assert client.get(URL, {"status": "nope"}).status_code == 400


def test_who_may_use_the_api(world, make_incident, raise_problem, api_as):
    alpha = raise_problem(incidents=[make_incident()])
    beta = raise_problem(incidents=[make_incident(customer=world.customer_b)])
    shared = raise_problem()

    # Customer users: nothing at all.
    client = api_as(world.customer_user_a)
    assert client.get(URL).status_code == 403
    assert client.get(f"{URL}{alpha.pk}/").status_code == 403
    assert client.post(URL, {"short_description": "x"}, format="json").status_code == 403

    # The auditor reads everything and writes nothing.
    client = api_as(world.auditor)
    r = client.get(URL)
    assert {row["id"] for row in r.json()["results"]} == {alpha.pk, beta.pk, shared.pk}
    assert client.post(URL, {"short_description": "x"}, format="json").status_code == 403
    for suffix, body in (
        ("transition/", {"name": "investigate", "version": 1}),
        ("link_incidents/", {"incidents": []}),
        ("confirm_fix/", {"version": 1}),
    ):
        assert client.post(f"{URL}{alpha.pk}/{suffix}", body, format="json").status_code == 403
    r = client.patch(f"{URL}{alpha.pk}/", {"version": 1, "symptoms": "x"}, format="json")
    assert r.status_code == 403

    # Agent B: Alpha's problem does not exist for them.
    client = api_as(world.agent_b)
    assert {row["id"] for row in client.get(URL).json()["results"]} == {beta.pk, shared.pk}
    assert client.get(f"{URL}{alpha.pk}/").status_code == 404
    r = client.post(
        f"{URL}{alpha.pk}/transition/", {"name": "investigate", "version": 1}, format="json"
    )
    assert r.status_code == 404
    # ...and cannot pull Alpha's incident into a problem of theirs.
    alpha_incident = alpha.incident_links.get().incident
    r = client.post(
        f"{URL}{shared.pk}/link_incidents/", {"incidents": [alpha_incident.pk]}, format="json"
    )
    assert r.status_code == 400
    assert alpha_incident.number not in r.content.decode()
