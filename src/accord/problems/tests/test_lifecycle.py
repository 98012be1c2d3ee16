"""The problem process: raising, priority and targets, the lifecycle and its rules,
closure, accepted risk, reviews, known errors and workarounds."""

import datetime

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from accord.core.context import acting_as
from accord.core.models import JournalEntry
from accord.core.policy import restrict
from accord.problems import actions
from accord.problems.choices import KnownErrorStatus, Origin, Status
from accord.problems.models import KnownError, Problem, ProblemPriorityRule, ProblemSettings


@pytest.fixture
def raise_problem(world):
    def make(user=None, incidents=(), **fields):
        data = {"short_description": "Mail queue stalls", "impact": 2, "urgency": 2, **fields}
        with acting_as(user or world.admin, "test"):
            return actions.create_problem(user or world.admin, data, incidents=incidents)

    return make


def step(problem, user, name, **fields):
    with acting_as(user, "test"):
        return actions.transition(problem, user, name, **fields)


def journal(record):
    from django.contrib.contenttypes.models import ContentType

    return list(
        JournalEntry.objects.filter(
            content_type=ContentType.objects.get_for_model(type(record)), object_id=record.pk
        )
        .order_by("pk")
        .values_list("kind", "customer_visible", "body")
    )


def test_raised_from_incidents_it_takes_their_customers_and_services(
    world, make_incident, raise_problem
):
    one = make_incident(service=world.service)
    two = make_incident(customer=world.customer_b, service=world.service_b_only)
    problem = raise_problem(incidents=[one, two])
    assert problem.number.startswith("PRB") and problem.origin == Origin.INCIDENTS
    assert set(problem.customers.all()) == {world.customer_a, world.customer_b}
    assert set(problem.services.all()) == {world.service, world.service_b_only}
    assert [p.pk for p in actions.problems_of(one, world.admin)] == [problem.pk]
    assert any(f"Linked to problem {problem.number}" in body for _k, _v, body in journal(one))
    # Priority from the problems' own matrix, and a target date from it.
    assert problem.priority == 3
    assert problem.target_date == timezone.localdate() + datetime.timedelta(days=30)
    assert raise_problem().origin == Origin.PROACTIVE


def test_the_problem_matrix_is_its_own_and_an_override_needs_a_reason(world, raise_problem):
    assert raise_problem(impact=3, urgency=3).priority == 5  # planning
    ProblemPriorityRule.objects.create(impact=2, urgency=2, priority=2)
    ProblemSettings.objects.create(p2_days=3)
    problem = raise_problem()
    assert problem.priority == 2
    assert problem.target_date == timezone.localdate() + datetime.timedelta(days=3)
    with acting_as(world.admin, "test"), pytest.raises(ValidationError) as exc:
        actions.create_problem(
            world.admin, {"short_description": "x", "impact": 3, "urgency": 3}, priority=1
        )
    assert "priority_reason" in exc.value.message_dict


def test_an_edit_keeps_an_override_until_impact_or_urgency_change(world, raise_problem):
    with acting_as(world.admin, "test"):
        problem = actions.create_problem(
            world.admin,
            {"short_description": "x", "impact": 3, "urgency": 3},
            priority=2,
            priority_reason="Board asked",
        )
        actions.update_problem(problem, world.admin, {"description": "more"}, priority=2)
        assert problem.priority == 2
        actions.update_problem(problem, world.admin, {"urgency": 2})
        assert problem.priority == 4  # the matrix again
        with pytest.raises(ValidationError) as exc:
            actions.update_problem(problem, world.admin, {}, priority=1)
        assert "priority_reason" in exc.value.message_dict


def test_a_user_cannot_link_an_incident_they_cannot_see(world, make_incident, raise_problem):
    beta = make_incident(customer=world.customer_b)
    with acting_as(world.agent_a, "test"), pytest.raises(ValidationError) as exc:
        actions.create_problem(
            world.agent_a, {"short_description": "x", "impact": 2, "urgency": 2}, incidents=[beta]
        )
    assert beta.number in exc.value.message_dict["incidents"][0]
    problem = raise_problem(user=world.agent_a)
    with acting_as(world.agent_a, "test"), pytest.raises(ValidationError):
        actions.link_incidents(problem, world.agent_a, [beta])
    assert not problem.incident_links.exists()
    with acting_as(world.auditor, "test"), pytest.raises(PermissionDenied):
        actions.create_problem(world.auditor, {"short_description": "x"})


def test_who_sees_a_problem(world, make_incident, raise_problem):
    alpha = raise_problem(incidents=[make_incident()])
    beta = raise_problem(incidents=[make_incident(customer=world.customer_b)])
    shared = raise_problem()

    def seen(user):
        return set(restrict(Problem.objects.all(), user))

    assert seen(world.admin) == seen(world.auditor) == {alpha, beta, shared}
    assert seen(world.agent_a) == {alpha, shared}
    assert seen(world.agent_b) == {beta, shared}
    assert seen(world.customer_user_a) == set()


def test_the_lifecycle_to_closure_tells_callers_and_fixes_the_known_error(
    world, make_incident, raise_problem
):
    incident = make_incident(service=world.service)
    problem = raise_problem(incidents=[incident])
    step(problem, world.agent_a, "investigate")
    with pytest.raises(ValidationError) as exc:
        step(problem, world.agent_a, "known_error")
    assert set(exc.value.message_dict) == {"root_cause", "workaround"}
    step(problem, world.agent_a, "root_cause", root_cause="Disk fills with spool files")
    assert problem.status == Status.ROOT_CAUSE_KNOWN and problem.root_cause_at is not None
    step(problem, world.agent_a, "known_error", workaround="1. Purge the spool\n2. Restart")
    known = problem.known_errors.get()
    assert known.number.startswith("KE") and known.status == KnownErrorStatus.OPEN
    assert list(known.services.all()) == [world.service]
    with pytest.raises(ValidationError) as exc:
        step(problem, world.agent_a, "resolve")
    assert set(exc.value.message_dict) == {"fix_change", "fix_description"}
    step(problem, world.agent_a, "resolve", fix_change="CHG0000042", fix_description="Rotate")
    assert problem.status == Status.RESOLVED
    told = [e for e in journal(incident) if e[0] == JournalEntry.Kind.REPLY]
    assert told and told[0][1] is True and problem.number in told[0][2]
    # Closing waits for the change to be confirmed closed successfully.
    with pytest.raises(ValidationError) as exc:
        step(problem, world.agent_a, "close")
    assert "fixing change" in str(exc.value.message_dict["transition"])
    with acting_as(world.agent_a, "test"):
        actions.confirm_fix(problem, world.agent_a)
    step(problem, world.agent_a, "close")
    assert problem.status == Status.CLOSED and not problem.is_open
    known.refresh_from_db()
    assert known.status == KnownErrorStatus.FIXED and known.fixed_at is not None


def test_a_major_problem_closes_only_after_its_review(world, raise_problem):
    problem = raise_problem(is_major=True)
    step(problem, world.admin, "investigate")
    step(problem, world.admin, "resolve", root_cause="r", fix_change="C1", fix_description="f")
    with acting_as(world.admin, "test"):
        actions.confirm_fix(problem, world.admin)
    with pytest.raises(ValidationError) as exc:
        step(problem, world.admin, "close")
    assert "review" in str(exc.value.message_dict["transition"])
    with acting_as(world.admin, "test"):
        with pytest.raises(ValidationError):  # a review needs its summary
            actions.save_review(problem, world.admin, {"summary": ""}, complete=True)
        actions.save_review(problem, world.admin, {"summary": "Went fine"}, complete=False)
        action = actions.add_review_action(
            problem,
            world.admin,
            description="Alert on spool size",
            owner=world.agent_a,
            due=datetime.date(2030, 1, 1),
        )
        actions.save_review(problem, world.admin, {"went_well": "Fast"}, complete=True)
        with pytest.raises(ValidationError):
            actions.save_review(problem, world.admin, {"summary": "later"}, complete=False)
        actions.complete_review_action(action, world.admin, note="Alert added")
        with pytest.raises(ValidationError):
            actions.complete_review_action(action, world.admin)
    step(problem, world.admin, "close")
    assert problem.status == Status.CLOSED


def test_accepting_a_risk_needs_a_reason_and_an_approver(world, raise_problem):
    problem = raise_problem()
    step(problem, world.manager_a, "root_cause", root_cause="Old firmware")
    with pytest.raises(ValidationError) as exc:
        step(problem, world.manager_a, "accept_risk")
    assert set(exc.value.message_dict) == {"risk_reason", "risk_approver"}
    with pytest.raises(ValidationError) as exc:
        step(
            problem, world.manager_a, "accept_risk", risk_reason="EOL", risk_approver=world.agent_a
        )
    assert "risk_approver" in exc.value.message_dict
    with pytest.raises(PermissionDenied):
        step(problem, world.agent_a, "accept_risk", risk_reason="EOL", risk_approver=world.owner)
    step(problem, world.manager_a, "accept_risk", risk_reason="EOL soon", risk_approver=world.owner)
    assert problem.status == Status.ACCEPTED_RISK and problem.closed_at is not None
    assert "accept_risk" not in dict(actions.available_transitions(problem, world.admin))


def test_steps_refused_in_the_wrong_state_or_without_a_reason(world, raise_problem):
    problem = raise_problem()
    with pytest.raises(ValidationError) as exc:
        step(problem, world.admin, "close")
    assert "not possible" in str(exc.value.message_dict["transition"])
    with pytest.raises(ValidationError) as exc:
        step(problem, world.admin, "cancel")
    assert "note" in exc.value.message_dict
    step(problem, world.admin, "cancel", note="Duplicate of another")
    with acting_as(world.admin, "test"), pytest.raises(ValidationError):
        actions.update_problem(problem, world.admin, {"short_description": "late"})


def test_root_cause_analysis_rows(world, raise_problem):
    problem = raise_problem()
    with acting_as(world.agent_a, "test"):
        first = actions.add_rca_row(
            problem, world.agent_a, "step", {"question": "Why?", "answer": "Disk full"}
        )
        second = actions.add_rca_row(
            problem, world.agent_a, "step", {"question": "Why full?", "answer": "No rotation"}
        )
        actions.add_rca_row(
            problem, world.agent_a, "factor", {"kind": "process", "description": "No check"}
        )
        actions.add_rca_row(
            problem,
            world.agent_a,
            "timeline",
            {"at": timezone.now(), "description": "First alert"},
        )
        with pytest.raises(ValidationError) as exc:
            actions.add_rca_row(problem, world.agent_a, "factor", {"kind": "nonsense"})
        assert "kind" in exc.value.message_dict
        actions.remove_rca_row(problem, world.agent_a, "step", first.pk)
    assert (first.position, second.position) == (1, 2)
    assert [s.question for s in problem.analysis_steps.all()] == ["Why full?"]
    assert problem.contributing_factors.count() == problem.timeline.count() == 1


def test_applying_a_workaround_links_journals_and_counts(world, make_incident):
    incident = make_incident()
    with acting_as(world.admin, "test"):
        known = actions.save_known_error(
            KnownError(short_description="VPN drops", symptoms="drops", workaround="Reconnect"),
            world.admin,
            customers=[world.customer_a],
        )
        actions.apply_workaround(known, incident, world.agent_a)
        with pytest.raises(ValidationError):
            actions.apply_workaround(known, incident, world.agent_a)
    known.refresh_from_db()
    assert known.use_count == 1 and known.uses.get().incident == incident
    note = [e for e in journal(incident) if e[0] == JournalEntry.Kind.WORK_NOTE]
    assert "Reconnect" in note[0][2] and note[0][1] is False
    # Agent B sees neither Alpha's known error nor its incident.
    other = make_incident(customer=world.customer_b)
    with acting_as(world.agent_b, "test"), pytest.raises(ValidationError):
        actions.apply_workaround(known, other, world.agent_b)
