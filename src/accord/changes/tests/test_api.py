"""The change API: the same rules as the pages (through the actions): raise with CIs
and fixes, edit with the version read, the lifecycle, risk, decisions, conflicts and
impact; filters, query counts, and who may do what."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accord.changes.choices import Status
from accord.changes.models import Change, ChangeTemplate
from accord.core.context import acting_as

from . import test_pages as pages
from .test_pages import H, fresh, step, to_approval

# The page tests' fixtures, shared.
questions, slot, new_change = pages.questions, pages.slot, pages.new_change
make_ci, cab = pages.make_ci, pages.cab

pytestmark = pytest.mark.django_db
URL = "/api/changes/"


def body(slot, **fields):
    return {
        "short_description": "Upgrade the database",
        "reason": "End of support",
        "implementation_plan": "upgrade",
        "backout_plan": "restore",
        "planned_start": slot[0].isoformat(),
        "planned_end": slot[1].isoformat(),
        **fields,
    }


def test_raise_with_cis_and_fixes_and_bad_input_named(world, make_incident, make_ci, slot, api_as):
    from accord.problems import actions as problem_actions

    incident = make_incident()
    beta = make_incident(customer=world.customer_b)
    with acting_as(world.admin, "test"):
        problem = problem_actions.create_problem(
            world.admin, {"short_description": "Relay", "impact": 2, "urgency": 2}
        )
    db = make_ci("db-01", "database")
    beta_ci = make_ci("beta-db", "database", [world.customer_b])
    client = api_as(world.agent_a)

    r = client.post(URL, body(slot, planned_end=(slot[0] - H).isoformat()), format="json")
    assert r.status_code == 400 and "planned_end" in r.json()
    r = client.post(URL, body(slot, cis=[beta_ci.pk], incidents=[beta.pk]), format="json")
    assert r.status_code == 400 and {"cis", "incidents"} <= set(r.json())
    assert "beta-db" not in r.content.decode() and beta.number not in r.content.decode()
    r = client.post(URL, {"kind": "sideways", "assignee": world.customer_user_a.pk}, format="json")
    assert r.status_code == 400
    assert {"kind", "assignee", "short_description", "reason"} <= set(r.json())
    r = client.post(URL, body(slot, kind="standard"), format="json")
    assert r.status_code == 400 and "template" in r.json()

    data = body(slot, cis=[db.pk], problems=[problem.pk], incidents=[incident.pk])
    r = client.post(URL, data, format="json")
    assert r.status_code == 201, r.json()
    out = r.json()
    assert out["number"].startswith("CHG") and out["status"] == "draft"
    assert out["cis"] == [db.pk] and out["customers"] == [world.customer_a.pk]
    assert out["requester"] == world.agent_a.pk
    assert "problems" not in out and "incidents" not in out
    change = Change.objects.get(pk=out["id"])
    assert change.fixes.count() == 2

    # An emergency change is raised as a draft; submitting it without a reason is refused.
    r = client.post(URL, body(slot, kind="emergency"), format="json")
    assert r.status_code == 201
    emergency = r.json()
    r = client.post(
        f"{URL}{emergency['id']}/transition/",
        {"name": "submit", "version": emergency["version"]},
        format="json",
    )
    assert r.status_code == 400
    assert r.json()["emergency_reason"] == ["An emergency change needs its reason."]


def test_a_standard_change_through_the_api(world, slot, api_as):
    template = ChangeTemplate.objects.create(
        name="Rotate logs", description="d", implementation_plan="rotate", backout_plan="none"
    )
    client = api_as(world.agent_a)
    r = client.post(
        URL,
        body(slot, kind="standard", template=template.pk, implementation_plan=""),
        format="json",
    )
    assert r.status_code == 201, r.json()
    out = r.json()
    assert out["implementation_plan"] == "rotate"
    for name in ("submit", "assess"):
        r = client.post(
            f"{URL}{out['id']}/transition/",
            {"name": name, "version": out["version"]},
            format="json",
        )
        assert r.status_code == 200, r.json()
        out = r.json()
    assert out["status"] == "approved" and out["approver_kind"] == "none"


def test_update_with_the_version_read(world, new_change, make_ci, api_as):
    change = new_change()
    web = make_ci("web-01")
    client = api_as(world.agent_a)
    url = f"{URL}{change.pk}/"
    r = client.patch(url, {"short_description": "No version"}, format="json")
    assert r.status_code == 400 and "version" in r.json()
    r = client.patch(
        url,
        {"short_description": "Patch, reboot", "cis": [web.pk], "version": change.version},
        format="json",
    )
    assert r.status_code == 200, r.json()
    assert r.json()["cis"] == [web.pk] and r.json()["version"] == change.version + 1
    r = client.patch(url, {"short_description": "Late", "version": change.version}, format="json")
    assert r.status_code == 409 and r.json()["code"] == "stale_version"
    r = client.patch(url, {"kind": "emergency", "version": change.version + 1}, format="json")
    assert r.status_code == 400 and "kind" in r.json()
    assert fresh(change).short_description == "Patch, reboot"


def test_the_lifecycle_risk_decisions_conflicts_and_impact(
    world, questions, new_change, make_ci, cab, api_as
):
    db = make_ci("db-01", "database")
    other = new_change(cis=[db], short_description="Kernel patch")
    step(other, world.agent_a, "submit")
    change = new_change(user=world.agent_b, cis=[db])
    client = api_as(world.agent_b)
    url = f"{URL}{change.pk}/"
    out = client.post(f"{url}transition/", {"name": "submit", "version": 1}, format="json").json()
    assert out["status"] == "submitted"

    r = client.post(f"{url}assess/", {"answers": {"999": 1}}, format="json")
    assert r.status_code == 400
    assert set(r.json()) == {f"q{q[0].question_id}" for q in questions}
    answers = {str(q[1].question_id): q[1].pk for q in questions}
    out = client.post(f"{url}assess/", {"answers": answers}, format="json").json()
    assert (out["risk_score"], out["risk_class"], out["approver_kind"]) == (10, "high", "cab")
    for name in ("assess", "request_approval"):
        r = client.post(
            f"{url}transition/", {"name": name, "version": out["version"]}, format="json"
        )
        assert r.status_code == 200, r.json()
        out = r.json()
    assert out["status"] == "awaiting_approval" and out["board"] == cab.pk

    conflicts = client.get(f"{url}conflicts/").json()
    assert [c["kind"] for c in conflicts] == ["same_ci"]
    # The other change names no customer: every member of staff sees it, so it is named.
    assert conflicts[0]["other_number"] == other.number
    assert other.number in conflicts[0]["explanation"]
    impact = client.get(f"{url}impact/", {"limit": "0"})
    assert impact.status_code == 400 and "limit" in impact.json()
    assert client.get(f"{url}impact/").json()["count"] == 0

    # The requester sits on the board: refused, with the reason.
    r = client.post(f"{url}decide/", {"decision": "approve"}, format="json")
    assert r.status_code == 400
    assert r.json()["decision"] == ["You cannot approve or reject your own change."]
    r = api_as(world.agent_a).post(f"{url}decide/", {"decision": "approve"}, format="json")
    assert r.status_code == 403  # not an approver of this change
    owner = api_as(world.owner)
    r = owner.post(f"{url}decide/", {"decision": "approve"}, format="json")
    assert r.status_code == 400 and "conflict_override" in r.json()
    r = owner.post(f"{url}accept_conflicts/", {"reason": "Same window, tested"}, format="json")
    assert r.status_code == 200 and r.json()["conflict_override"] == "Same window, tested"
    r = owner.post(f"{url}decide/", {"decision": "approve", "comment": "ok"}, format="json")
    assert r.status_code == 200 and r.json()["status"] == "awaiting_approval"
    r = api_as(world.manager_a).post(f"{url}decide/", {"decision": "approve"}, format="json")
    out = r.json()
    assert out["status"] == "approved"

    for name, extra in (("start", {}), ("finish", {"outcome": "successful"})):
        r = client.post(
            f"{url}transition/", {"name": name, "version": out["version"], **extra}, format="json"
        )
        assert r.status_code == 200, r.json()
        out = r.json()
    r = client.post(
        f"{url}transition/", {"name": "close", "version": out["version"]}, format="json"
    )
    assert r.status_code == 400 and "review" in str(r.json()["transition"])
    r = client.post(
        f"{url}review/", {"version": out["version"], "review_notes": "Fine"}, format="json"
    )
    out = r.json()
    r = client.post(
        f"{url}transition/", {"name": "close", "version": out["version"]}, format="json"
    )
    assert r.status_code == 200 and r.json()["status"] == Status.CLOSED


def test_list_filters_and_query_count(world, new_change, questions, make_ci, api_as):
    db = make_ci("db-01", "database")
    client = api_as(world.manager_a)
    mine = to_approval(new_change(cis=[db]), world.agent_a, [q[0] for q in questions])
    new_change()
    r = client.get(URL, {"awaiting_me": "true"})
    assert [row["number"] for row in r.json()["results"]] == [mine.number]
    assert r.json()["results"][0]["cis"] == [db.pk]
    r = client.get(URL, {"status": "draft"})
    assert len(r.json()["results"]) == 1
    r = client.get(URL, {"status": "nope", "planned_from": "soon"})
    assert r.status_code == 400 and {"status", "planned_from"} <= set(r.json())

    with CaptureQueriesContext(connection) as few:
        client.get(URL)
    for _ in range(5):
        new_change(cis=[db])
    with CaptureQueriesContext(connection) as more:
        r = client.get(URL)
    assert len(r.json()["results"]) == 7
    assert len(more) == len(few)


def test_who_may_do_what(world, new_change, api_as):
    ours = new_change()
    theirs = new_change(user=world.agent_b, assignment_team=world.team_b)
    theirs.customers.add(world.customer_b)
    auditor = api_as(world.auditor)
    assert auditor.get(f"{URL}{theirs.pk}/").status_code == 200
    assert auditor.post(URL, {"short_description": "x"}, format="json").status_code == 403
    r = auditor.post(f"{URL}{ours.pk}/transition/", {"name": "submit", "version": 1}, format="json")
    assert r.status_code == 403
    assert auditor.post(f"{URL}{ours.pk}/decide/", {"decision": "approve"}).status_code == 403

    customer = api_as(world.customer_user_a)
    assert customer.get(URL).status_code == 403
    assert customer.get(f"{URL}{ours.pk}/").status_code == 403

    agent = api_as(world.agent_a)
    assert [row["id"] for row in agent.get(URL).json()["results"]] == [ours.pk]
    for suffix in ("", "conflicts/", "impact/"):
        assert agent.get(f"{URL}{theirs.pk}/{suffix}").status_code == 404
    r = agent.patch(f"{URL}{theirs.pk}/", {"version": 1, "reason": "x"}, format="json")
    assert r.status_code == 404
    r = agent.post(f"{URL}{theirs.pk}/transition/", {"name": "submit", "version": 1}, format="json")
    assert r.status_code == 404
    assert fresh(theirs).version == theirs.version
