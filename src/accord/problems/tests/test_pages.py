"""The problem pages: list, log (also from incidents), the record page with its
lifecycle steps, analysis, links and review, edit; the incident side (panel, "Raise
problem", the queue's bulk action); and who may do what there."""

import csv
import datetime
import io

import pytest
from django.urls import reverse
from django.utils import timezone

from accord.core.context import acting_as
from accord.problems import actions
from accord.problems.choices import KnownErrorStatus, Status
from accord.problems.models import Problem

pytestmark = pytest.mark.django_db


@pytest.fixture
def raise_problem(world):
    def make(user=None, incidents=(), **fields):
        user = user or world.admin
        data = {"short_description": "Mail queue stalls", "impact": 2, "urgency": 2, **fields}
        with acting_as(user, "test"):
            return actions.create_problem(user, data, incidents=incidents)

    return make


@pytest.fixture
def as_user(client):
    def sign_in(user):
        client.force_login(user)
        return client

    return sign_in


def act(client, problem, action, data, htmx=True):
    url = reverse("problems:action", args=[problem.pk, action])
    headers = {"HTTP_HX_REQUEST": "true"} if htmx else {}
    return client.post(url, data, **headers)


def fresh(problem):
    return Problem.objects.get(pk=problem.pk)


def step(response, name):
    return next(s for s in response.context["steps"] if s["name"] == name)


NEW = {"short_description": "Mail relay drops messages", "impact": 2, "urgency": 2}


# --- log ---------------------------------------------------------------------------------
def test_raised_from_incidents_the_form_is_filled_in_and_links_them(world, make_incident, as_user):
    one = make_incident(
        short_description="Mail bounces", description="Since 9:00", service=world.service
    )
    two = make_incident(short_description="Mail slow", impact=1)
    beta = make_incident(customer=world.customer_b, short_description="Beta secret mail")
    client = as_user(world.agent_a)

    r = client.get(reverse("problems:create"), {"incidents": f"{one.pk},{two.pk},{beta.pk}"})
    assert r.status_code == 200
    text = r.content.decode()
    form = r.context["form"]
    assert form.initial["incidents"] == f"{one.number}, {two.number}"
    assert form.initial["short_description"] == "Mail bounces"
    assert form.initial["impact"] == 1
    assert form.initial["services"] == [world.service.pk]
    assert one.number in text and "Mail slow" in text
    # The incident the agent may not see is refused, named by what was asked for.
    assert f"You have no incident {beta.pk}." in text
    assert beta.number not in text and "Beta secret" not in text

    r = client.post(reverse("problems:create"), {**NEW, "incidents": f"{one.number} {two.number}"})
    assert r.status_code == 302
    problem = Problem.objects.get()
    assert r["Location"] == problem.get_absolute_url()
    assert problem.origin == "incidents"
    assert set(problem.incident_links.values_list("incident_id", flat=True)) == {one.pk, two.pk}
    assert list(problem.services.all()) == [world.service]
    page = client.get(problem.get_absolute_url()).content.decode()
    assert one.number in page and two.number in page

    # Typed numbers of another customer's incident are refused beside the field.
    r = client.post(reverse("problems:create"), {**NEW, "incidents": beta.number})
    assert r.status_code == 400
    assert r.context["form"].errors["incidents"] == [f"You have no incident {beta.number}."]
    assert Problem.objects.count() == 1


def test_bad_input_on_the_form_is_shown_beside_the_fields(world, as_user):
    client = as_user(world.agent_a)
    r = client.post(reverse("problems:create"), {"impact": 9, "urgency": "x"})
    assert r.status_code == 400
    errors = r.context["form"].errors
    assert {"short_description", "impact", "urgency"} <= set(errors)
    assert 'id="id_short_description_errors"' in r.content.decode()
    # A priority other than the matrix's needs a reason (the action's rule, on the field).
    r = client.post(reverse("problems:create"), {**NEW, "priority": 1})
    assert r.status_code == 400
    assert "priority_reason" in r.context["form"].errors
    r = client.post(
        reverse("problems:create"), {**NEW, "priority": 1, "priority_reason": "CEO's mail"}
    )
    assert r.status_code == 302
    problem = Problem.objects.get()
    assert problem.priority == 1 and problem.origin == "proactive"
    assert problem.target_date == timezone.localdate() + datetime.timedelta(days=7)


# --- list --------------------------------------------------------------------------------
def test_list_filters_overdue_highlight_and_csv(world, make_incident, raise_problem, as_user):
    late = raise_problem(short_description="Late one", owner=world.agent_a)
    Problem.objects.filter(pk=late.pk).update(target_date=datetime.date(2020, 1, 1))
    on_time = raise_problem(short_description="On time", impact=1, urgency=1)
    beta = raise_problem(
        short_description="Beta only", incidents=[make_incident(customer=world.customer_b)]
    )
    client = as_user(world.agent_a)

    r = client.get(reverse("problems:list"))
    assert r.status_code == 200
    text = r.content.decode()
    assert late.number in text and on_time.number in text and beta.number not in text
    assert r.context["total"] == 2
    # Sorted by priority; the overdue target date is flagged.
    assert text.index(on_time.number) < text.index(late.number)
    assert '2020-01-01</time> <span class="badge text-bg-danger">overdue' in text

    r = client.get(reverse("problems:list"), {"overdue": "true"})
    assert [row.pk for row in r.context["rows"]] == [late.pk]
    r = client.get(reverse("problems:list"), {"owner": world.agent_a.pk, "is_open": "true"})
    assert [row.pk for row in r.context["rows"]] == [late.pk]
    r = client.get(reverse("problems:list"), {"priority": [1]})
    assert [row.pk for row in r.context["rows"]] == [on_time.pk]
    # A filter value the agent may not use gives nothing, not an error page.
    r = client.get(reverse("problems:list"), {"customer": world.customer_b.pk})
    assert r.status_code == 200 and r.context["total"] == 0

    r = client.get(reverse("problems:list"), {"export": "csv"})
    rows = list(csv.reader(io.StringIO(b"".join(r.streaming_content).decode("utf-8-sig"))))
    assert rows[0][:3] == ["Number", "Short description", "Status"]
    assert {row[0] for row in rows[1:]} == {late.number, on_time.number}


# --- the record page: lifecycle ----------------------------------------------------------
def test_the_lifecycle_on_the_page_with_each_steps_errors(
    world, make_incident, raise_problem, as_user
):
    incident = make_incident()
    problem = raise_problem(incidents=[incident])
    client = as_user(world.agent_a)
    r = client.get(problem.get_absolute_url())
    assert r.status_code == 200
    assert [s["name"] for s in r.context["steps"]] == ["investigate", "root_cause", "cancel"]

    # A step that is not possible now is refused in words.
    r = act(client, problem, "transition", {"name": "close", "version": problem.version})
    assert r.status_code == 400
    assert any("not possible while the problem is New" in e for e in r.context["errors"])
    # Cancel needs a reason, shown on its own field; the form stays open.
    r = act(client, problem, "transition", {"name": "cancel", "version": problem.version})
    assert r.status_code == 400
    assert step(r, "cancel")["form"].errors["note"] == ["Give a reason."]
    assert step(r, "cancel")["open"] and 'id="tr-cancel-note_errors"' in r.content.decode()

    r = act(client, problem, "transition", {"name": "investigate", "version": problem.version})
    assert r.status_code == 200 and fresh(problem).status == Status.INVESTIGATING
    problem = fresh(problem)
    # Known error without its root cause and workaround: both fields say so.
    r = act(
        client,
        problem,
        "transition",
        {"name": "known_error", "version": problem.version, "root_cause": "", "workaround": ""},
    )
    assert r.status_code == 400
    errors = step(r, "known_error")["form"].errors
    assert errors["root_cause"] == ["Describe the root cause."]
    assert errors["workaround"] == ["Describe the workaround."]
    r = act(
        client,
        problem,
        "transition",
        {
            "name": "known_error",
            "version": problem.version,
            "root_cause": "Spool disk fills up",
            "workaround": "1. Purge the spool",
        },
    )
    assert r.status_code == 200
    problem = fresh(problem)
    assert problem.status == Status.KNOWN_ERROR and problem.root_cause == "Spool disk fills up"
    known = problem.known_errors.get()
    assert known.number in r.content.decode()

    # Resolve needs the fixing change and the fix.
    r = act(client, problem, "transition", {"name": "resolve", "version": problem.version})
    assert set(step(r, "resolve")["form"].errors) == {"fix_change", "fix_description"}
    r = act(
        client,
        problem,
        "transition",
        {
            "name": "resolve",
            "version": problem.version,
            "root_cause": problem.root_cause,
            "fix_change": "CHG0000042",
            "fix_description": "Rotate the spool",
        },
    )
    assert r.status_code == 200
    problem = fresh(problem)
    assert problem.status == Status.RESOLVED
    text = r.content.decode()
    assert "Confirm that the fixing change closed successfully." in text
    assert r.context["may_confirm_fix"]
    # Closing before the fix is confirmed: refused with the blocker in words.
    r = act(client, problem, "transition", {"name": "close", "version": problem.version})
    assert r.status_code == 400
    assert "Confirm that the fixing change closed successfully." in r.context["errors"]
    r = act(client, problem, "confirm_fix", {"version": problem.version, "note": "CAB saw it"})
    assert r.status_code == 200
    problem = fresh(problem)
    r = act(client, problem, "transition", {"name": "close", "version": problem.version})
    assert r.status_code == 200
    problem = fresh(problem)
    assert problem.status == Status.CLOSED
    known.refresh_from_db()
    assert known.status == KnownErrorStatus.FIXED
    # A closed problem offers no more steps or edits.
    assert r.context["steps"] == [] and not r.context["editable"]


def test_a_stale_step_is_refused_and_a_plain_post_redirects(world, raise_problem, as_user):
    problem = raise_problem()
    client = as_user(world.agent_a)
    r = act(client, problem, "transition", {"name": "investigate", "version": 99})
    assert r.status_code == 409
    assert "Someone else changed this problem" in r.content.decode()
    r = act(client, problem, "transition", {"name": "investigate", "version": 1}, htmx=False)
    assert r.status_code == 302 and r["Location"] == problem.get_absolute_url()
    # Refused without htmx: the whole page with the errors beside the fields.
    problem = fresh(problem)
    r = act(client, problem, "transition", {"name": "cancel", "version": problem.version}, False)
    assert r.status_code == 400
    assert "<html" in r.content.decode() and "Give a reason." in r.content.decode()
    r = act(client, problem, "transition", {"name": "fly", "version": problem.version})
    assert r.status_code == 400 and "Unknown action fly." in r.context["errors"]
    assert act(client, problem, "no_such_thing", {}).status_code == 404


def test_accepting_a_risk_offers_only_eligible_approvers(world, raise_problem, as_user):
    problem = raise_problem()
    with acting_as(world.admin, "test"):
        actions.transition(problem, world.admin, "root_cause", root_cause="Old firmware")
    agent_page = as_user(world.agent_a).get(problem.get_absolute_url())
    assert "accept_risk" not in [s["name"] for s in agent_page.context["steps"]]

    client = as_user(world.manager_a)
    r = client.get(problem.get_absolute_url())
    field = step(r, "accept_risk")["form"].fields["risk_approver"]
    assert set(field.queryset) == {world.admin, world.manager_a, world.owner}
    problem = fresh(problem)
    r = act(
        client,
        problem,
        "transition",
        {"name": "accept_risk", "version": problem.version, "risk_reason": ""},
    )
    assert r.status_code == 400
    errors = step(r, "accept_risk")["form"].errors
    assert errors["risk_reason"] == ["Say why the risk is accepted."]
    assert errors["risk_approver"] == ["Name who approved accepting the risk."]
    r = act(
        client,
        problem,
        "transition",
        {
            "name": "accept_risk",
            "version": problem.version,
            "risk_reason": "End of life in a month",
            "risk_approver": world.agent_a.pk,
        },
    )
    assert "risk_approver" in step(r, "accept_risk")["form"].errors
    r = act(
        client,
        problem,
        "transition",
        {
            "name": "accept_risk",
            "version": problem.version,
            "risk_reason": "End of life in a month",
            "risk_approver": world.owner.pk,
        },
    )
    assert r.status_code == 200
    problem = fresh(problem)
    assert problem.status == Status.ACCEPTED_RISK and problem.risk_approver == world.owner
    assert "End of life in a month" in r.content.decode()


# --- root cause analysis -------------------------------------------------------------------
def test_analysis_text_and_rows(world, raise_problem, as_user):
    problem = raise_problem()
    client = as_user(world.agent_a)
    r = act(
        client,
        problem,
        "analysis",
        {
            "version": problem.version,
            "symptoms": "Mail waits an hour",
            "rca_method": "five_whys",
            "root_cause": "",
            "workaround": "Restart the relay",
        },
    )
    assert r.status_code == 200
    problem = fresh(problem)
    assert (problem.symptoms, problem.rca_method) == ("Mail waits an hour", "five_whys")
    # A stale analysis save keeps what was typed and says why.
    r = act(
        client,
        problem,
        "analysis",
        {"version": 1, "symptoms": "Typed late", "rca_method": "", "root_cause": ""},
    )
    assert r.status_code == 409
    assert r.context["analysis_form"]["symptoms"].value() == "Typed late"
    assert r.context["analysis_form"]["version"].value() == problem.version
    r = act(client, problem, "analysis", {"version": problem.version, "rca_method": "guess"})
    assert r.status_code == 400 and "rca_method" in r.context["analysis_form"].errors

    # Five whys, a factor and a timeline entry; bad rows are refused on their fields.
    for question, answer in (("Why late?", "Queue full"), ("Why full?", "Disk full")):
        r = act(
            client, problem, "add_row", {"part": "step", "question": question, "answer": answer}
        )
        assert r.status_code == 200
    r = act(client, problem, "add_row", {"part": "factor", "kind": "luck", "description": "x"})
    assert r.status_code == 400 and "kind" in r.context["row_forms"]["factor"].errors
    r = act(client, problem, "add_row", {"part": "factor", "kind": "process", "description": "x"})
    assert r.status_code == 200 and r.context["factors"][0].get_kind_display() == "Process"
    r = act(
        client,
        problem,
        "add_row",
        {"part": "timeline", "at": "yesterday", "description": "First alert"},
    )
    assert r.status_code == 400
    assert "at" in r.context["row_forms"]["timeline"].errors
    assert r.context["row_forms"]["timeline"]["description"].value() == "First alert"
    r = act(
        client,
        problem,
        "add_row",
        {"part": "timeline", "at": "2024-05-01T09:30", "description": "First alert"},
    )
    assert r.status_code == 200
    assert "First alert" in r.content.decode()
    assert [s.position for s in problem.analysis_steps.all()] == [1, 2]
    first = problem.analysis_steps.first()
    r = act(client, problem, "remove_row", {"part": "step", "row": first.pk})
    assert r.status_code == 200
    assert [s.question for s in problem.analysis_steps.all()] == ["Why full?"]
    r = act(client, problem, "remove_row", {"part": "step", "row": first.pk})
    assert r.status_code == 400
    assert "That entry is not part of this problem." in r.context["errors"]
    r = act(client, problem, "add_row", {"part": "nonsense"})
    assert r.status_code == 400


# --- review --------------------------------------------------------------------------------
def test_review_and_prevention_actions_of_a_major_problem(world, raise_problem, as_user):
    problem = raise_problem(is_major=True)
    client = as_user(world.agent_a)
    r = client.get(problem.get_absolute_url())
    assert "A major problem needs a completed review before it can close." in r.content.decode()
    assert "Complete the problem review (a major problem needs one)." in r.context["blockers"]

    r = act(
        client,
        problem,
        "review_action",
        {"description": "Alert on spool", "owner": world.agent_a.pk, "due": "2030-01-01"},
    )
    assert r.status_code == 400
    assert r.context["review_action_form"].errors["description"] == ["Write the review first."]
    r = act(client, problem, "review", {"summary": ""})
    assert r.status_code == 400 and "summary" in r.context["review_form"].errors
    r = act(client, problem, "review", {"summary": "Slow to spot", "went_well": "Fix was quick"})
    assert r.status_code == 200 and r.context["review"].completed_at is None
    r = act(client, problem, "review_action", {"description": "", "owner": "", "due": "soon"})
    assert r.status_code == 400
    assert set(r.context["review_action_form"].errors) == {"description", "owner", "due"}
    r = act(
        client,
        problem,
        "review_action",
        {"description": "Alert on spool", "owner": world.agent_a.pk, "due": "2030-01-01"},
    )
    assert r.status_code == 200
    action = r.context["review_actions"][0]
    r = act(client, problem, "action_done", {"action": action.pk, "note": "Alert added"})
    assert r.status_code == 200
    assert "Alert added" in r.content.decode()
    r = act(client, problem, "action_done", {"action": action.pk})
    assert r.status_code == 400 and "This action is already done." in r.context["errors"]
    r = act(client, problem, "action_done", {"action": "x"})
    assert r.status_code == 400
    r = act(client, problem, "review", {"summary": "Slow to spot", "complete": "on"})
    assert r.status_code == 200 and r.context["review"].completed_at is not None
    assert "Complete the problem review" not in " ".join(map(str, r.context["blockers"]))
    r = act(client, problem, "review", {"summary": "Later"})
    assert r.status_code == 400


# --- linked incidents and CIs ----------------------------------------------------------------
def test_link_and_unlink_incidents_on_the_page(world, make_incident, raise_problem, as_user):
    problem = raise_problem()
    mine = make_incident(short_description="Mine")
    beta = make_incident(customer=world.customer_b, short_description="Beta hidden")
    client = as_user(world.agent_a)
    r = act(client, problem, "link", {"incidents": beta.number})
    assert r.status_code == 400
    assert r.context["link_form"].errors["incidents"] == [f"You have no incident {beta.number}."]
    assert "Beta hidden" not in r.content.decode()
    r = act(client, problem, "link", {"incidents": mine.number.lower()})
    assert r.status_code == 200 and [i.pk for i in r.context["incidents"]] == [mine.pk]
    r = act(client, problem, "link", {"incidents": mine.number})
    assert r.status_code == 400
    assert "These incidents are already linked." in str(r.context["link_form"].errors)
    r = act(client, problem, "unlink", {"incident": beta.pk})
    assert r.status_code == 400
    r = act(client, problem, "unlink", {"incident": mine.pk})
    assert r.status_code == 200 and r.context["incidents"] == []


def test_configuration_items_are_linked_through_the_cmdb_panel(world, raise_problem, as_user):
    from accord.cmdb import actions as cmdb_actions
    from accord.cmdb.models import CIType, ConfigurationItem
    from accord.cmdb.testing import ensure_starting_types

    ensure_starting_types()
    with acting_as(world.admin, "test"):
        ci = cmdb_actions.save_ci(
            ConfigurationItem(name="mail-relay-1", ci_type=CIType.objects.get(key="server")),
            customers=[world.customer_a],
        )
    problem = raise_problem()
    client = as_user(world.agent_a)
    r = client.get(problem.get_absolute_url())
    panel = r.context["ci_panel"]
    assert panel["can_change"] and panel["cis"] == []
    r = client.post(
        reverse("cmdb:affected", args=[panel["content_type_id"], problem.pk]), {"ci": ci.name}
    )
    assert r.status_code == 302 and r["Location"] == problem.get_absolute_url()
    r = client.get(problem.get_absolute_url())
    assert r.context["ci_panel"]["cis"] == [ci]
    assert "mail-relay-1" in r.content.decode()
    # Declaring the known error copies the CI to it.
    with acting_as(world.agent_a, "test"):
        actions.transition(problem, world.agent_a, "investigate")
        actions.transition(problem, world.agent_a, "known_error", root_cause="r", workaround="w")
    from accord.cmdb.models import CILink

    known = problem.known_errors.get()
    assert CILink.objects.filter(ci=ci, object_id=known.pk).exists()


# --- edit ----------------------------------------------------------------------------------
def test_edit_with_optimistic_locking_keeps_hidden_customers(
    world, make_incident, raise_problem, as_user
):
    problem = raise_problem(incidents=[make_incident(), make_incident(customer=world.customer_b)])
    assert set(problem.customers.all()) == {world.customer_a, world.customer_b}
    client = as_user(world.agent_a)
    url = reverse("problems:edit", args=[problem.pk])
    r = client.get(url)
    assert r.status_code == 200
    assert "Beta plc" not in r.content.decode()
    data = {
        "short_description": "Renamed",
        "impact": 2,
        "urgency": 2,
        "priority": problem.priority,
        "customers": [world.customer_a.pk],
        "target_date": "2031-02-03",
        "version": problem.version,
    }
    r = client.post(url, data)
    assert r.status_code == 302
    problem = fresh(problem)
    assert problem.short_description == "Renamed"
    assert problem.target_date == datetime.date(2031, 2, 3)
    assert set(problem.customers.all()) == {world.customer_a, world.customer_b}
    # Saving over someone else's change is refused; the input is kept.
    r = client.post(url, {**data, "short_description": "Late edit"})
    assert r.status_code == 409
    assert "Someone else changed this record" in r.content.decode()
    assert r.context["form"]["short_description"].value() == "Late edit"
    assert fresh(problem).short_description == "Renamed"
    # A closed problem can't be changed: said on the form.
    with acting_as(world.admin, "test"):
        actions.transition(fresh(problem), world.admin, "cancel", note="Duplicate")
    problem = fresh(problem)
    r = client.post(url, {**data, "version": problem.version})
    assert r.status_code == 400
    assert "A closed or cancelled problem cannot be changed." in r.content.decode()


# --- who may do what -------------------------------------------------------------------------
def test_auditor_reads_but_changes_nothing(world, make_incident, raise_problem, as_user):
    incident = make_incident()
    problem = raise_problem(incidents=[incident])
    client = as_user(world.auditor)
    r = client.get(problem.get_absolute_url())
    assert r.status_code == 200
    assert r.context["steps"] == [] and not r.context["writable"]
    text = r.content.decode()
    assert reverse("problems:edit", args=[problem.pk]) not in text
    assert 'name="csrfmiddlewaretoken"' not in text.split('id="record"')[1]
    assert client.get(reverse("problems:list")).status_code == 200
    assert client.get(reverse("problems:create")).status_code == 403
    assert client.post(reverse("problems:create"), NEW).status_code == 403
    assert client.get(reverse("problems:edit", args=[problem.pk])).status_code == 403
    for action, data in (
        ("transition", {"name": "investigate", "version": problem.version}),
        ("link", {"incidents": incident.number}),
        ("add_row", {"part": "factor", "kind": "people", "description": "x"}),
        ("review", {"summary": "x"}),
    ):
        assert act(client, problem, action, data).status_code == 403, action
    r = client.post(
        reverse("problems:incident_link", args=[incident.pk]), {"number": problem.number}
    )
    assert r.status_code == 403
    assert fresh(problem).version == problem.version
    # The incident page shows the problem but offers no way to raise or link one.
    r = client.get(incident.get_absolute_url())
    panel = next(p for p in r.context["panels"] if p["template"].startswith("problems/"))
    assert panel["problems"] == [problem] and not panel["can_link"] and not panel["toolbar"]
    assert reverse("problems:create") not in r.content.decode()


def test_customer_users_get_nothing(world, make_incident, raise_problem, as_user):
    incident = make_incident()
    problem = raise_problem(incidents=[incident])
    client = as_user(world.customer_user_a)
    for url in (
        reverse("problems:list"),
        reverse("problems:create"),
        problem.get_absolute_url(),
        reverse("problems:edit", args=[problem.pk]),
    ):
        assert client.get(url).status_code == 403, url
    assert act(client, problem, "link", {"incidents": incident.number}).status_code == 403
    text = client.get(incident.get_absolute_url()).content.decode()
    assert problem.number not in text and "Raise problem" not in text
    assert (
        reverse("problems:create")
        not in client.get(reverse("incidents:queue"), {"queue": "open"}).content.decode()
    )


def test_agents_see_and_link_only_their_customers(world, make_incident, raise_problem, as_user):
    alpha = raise_problem(incidents=[make_incident()])
    client = as_user(world.agent_b)
    assert client.get(alpha.get_absolute_url()).status_code == 404
    assert client.get(reverse("problems:edit", args=[alpha.pk])).status_code == 404
    assert (
        act(client, alpha, "transition", {"name": "investigate", "version": 1}).status_code == 404
    )
    beta_incident = make_incident(customer=world.customer_b)
    r = client.post(
        reverse("problems:incident_link", args=[beta_incident.pk]),
        {"number": alpha.number},
        follow=True,
    )
    assert f"You have no problem {alpha.number}." in r.content.decode()
    assert not alpha.incident_links.filter(incident=beta_incident).exists()


def test_a_problem_of_two_customers_names_each_ones_incidents_to_nobody_else(
    world, make_incident, raise_problem, as_user
):
    alpha = make_incident(short_description="Alphasecret relay stalls")
    beta = make_incident(customer=world.customer_b, short_description="Betasecret relay stalls")
    problem = raise_problem(incidents=[alpha, beta])
    page = as_user(world.agent_a).get(problem.get_absolute_url()).content.decode()
    assert alpha.number in page and beta.number not in page and "Betasecret" not in page
    assert "Incident one of the incidents linked." not in page  # the wording reads well
    page = as_user(world.agent_b).get(problem.get_absolute_url()).content.decode()
    assert beta.number in page and alpha.number not in page and "Alphasecret" not in page
    # Each incident's own journal names the problem: its staff may all see it.
    page = as_user(world.agent_b).get(beta.get_absolute_url()).content.decode()
    assert f"Linked to problem {problem}." in page


# --- the incident side -----------------------------------------------------------------------
def test_incident_page_raises_and_links_problems(world, make_incident, raise_problem, as_user):
    incident = make_incident(short_description="Printer jams")
    client = as_user(world.agent_a)
    r = client.get(incident.get_absolute_url())
    text = r.content.decode()
    assert f'href="{reverse("problems:create")}?incidents={incident.pk}"' in text
    assert "Not linked to a problem." in text
    problem = raise_problem(short_description="Printers jam")
    r = client.post(
        reverse("problems:incident_link", args=[incident.pk]),
        {"number": problem.number.lower()},
        follow=True,
    )
    text = r.content.decode()
    assert f"Linked to problem {problem.number}." in text
    assert f'href="{problem.get_absolute_url()}"' in text
    r = client.post(
        reverse("problems:incident_link", args=[incident.pk]), {"number": "PRB9999999"}, follow=True
    )
    assert "You have no problem PRB9999999." in r.content.decode()
    r = client.post(reverse("problems:incident_link", args=[incident.pk]), {}, follow=True)
    assert "Problem number: This field is required." in r.content.decode()


def test_the_queue_offers_raising_a_problem_from_ticked_incidents(world, make_incident, as_user):
    one, two = make_incident(), make_incident()
    client = as_user(world.agent_a)
    r = client.get(reverse("incidents:queue"), {"queue": "open"})
    text = r.content.decode()
    assert 'id="queue-selection"' in text
    assert f'formaction="{reverse("problems:create")}"' in text
    for incident in (one, two):
        assert f'name="incidents" form="queue-selection" value="{incident.pk}"' in text
    # The ticked ids arrive as repeated parameters.
    r = client.get(reverse("problems:create"), {"incidents": [one.pk, two.pk]})
    assert r.context["form"].initial["incidents"] == f"{one.number}, {two.number}"
    # The CSV export has no tick box column.
    r = client.get(reverse("incidents:queue"), {"queue": "open", "export": "csv"})
    header = b"".join(r.streaming_content).decode("utf-8-sig").splitlines()[0]
    assert header.startswith("Number,")
    # Requests have no such action, and the auditor is not offered it.
    assert (
        'id="queue-selection"'
        not in client.get(reverse("requests:queue"), {"queue": "open"}).content.decode()
    )
    assert (
        'id="queue-selection"'
        not in as_user(world.auditor)
        .get(reverse("incidents:queue"), {"queue": "open"})
        .content.decode()
    )


def test_editing_impact_with_the_priority_left_alone_follows_the_matrix(
    world, raise_problem, as_user
):
    problem = raise_problem()  # impact 2, urgency 2: P3
    client = as_user(world.agent_a)
    data = {
        "short_description": problem.short_description,
        "impact": 1,
        "urgency": 2,
        "priority": problem.priority,
        "target_date": problem.target_date.isoformat(),
        "version": problem.version,
    }
    r = client.post(reverse("problems:edit", args=[problem.pk]), data)
    assert r.status_code == 302
    assert fresh(problem).priority == 2


def test_work_notes_go_to_the_problems_journal(world, raise_problem, as_user):
    from accord.core.models import JournalEntry

    problem = raise_problem()
    client = as_user(world.agent_a)
    refused = act(client, problem, "note", {"body": "  "})
    assert refused.status_code == 400 and "Write something first." in refused.content.decode()
    assert act(client, problem, "note", {"body": "Vendor ticket 4711 opened"}).status_code == 200
    note = JournalEntry.objects.get(object_id=problem.pk, kind=JournalEntry.Kind.WORK_NOTE)
    assert note.body == "Vendor ticket 4711 opened" and note.customer_visible is False
    assert "Vendor ticket 4711" in client.get(problem.get_absolute_url()).content.decode()
    assert act(as_user(world.auditor), problem, "note", {"body": "x"}).status_code == 403
