"""The change pages: raise (normal, standard, emergency; from a problem or an incident),
bad input shown on its fields, edit with version locking, the record page (risk and
approver, CMDB impact, conflicts explained and accepted, decisions, outcome, review,
closing), the approver's queue, boards and meetings, the panel on problems and
incidents; and who may do what there."""

import csv
import datetime
import io

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accord.changes import actions
from accord.changes.choices import Decision, Quorum, Status
from accord.changes.models import (
    AgendaItem,
    Board,
    BoardMeeting,
    Change,
    ChangeTemplate,
    RiskOption,
    RiskQuestion,
)
from accord.core.context import acting_as

pytestmark = pytest.mark.django_db
H = datetime.timedelta(hours=1)


# --- shared by the page and API tests ---------------------------------------------------------
@pytest.fixture
def questions(db):
    """Two questions: 0 or 4, 0 or 6 (10 and more is high risk)."""
    out = []
    for text, scores in (("Tested in staging?", (0, 4)), ("Outage needed?", (0, 6))):
        q = RiskQuestion.objects.create(text=text)
        out.append(
            [RiskOption.objects.create(question=q, label=f"score {s}", score=s) for s in scores]
        )
    return out


@pytest.fixture
def slot():
    start = (timezone.now() + 48 * H).replace(second=0, microsecond=0)
    return start, start + 2 * H


@pytest.fixture
def new_change(world, slot):
    def make(user=None, cis=(), problems=(), incidents=(), **fields):
        user = user or world.agent_a
        data = {
            "short_description": "Patch the mail relay",
            "reason": "Security fix",
            "implementation_plan": "apt upgrade",
            "backout_plan": "restore snapshot",
            "planned_start": slot[0],
            "planned_end": slot[1],
            "assignment_team": world.team_a,
            **fields,
        }
        with acting_as(user, "test"):
            return actions.create_change(
                user, data, cis=cis, problems=problems, incidents=incidents
            )

    return make


@pytest.fixture
def make_ci(world):
    from accord.cmdb import actions as cmdb_actions
    from accord.cmdb.models import CIType, ConfigurationItem
    from accord.cmdb.testing import ensure_starting_types

    ensure_starting_types()

    def make(name, kind="server", customers=()):
        with acting_as(world.admin, "test"):
            return cmdb_actions.save_ci(
                ConfigurationItem(name=name, ci_type=CIType.objects.get(key=kind)),
                customers=list(customers),
            )

    return make


@pytest.fixture
def cab(world):
    board = Board.objects.create(name="CAB", chair=world.manager_a, quorum=Quorum.MAJORITY)
    board.members.set([world.manager_a, world.owner, world.agent_b])
    return board


def step(change, user, name, **kwargs):
    with acting_as(user, "test"):
        return actions.transition(change, user, name, **kwargs)


def to_approval(change, user, options):
    """Submitted, assessed with these answers, and sent to its approvers."""
    step(change, user, "submit")
    with acting_as(user, "test"):
        actions.assess_risk(change, user, {o.question_id: o.pk for o in options})
    step(change, user, "assess")
    step(change, user, "request_approval")
    return change


def fresh(change):
    return Change.objects.get(pk=change.pk)


# --- page helpers ---------------------------------------------------------------------------
@pytest.fixture
def as_user(client):
    def sign_in(user):
        client.force_login(user)
        return client

    return sign_in


def act(client, change, action, data, htmx=True):
    url = reverse("changes:action", args=[change.pk, action])
    headers = {"HTTP_HX_REQUEST": "true"} if htmx else {}
    return client.post(url, data, **headers)


def local(value):
    return timezone.localtime(value).strftime("%Y-%m-%dT%H:%M")


def form_data(slot, **fields):
    return {
        "kind": "normal",
        "short_description": "Upgrade the database",
        "reason": "End of support",
        "implementation_plan": "1. stop\n2. upgrade\n3. start",
        "backout_plan": "restore the snapshot",
        "planned_start": local(slot[0]),
        "planned_end": local(slot[1]),
        **fields,
    }


# --- raise ----------------------------------------------------------------------------------
def test_a_normal_change_raised_from_a_problem_names_its_cis_and_fixes(
    world, make_incident, make_ci, slot, as_user
):
    from accord.problems import actions as problem_actions

    incident = make_incident(service=world.service, short_description="Mail bounces")
    beta = make_incident(customer=world.customer_b, short_description="Beta secret mail")
    with acting_as(world.admin, "test"):
        problem = problem_actions.create_problem(
            world.admin,
            {"short_description": "Relay drops mail", "impact": 2, "urgency": 2},
            incidents=[incident],
        )
    db = make_ci("db-01", "database", [world.customer_a])
    make_ci("beta-db", "database", [world.customer_b])
    client = as_user(world.agent_a)

    r = client.get(reverse("changes:create"), {"problem": problem.pk})
    assert r.status_code == 200
    assert "Normal change" in r.content.decode() and "Emergency change" in r.content.decode()
    r = client.get(reverse("changes:create"), {"kind": "normal", "problem": problem.pk})
    assert r.status_code == 200
    form = r.context["form"]
    assert form.initial["problems"] == problem.number
    assert form.initial["short_description"] == "Fix: Relay drops mail"
    assert form.initial["customers"] == [world.customer_a.pk]
    # A record the agent may not see is refused, named only by what was asked for.
    r = client.get(reverse("changes:create"), {"kind": "normal", "incident": beta.pk})
    text = r.content.decode()
    assert f"You have no incident {beta.pk}." in text
    assert beta.number not in text and "Beta secret" not in text

    data = form_data(slot, problems=problem.number, incidents=incident.number, cis="db-01")
    r = client.post(reverse("changes:create"), {**data, "incidents": beta.number})
    assert r.status_code == 400
    assert r.context["form"].errors["incidents"] == [f"You have no incident {beta.number}."]
    r = client.post(reverse("changes:create"), {**data, "cis": "db-01\nbeta-db"})
    assert r.status_code == 400
    assert r.context["form"].errors["cis"] == ["No configuration item beta-db."]
    assert not Change.objects.exists()

    r = client.post(reverse("changes:create"), data)
    assert r.status_code == 302, r.context["form"].errors
    change = Change.objects.get()
    assert r["Location"] == change.get_absolute_url()
    assert (change.kind, change.status, change.requester) == ("normal", "draft", world.agent_a)
    assert change.planned_start == slot[0] and change.planned_end == slot[1]
    assert {f.problem_id or f.incident_id for f in change.fixes.all()} == {problem.pk, incident.pk}
    assert list(change.customers.all()) == [world.customer_a]
    page = client.get(change.get_absolute_url())
    text = page.content.decode()
    assert page.context["cis"] == [db]
    assert problem.number in text and incident.number in text
    # The problem's page lists the change that fixes it, with the way to raise another.
    problem_page = client.get(problem.get_absolute_url()).content.decode()
    assert change.number in problem_page and "Raise a change to fix this" in problem_page
    incident_page = client.get(incident.get_absolute_url()).content.decode()
    assert change.number in incident_page
    assert f"{reverse('changes:create')}?incident={incident.pk}" in incident_page


def test_a_standard_change_takes_its_plans_from_its_template(world, slot, as_user):
    template = ChangeTemplate.objects.create(
        name="Restart a web node",
        description="Rolling restart",
        implementation_plan="drain, restart, enable",
        backout_plan="none needed",
    )
    template.services.add(world.service)
    client = as_user(world.agent_a)
    r = client.get(reverse("changes:create"))
    assert "Restart a web node" in r.content.decode()
    r = client.get(reverse("changes:create"), {"kind": "standard", "template": template.pk})
    form = r.context["form"]
    assert form.initial["implementation_plan"] == "drain, restart, enable"
    assert form.initial["services"] == [world.service.pk]

    data = form_data(slot, kind="standard", implementation_plan="", backout_plan="")
    r = client.post(reverse("changes:create"), data)
    assert r.status_code == 400 and "template" in r.context["form"].errors
    r = client.post(reverse("changes:create"), {**data, "template": template.pk})
    assert r.status_code == 302
    change = Change.objects.get()
    assert change.kind == "standard" and change.template == template
    assert change.implementation_plan == "drain, restart, enable"
    assert list(change.services.all()) == [world.service]
    # Submitted and assessed, it is pre-approved: no board.
    act(client, change, "transition", {"name": "submit", "version": fresh(change).version})
    act(client, change, "transition", {"name": "assess", "version": fresh(change).version})
    assert fresh(change).status == Status.APPROVED


def test_an_emergency_change_needs_its_reason(world, slot, as_user):
    client = as_user(world.agent_a)
    r = client.get(reverse("changes:create"), {"kind": "emergency"})
    assert "emergency_reason" in r.context["form"].fields
    data = form_data(slot, kind="emergency")
    r = client.post(reverse("changes:create"), data)
    assert r.status_code == 400
    assert "emergency_reason" in r.context["form"].errors
    assert 'id="id_emergency_reason_errors"' in r.content.decode()
    r = client.post(reverse("changes:create"), {**data, "emergency_reason": "Mail is being lost"})
    assert r.status_code == 302
    assert Change.objects.get().kind == "emergency"


def test_bad_input_is_shown_beside_the_fields(world, slot, as_user):
    client = as_user(world.agent_a)
    url = reverse("changes:create")
    r = client.post(url, form_data(slot, planned_end=local(slot[0] - H)))
    assert r.status_code == 400
    assert r.context["form"].errors["planned_end"] == ["The planned end must be after the start."]
    assert 'id="id_planned_end_errors"' in r.content.decode()
    r = client.post(
        url, form_data(slot, short_description="", planned_start="tomorrow", assignee="x")
    )
    assert r.status_code == 400
    assert {"short_description", "planned_start", "assignee"} <= set(r.context["form"].errors)
    r = client.post(url, form_data(slot, kind="sideways"))
    assert r.status_code == 400
    assert "kind" in r.context["form"].errors
    r = client.post(url, form_data(slot, cis="no-such-ci", problems="PRB9999999"))
    assert r.status_code == 400
    assert r.context["form"].errors["problems"] == ["You have no problem PRB9999999."]
    assert not Change.objects.exists()


def test_edit_while_editable_with_version_locking(world, new_change, make_ci, as_user):
    change = new_change()
    make_ci("web-01")
    client = as_user(world.agent_a)
    url = reverse("changes:edit", args=[change.pk])
    r = client.get(url)
    assert r.status_code == 200
    data = {
        **{k: v for k, v in r.context["form"].initial.items() if v is not None},
        "short_description": "Patch the relay, then reboot",
        "planned_start": local(change.planned_start),
        "planned_end": local(change.planned_end),
        "assignment_team": world.team_a.pk,
        "cis": "web-01",
        "version": change.version,
    }
    data.pop("services", None)
    data.pop("customers", None)
    r = client.post(url, data)
    assert r.status_code == 302, r.context["form"].errors
    change = fresh(change)
    assert change.short_description == "Patch the relay, then reboot"
    assert [ci.name for ci in client.get(change.get_absolute_url()).context["cis"]] == ["web-01"]
    # A stale version is refused; the input is kept on the page.
    r = client.post(url, {**data, "short_description": "Late edit"})
    assert r.status_code == 409
    assert "Someone else changed this record" in r.content.decode()
    assert "Late edit" in r.content.decode()
    # Once awaiting approval it can no longer be edited.
    step(change, world.agent_a, "submit")
    change = fresh(change)
    change.risk_class, change.approver_kind = "low", "team_manager"
    change.save()
    step(change, world.agent_a, "assess")
    step(change, world.agent_a, "request_approval")
    r = client.get(url, follow=True)
    assert r.redirect_chain[-1][0] == change.get_absolute_url()
    assert "can no longer be edited" in r.content.decode()


# --- the record page --------------------------------------------------------------------------
def test_the_risk_questionnaire_gives_the_class_and_who_approves(
    world, questions, new_change, cab, as_user
):
    change = new_change()
    client = as_user(world.agent_a)
    page = client.get(change.get_absolute_url())
    assert page.context["risk_form"] is not None
    q1, q2 = questions
    r = act(client, change, "assess", {f"q{q1[1].question_id}": q1[1].pk})
    assert r.status_code == 400
    assert f"q{q2[0].question_id}" in r.context["risk_form"].errors
    r = act(client, change, "assess", {f"q{q[1].question_id}": q[1].pk for q in questions})
    assert r.status_code == 200
    change = fresh(change)
    assert (change.risk_score, change.risk_class, change.approver_kind) == (10, "high", "cab")
    text = r.content.decode()
    assert (
        "Change advisory board" in text and reverse("changes:board_detail", args=[cab.pk]) in text
    )
    # A low score goes to the team's manager.
    r = act(client, change, "assess", {f"q{q[0].question_id}": q[0].pk for q in questions})
    assert fresh(change).approver_kind == "team_manager"
    assert "manager_a" in r.content.decode()


def test_the_impact_comes_from_the_cmdb_with_its_paths(world, new_change, make_ci, as_user):
    from accord.cmdb import actions as cmdb_actions
    from accord.cmdb.models import RelationshipType

    db = make_ci("db-01", "database")
    app = make_ci("crm-app", "application")
    app.services.add(world.service)
    with acting_as(world.admin, "test"):
        cmdb_actions.add_relationship(
            world.admin, app, db, RelationshipType.objects.get(key="depends-on")
        )
    change = new_change(cis=[db])
    r = as_user(world.agent_a).get(change.get_absolute_url())
    impact = r.context["impact"]
    assert impact.total == 1 and impact.items[0]["name"] == "crm-app"
    assert [s.name for s in impact.services] == ["Email"]
    text = r.content.decode()
    assert 'id="impact-items"' in text and "crm-app" in text and "db-01" in text


def test_approvers_decide_and_nobody_decides_on_their_own_change(
    world, questions, new_change, cab, as_user
):
    change = to_approval(
        new_change(user=world.agent_b, assignment_team=world.team_b),
        world.agent_b,
        [q[1] for q in questions],
    )
    assert change.status == Status.AWAITING_APPROVAL and change.board == cab

    # The requester is a member of the board: the form says so and the decision is refused.
    client = as_user(world.agent_b)
    page = client.get(change.get_absolute_url())
    assert page.context["my_approval"] is not None
    r = act(client, change, "decide", {"decision": "approve"})
    assert r.status_code == 400
    assert "You cannot approve or reject your own change." in r.content.decode()

    client = as_user(world.owner)
    assert change.number in client.get(reverse("changes:my_approvals")).content.decode()
    r = client.get(reverse("changes:list"), {"awaiting_me": "true"})
    assert [c.pk for c in r.context["rows"]] == [change.pk]
    r = act(client, change, "decide", {"decision": "reject"})
    assert r.status_code == 400 and "comment" in r.context["decide_form"].errors
    r = act(client, change, "decide", {"decision": "approve", "comment": "Looks safe"})
    assert r.status_code == 200
    assert fresh(change).status == Status.AWAITING_APPROVAL  # 1 of 3
    assert "Looks safe" in r.content.decode()
    # A member of staff who is no approver is refused.
    r = act(as_user(world.agent_a), change, "decide", {"decision": "approve"})
    assert r.status_code == 403
    client = as_user(world.manager_a)
    r = act(client, change, "decide", {"decision": "approve"})
    assert fresh(change).status == Status.APPROVED
    assert r.context["my_approval"] is None
    rows = {a.approver: a.decision for a in fresh(change).approvals.all()}
    assert rows == {world.manager_a: "approve", world.owner: "approve", world.agent_b: "pending"}
    # Decided: nobody decides any more.
    r = act(as_user(world.agent_b), change, "decide", {"decision": "reject", "comment": "x"})
    assert r.status_code == 400 and "This change is not awaiting approval." in r.content.decode()


def test_conflicts_are_shown_explained_and_accepted_with_a_reason(
    world, new_change, make_ci, slot, as_user
):
    db = make_ci("db-01", "database")
    first = new_change(cis=[db], short_description="Kernel patch")
    step(first, world.agent_a, "submit")
    beta_first = new_change(user=world.agent_b, cis=[db], assignment_team=world.team_b)
    beta_first.customers.add(world.customer_b)
    step(beta_first, world.agent_b, "submit")
    second = new_change(cis=[db], short_description="Database upgrade")
    step(second, world.agent_a, "submit")
    client = as_user(world.agent_a)
    page = client.get(second.get_absolute_url())
    conflicts = page.context["conflicts"]
    assert len(conflicts) == 2
    text = page.content.decode()
    assert f"{first.number} also changes db-01 in this time." in text
    # The other customer's change is not named.
    assert beta_first.number not in text
    assert "one you may not see" in text

    second = fresh(second)
    second.risk_class, second.approver_kind = "low", "team_manager"
    second.save()
    step(second, world.agent_a, "assess")
    step(second, world.agent_a, "request_approval")
    client = as_user(world.manager_a)
    page = client.get(second.get_absolute_url())
    assert "conflict_override" in page.context["decide_form"].fields
    r = act(client, second, "override", {"conflict_override": " "})
    assert r.status_code == 400 and "conflict_override" in r.context["override_form"].errors
    r = act(client, second, "decide", {"decision": "approve"})
    assert r.status_code == 400
    assert "conflict_override" in r.context["decide_form"].errors
    r = act(client, second, "override", {"conflict_override": "Tested together in staging"})
    assert r.status_code == 200
    assert 'id="conflicts-accepted"' in r.content.decode()
    r = act(client, second, "decide", {"decision": "approve"})
    second = fresh(second)
    assert second.status == Status.APPROVED
    assert second.conflict_override_by == world.manager_a


def test_finishing_needs_the_outcome_and_closing_the_review(world, new_change, questions, as_user):
    change = to_approval(new_change(), world.agent_a, [questions[0][0], questions[1][0]])
    with acting_as(world.manager_a, "test"):
        actions.decide(change, world.manager_a, Decision.APPROVE)
    client = as_user(world.agent_a)
    for name in ("schedule", "start"):
        r = act(client, change, "transition", {"name": name, "version": fresh(change).version})
        assert r.status_code == 200, r.context["errors"]
    version = fresh(change).version
    r = act(client, change, "transition", {"name": "finish", "version": version})
    assert r.status_code == 400
    form = next(s["form"] for s in r.context["steps"] if s["name"] == "finish")
    assert "outcome" in form.errors and r.context["open_form"] == "tr-finish"
    r = act(
        client, change, "transition", {"name": "finish", "version": version, "outcome": "failed"}
    )
    assert r.status_code == 400
    form = next(s["form"] for s in r.context["steps"] if s["name"] == "finish")
    assert form.errors["outcome_notes"] == ["Say what happened."]
    r = act(
        client,
        change,
        "transition",
        {"name": "finish", "version": version, "outcome": "failed", "outcome_notes": "Disk full"},
    )
    assert r.status_code == 200
    assert fresh(change).status == Status.IMPLEMENTED
    assert "review" in str(r.context["blockers"])
    r = act(client, change, "transition", {"name": "close", "version": fresh(change).version})
    assert r.status_code == 400 and fresh(change).status == Status.IMPLEMENTED
    assert "post-implementation review" in r.content.decode()
    r = act(client, change, "review", {"version": fresh(change).version, "review_notes": ""})
    assert r.status_code == 400 and "review_notes" in r.context["review_form"].errors
    r = act(
        client,
        change,
        "review",
        {"version": fresh(change).version, "review_notes": "Grow the disk first next time"},
    )
    assert r.status_code == 200
    r = act(client, change, "transition", {"name": "close", "version": fresh(change).version})
    change = fresh(change)
    assert change.status == Status.CLOSED and change.outcome == "failed"
    text = r.content.decode()
    assert "Grow the disk first next time" in text and "Disk full" in text
    # The history shows the steps.
    assert "Status changed to Closed." in text


def test_cancel_needs_a_reason_and_a_plain_post_redirects(world, new_change, as_user):
    change = new_change()
    client = as_user(world.agent_a)
    r = act(client, change, "transition", {"name": "cancel", "version": change.version}, htmx=False)
    assert r.status_code == 400
    form = next(s["form"] for s in r.context["steps"] if s["name"] == "cancel")
    assert form.errors["note"]
    r = act(
        client,
        change,
        "transition",
        {"name": "cancel", "version": change.version, "note": "Not needed"},
        htmx=False,
    )
    assert r.status_code == 302
    assert fresh(change).status == Status.CANCELLED
    r = act(client, change, "transition", {"name": "bogus", "version": 1})
    assert r.status_code == 400 and "Unknown action bogus." in r.content.decode()
    r = act(client, change, "no_such_action", {})
    assert r.status_code == 404


def test_cis_are_added_and_removed_on_the_page(world, new_change, make_ci, as_user):
    change = new_change()
    make_ci("web-01")
    make_ci("beta-web", customers=[world.customer_b])
    client = as_user(world.agent_a)
    r = act(client, change, "add_ci", {"ci": "beta-web"})
    assert r.status_code == 400 and r.context["ci_form"].errors["ci"]
    r = act(client, change, "add_ci", {"ci": "web-01"})
    assert [ci.name for ci in r.context["cis"]] == ["web-01"]
    ci = r.context["cis"][0]
    r = act(client, change, "remove_ci", {"ci": ci.pk})
    assert r.context["cis"] == []
    # Once past assessment the list is fixed; the refusal is shown though the form is not.
    Change.objects.filter(pk=change.pk).update(status=Status.AWAITING_APPROVAL)
    r = act(client, change, "add_ci", {"ci": "web-01"})
    assert r.status_code == 400 and r.context["ci_form"] is None
    assert "can no longer change" in str(r.context["errors"])


# --- the list -----------------------------------------------------------------------------------
def test_list_filters_and_csv(world, new_change, make_ci, slot, as_user):
    db = make_ci("db-01", "database")
    one = new_change(cis=[db])
    two = new_change(kind="emergency", emergency_reason="Now", short_description="Hotfix")
    three = new_change(planned_start=slot[0] + 240 * H, planned_end=slot[1] + 240 * H)
    theirs = new_change(user=world.agent_b, assignment_team=world.team_b)
    theirs.customers.add(world.customer_b)
    client = as_user(world.agent_a)
    url = reverse("changes:list")

    def numbers(**params):
        r = client.get(url, params)
        assert r.status_code == 200
        return {c.number for c in r.context["rows"]}

    assert numbers() == {one.number, two.number, three.number}
    assert numbers(kind="emergency") == {two.number}
    assert numbers(ci="db-01") == {one.number}
    assert numbers(ci=str(db.pk)) == {one.number}
    assert numbers(ci="nothing") == set()
    later = timezone.localtime(slot[0] + 100 * H).strftime("%Y-%m-%d")
    assert numbers(planned_from=later) == {three.number}
    assert numbers(planned_before=later) == {one.number, two.number}
    assert numbers(status="draft", assignment_team=world.team_a.pk) == {
        one.number,
        two.number,
        three.number,
    }
    r = client.get(url, {"export": "csv"})
    rows = list(csv.reader(io.StringIO(b"".join(r.streaming_content).decode("utf-8-sig"))))
    assert rows[0][:3] == ["Number", "Short description", "Kind"]
    assert len(rows) == 4 and theirs.number not in str(rows)
    # Bad filter values name the field, never a server error.
    r = client.get(url, {"planned_from": "soon", "status": "nope"})
    assert r.status_code == 200


def test_the_list_costs_the_same_queries_for_more_rows(world, new_change, as_user):
    client = as_user(world.agent_a)
    new_change()
    client.get(reverse("changes:list"))
    with CaptureQueriesContext(connection) as few:
        client.get(reverse("changes:list"))
    for _ in range(5):
        new_change()
    with CaptureQueriesContext(connection) as more:
        r = client.get(reverse("changes:list"))
    assert len(r.context["rows"]) == 6
    assert len(more) == len(few)


# --- boards ------------------------------------------------------------------------------------
def test_boards_meetings_and_their_agenda(world, questions, new_change, cab, as_user):
    waiting = to_approval(new_change(), world.agent_a, [q[1] for q in questions])
    draft = new_change(short_description="Not ready")
    client = as_user(world.agent_a)
    r = client.get(reverse("changes:board_list"))
    assert "CAB" in r.content.decode()
    assert "Set up boards" not in r.content.decode()
    world.admin.is_superuser = world.admin.is_staff = True
    world.admin.save()
    assert (
        "Set up boards" in as_user(world.admin).get(reverse("changes:board_list")).content.decode()
    )
    client = as_user(world.agent_a)
    r = client.get(reverse("changes:board_detail", args=[cab.pk]))
    assert r.status_code == 200 and r.context["form"] is None
    assert waiting in r.context["pending"]
    assert client.post(reverse("changes:board_detail", args=[cab.pk]), {}).status_code == 403

    client = as_user(world.manager_a)
    url = reverse("changes:board_detail", args=[cab.pk])
    r = client.post(url, {"starts_at": "next week"})
    assert r.status_code == 400 and "starts_at" in r.context["form"].errors
    starts = local(timezone.now() + 72 * H)
    r = client.post(url, {"starts_at": starts, "location": "Room 4"})
    meeting = BoardMeeting.objects.get()
    assert r["Location"] == reverse("changes:meeting_detail", args=[meeting.pk])
    page = client.get(r["Location"])
    assert waiting in page.context["candidates"]

    action = lambda name: reverse("changes:meeting_action", args=[meeting.pk, name])  # noqa: E731
    r = client.post(action("agenda_add"), {"change": draft.number})
    assert r.status_code == 400
    assert r.context["agenda_form"].errors["change"] == [
        f"{draft.number} is not awaiting approval."
    ]
    r = client.post(action("agenda_add"), {"change": waiting.number.lower()})
    assert r.status_code == 302
    assert list(AgendaItem.objects.values_list("change_id", flat=True)) == [waiting.pk]
    assert "On the agenda of" in client.get(waiting.get_absolute_url()).content.decode()
    r = client.post(action("minutes"), {"version": meeting.version, "minutes": "Approved 1."})
    assert r.status_code == 302
    r = client.post(action("minutes"), {"version": meeting.version, "minutes": "Stale"})
    assert r.status_code == 409
    assert BoardMeeting.objects.get().minutes == "Approved 1."
    r = client.post(action("agenda_remove"), {"change": waiting.pk})
    assert r.status_code == 302 and not AgendaItem.objects.exists()
    # Agents read the meeting but do not run it.
    assert as_user(world.agent_a).post(action("minutes"), {"version": 2}).status_code == 403


# --- who may do what ------------------------------------------------------------------------------
def test_auditor_reads_and_changes_nothing(world, new_change, as_user):
    change = new_change()
    client = as_user(world.auditor)
    r = client.get(change.get_absolute_url())
    assert r.status_code == 200
    assert not r.context["editable"] and not r.context["steps"]
    assert reverse("changes:edit", args=[change.pk]) not in r.content.decode()
    assert client.get(reverse("changes:list")).status_code == 200
    assert client.get(reverse("changes:create")).status_code == 403
    assert client.get(reverse("changes:edit", args=[change.pk])).status_code == 403
    for name in ("transition", "assess", "decide", "override", "review", "add_ci"):
        r = act(client, change, name, {"name": "submit", "version": change.version})
        assert r.status_code == 403, name
    assert fresh(change).version == change.version


def test_customer_users_have_no_change_pages(world, new_change, cab, as_user):
    change = new_change()
    change.customers.add(world.customer_a)
    client = as_user(world.customer_user_a)
    for url in (
        reverse("changes:list"),
        reverse("changes:create"),
        change.get_absolute_url(),
        reverse("changes:edit", args=[change.pk]),
        reverse("changes:my_approvals"),
        reverse("changes:board_list"),
        reverse("changes:board_detail", args=[cab.pk]),
    ):
        assert client.get(url).status_code == 403, url
    from accord.core import navigation
    from accord.core.policy import scope_for

    assert "changes" not in [i.key for i in navigation.menu_for(scope_for(world.customer_user_a))]
    assert "changes" in [i.key for i in navigation.menu_for(scope_for(world.agent_a))]


def test_agents_do_not_reach_another_customers_changes(world, new_change, as_user):
    theirs = new_change(user=world.agent_b, assignment_team=world.team_b)
    theirs.customers.add(world.customer_b)
    shared = new_change(user=world.agent_b, short_description="Provider's own")
    client = as_user(world.agent_a)
    assert client.get(theirs.get_absolute_url()).status_code == 404
    assert client.get(reverse("changes:edit", args=[theirs.pk])).status_code == 404
    r = act(client, theirs, "transition", {"name": "submit", "version": theirs.version})
    assert r.status_code == 404
    assert client.get(shared.get_absolute_url()).status_code == 200
    r = client.get(reverse("changes:list"))
    assert [c.number for c in r.context["rows"]] == [shared.number]
    assert fresh(theirs).version == theirs.version
