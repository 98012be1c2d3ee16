"""The change process: kinds, risk, approvals by rule and board, conflicts, closing
and review, and what a successful change confirms."""

import datetime

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from accord.changes import actions
from accord.changes.choices import ConflictKind, Decision, Quorum, Status
from accord.changes.models import (
    BlackoutWindow,
    Board,
    ChangeTemplate,
    MaintenanceWindow,
    RiskOption,
    RiskQuestion,
)
from accord.core.context import acting_as

H = datetime.timedelta(hours=1)


@pytest.fixture
def questions(db):
    out = []
    for text, scores in (("Tested?", (0, 4)), ("Outage needed?", (0, 6))):
        q = RiskQuestion.objects.create(text=text)
        out.append([RiskOption.objects.create(question=q, label=str(s), score=s) for s in scores])
    return out


@pytest.fixture
def new_change(world):
    start = timezone.now() + 48 * H

    def make(user=None, cis=(), **fields):
        user = user or world.agent_a
        data = {
            "short_description": "Patch the mail relay",
            "reason": "Security fix",
            "implementation_plan": "apt upgrade",
            "backout_plan": "restore snapshot",
            "planned_start": start,
            "planned_end": start + 2 * H,
            "assignment_team": world.team_a,
            **fields,
        }
        with acting_as(user, "test"):
            return actions.create_change(user, data, cis=cis)

    return make


def step(change, user, name, **kwargs):
    with acting_as(user, "test"):
        return actions.transition(change, user, name, **kwargs)


def answer(change, user, options):
    with acting_as(user, "test"):
        actions.assess_risk(change, user, {o.question_id: o.pk for o in options})


def test_a_low_risk_normal_change_goes_to_the_team_manager(world, questions, new_change):
    change = new_change()
    assert change.number.startswith("CHG") and change.status == Status.DRAFT
    step(change, world.agent_a, "submit")
    answer(change, world.agent_a, [questions[0][0], questions[1][0]])
    assert (change.risk_score, change.risk_class, change.approver_kind) == (
        0,
        "low",
        "team_manager",
    )
    step(change, world.agent_a, "assess")
    step(change, world.agent_a, "request_approval")
    assert [a.approver for a in change.approvals.all()] == [world.manager_a]
    with acting_as(world.agent_b, "test"), pytest.raises(PermissionDenied):
        actions.decide(change, world.agent_b, Decision.APPROVE)
    with acting_as(world.manager_a, "test"):
        actions.decide(change, world.manager_a, Decision.APPROVE, comment="fine")
    assert change.status == Status.APPROVED and change.approved_at is not None
    step(change, world.agent_a, "schedule")
    step(change, world.agent_a, "start")
    with pytest.raises(ValidationError) as exc:
        step(change, world.agent_a, "finish", outcome="failed")
    assert "outcome_notes" in exc.value.message_dict
    step(change, world.agent_a, "finish", outcome="successful")
    step(change, world.agent_a, "close")
    assert change.status == Status.CLOSED


def test_bad_input_is_refused_with_the_field_named(world, new_change):
    start = timezone.now()
    with pytest.raises(ValidationError) as exc:
        new_change(planned_start=start, planned_end=start - H)
    assert "planned_end" in exc.value.message_dict
    emergency = new_change(kind="emergency")
    with pytest.raises(ValidationError) as exc:
        step(emergency, world.agent_a, "submit")
    assert "emergency_reason" in exc.value.message_dict
    draft = new_change(implementation_plan="")
    with pytest.raises(ValidationError) as exc:
        step(draft, world.agent_a, "submit")
    assert "implementation_plan" in exc.value.message_dict
    with pytest.raises(ValidationError) as exc:
        new_change(kind="standard")
    assert "template" in exc.value.message_dict


def test_a_board_decides_by_its_rule_and_nobody_approves_their_own(world, questions, new_change):
    board = Board.objects.create(name="CAB", chair=world.manager_a, quorum=Quorum.MAJORITY)
    board.members.set([world.manager_a, world.owner, world.agent_b])
    change = new_change(user=world.agent_b)
    step(change, world.agent_b, "submit")
    answer(change, world.agent_b, [questions[0][1], questions[1][1]])  # 10: high
    assert change.risk_class == "high" and change.approver_kind == "cab"
    step(change, world.agent_b, "assess")
    step(change, world.agent_b, "request_approval")
    assert change.board == board and change.approvals.count() == 3
    with acting_as(world.agent_b, "test"), pytest.raises(ValidationError) as exc:
        actions.decide(change, world.agent_b, Decision.APPROVE)
    assert "own change" in str(exc.value)
    with acting_as(world.owner, "test"), pytest.raises(ValidationError):
        actions.decide(change, world.owner, Decision.REJECT)  # a rejection needs a reason
    with acting_as(world.owner, "test"):
        actions.decide(change, world.owner, Decision.APPROVE)
    assert change.status == Status.AWAITING_APPROVAL  # 1 of 3
    with acting_as(world.manager_a, "test"):
        actions.decide(change, world.manager_a, Decision.APPROVE)
    assert change.status == Status.APPROVED  # 2 of 3
    # High risk: closing needs the post-implementation review.
    step(change, world.agent_b, "start")
    step(change, world.agent_b, "finish", outcome="successful")
    with pytest.raises(ValidationError) as exc:
        step(change, world.agent_b, "close")
    assert "review" in str(exc.value.message_dict["transition"])
    with acting_as(world.agent_b, "test"):
        actions.review(change, world.agent_b, "Went as planned")
    step(change, world.agent_b, "close")


def test_a_standard_change_is_pre_approved(world, new_change):
    template = ChangeTemplate.objects.create(
        name="Restart a web node",
        description="Rolling restart",
        implementation_plan="drain, restart, enable",
        backout_plan="none needed",
    )
    change = new_change(kind="standard", template=template, implementation_plan="")
    assert change.implementation_plan == "drain, restart, enable"
    step(change, world.agent_a, "submit")
    step(change, world.agent_a, "assess")
    assert change.status == Status.APPROVED


def test_conflicts_are_explained_and_block_until_accepted(world, new_change, always):
    from accord.cmdb import actions as cmdb_actions
    from accord.cmdb.models import CIType, ConfigurationItem, RelationshipType

    def ci(name, kind):
        with acting_as(world.admin, "test"):
            return cmdb_actions.save_ci(
                ConfigurationItem(name=name, ci_type=CIType.objects.get(key=kind))
            )

    db, app = ci("db-01", "database"), ci("app-01", "application")
    with acting_as(world.admin, "test"):
        cmdb_actions.add_relationship(
            world.admin, app, db, RelationshipType.objects.get(key="depends-on")
        )
    first = new_change(cis=[db])
    step(first, world.agent_a, "submit")
    second = new_change(cis=[app], short_description="App release")
    second.services.add(world.service)
    start = first.planned_start
    BlackoutWindow.objects.create(name="Year end", starts_at=start - H, ends_at=start + H)
    weekend = always.__class__.objects.create(
        name="Sundays", time_zone="UTC", weekly_hours={"sun": [["02:00", "06:00"]]}
    )
    MaintenanceWindow.objects.create(service=world.service, calendar=weekend)
    step(second, world.agent_a, "submit")
    kinds = sorted(c.kind for c in second.conflicts.all())
    assert kinds == [ConflictKind.BLACKOUT, ConflictKind.DEPENDENT_CI, ConflictKind.MAINTENANCE]
    dependent = second.conflicts.get(kind=ConflictKind.DEPENDENT_CI)
    assert first.number in dependent.explanation and "db-01" in dependent.explanation
    second.risk_class, second.approver_kind = "low", "team_manager"
    second.save()
    step(second, world.agent_a, "assess")
    step(second, world.agent_a, "request_approval")
    with acting_as(world.manager_a, "test"), pytest.raises(ValidationError) as exc:
        actions.decide(second, world.manager_a, Decision.APPROVE)
    assert "conflict_override" in exc.value.message_dict
    with acting_as(world.manager_a, "test"):
        actions.decide(second, world.manager_a, Decision.APPROVE, override="Tested together")
    assert second.status == Status.APPROVED and second.conflict_override_by == world.manager_a


def test_a_successful_change_confirms_the_problem_fix(world, new_change):
    from accord.problems import actions as problem_actions

    with acting_as(world.admin, "test"):
        problem = problem_actions.create_problem(
            world.admin, {"short_description": "Relay drops mail", "impact": 2, "urgency": 2}
        )
        problem_actions.transition(problem, world.admin, "investigate")
    with acting_as(world.agent_a, "test"):
        change = actions.create_change(
            world.agent_a,
            {
                "short_description": "Fix relay",
                "reason": "PRB",
                "implementation_plan": "x",
                "backout_plan": "y",
                "planned_start": timezone.now() + H,
                "planned_end": timezone.now() + 2 * H,
                "kind": "emergency",
                "emergency_reason": "Mail lost",
                "assignment_team": world.team_a,
            },
            problems=[problem],
        )
    with acting_as(world.admin, "test"):
        problem_actions.transition(
            problem,
            world.admin,
            "resolve",
            root_cause="Queue limit",
            fix_change=change.number,
            fix_description="Raise limit",
        )
    change.status, change.outcome = Status.IMPLEMENTED, "successful"
    change.save()
    with acting_as(world.agent_a, "test"):
        actions.review(change, world.agent_a, "Emergency review")
    step(change, world.agent_a, "close")
    problem.refresh_from_db()
    assert problem.fix_verified_at is not None


def test_a_changes_cis_are_set_only_through_its_process(world, new_change, client):
    from django.contrib.contenttypes.models import ContentType
    from django.urls import reverse

    from accord.cmdb import actions as cmdb_actions
    from accord.cmdb.models import CIType, ConfigurationItem

    with acting_as(world.admin, "test"):
        beta = cmdb_actions.save_ci(
            ConfigurationItem(name="beta-db", ci_type=CIType.objects.get(key="database")),
            customers=[world.customer_b],
        )
    change = new_change()
    client.force_login(world.agent_a)
    ct = ContentType.objects.get_for_model(type(change)).pk
    url = reverse("cmdb:affected", args=[ct, change.pk])
    assert client.post(url, {"ci": beta.pk}).status_code == 403
    with acting_as(world.agent_a, "test"), pytest.raises(ValidationError) as exc:
        actions.set_cis(change, world.agent_a, [beta])
    assert "beta-db" not in str(exc.value) and str(beta.pk) in str(exc.value)


def test_board_meetings_keep_their_rules_whoever_calls(world, questions, new_change):
    from accord.changes import approvals
    from accord.changes.models import BoardMeeting
    from accord.core.records import StaleRecordError

    board = Board.objects.create(name="CAB", chair=world.owner, quorum=Quorum.MAJORITY)
    board.members.set([world.manager_a, world.agent_b])
    when = timezone.now() + 24 * H
    # Administrators, managers and the board's chair plan meetings; an agent does not.
    with pytest.raises(PermissionDenied):
        approvals.plan_meeting(world.agent_a, board, BoardMeeting(starts_at=when))
    with acting_as(world.owner, "test"):
        meeting = approvals.plan_meeting(world.owner, board, BoardMeeting(starts_at=when))
    assert meeting.board == board and meeting.pk

    change = new_change()
    with pytest.raises(ValidationError) as exc:
        approvals.add_to_agenda(world.owner, meeting, change)
    assert exc.value.message_dict["change"] == [f"{change.number} is not awaiting approval."]
    step(change, world.agent_a, "submit")
    answer(change, world.agent_a, [questions[0][1], questions[1][1]])
    step(change, world.agent_a, "assess")
    step(change, world.agent_a, "request_approval")
    assert change.status == Status.AWAITING_APPROVAL
    # Found by number in any case, among the changes the user may see.
    assert approvals.find_change(world.owner, f" {change.number.lower()}") == change
    assert approvals.find_change(world.owner, str(change.pk)) == change
    change.customers.add(world.customer_a)
    with pytest.raises(ValidationError) as exc:
        approvals.find_change(world.agent_b, change.number)
    assert "change" in exc.value.message_dict
    with acting_as(world.owner, "test"):
        approvals.add_to_agenda(world.owner, meeting, change)
        with pytest.raises(ValidationError) as exc:
            approvals.add_to_agenda(world.owner, meeting, change)
        assert exc.value.message_dict["change"] == [f"{change.number} is already on the agenda."]
        with pytest.raises(PermissionDenied):
            approvals.remove_from_agenda(world.agent_a, meeting, change)
        approvals.remove_from_agenda(world.owner, meeting, change)
        with pytest.raises(ValidationError):
            approvals.remove_from_agenda(world.owner, meeting, change)
        events = [e.body for e in change_journal(change)]
        assert f"On the agenda of {meeting}." in events
        assert f"Taken off the agenda of {meeting}." in events
        version = meeting.version
        approvals.record_minutes(
            world.owner, meeting, "  Approved in principle. ", expected_version=version
        )
        assert meeting.minutes == "Approved in principle."
        with pytest.raises(StaleRecordError):
            approvals.record_minutes(world.owner, meeting, "Late", expected_version=version)


def change_journal(change):
    from django.contrib.contenttypes.models import ContentType

    from accord.core.models import JournalEntry

    return JournalEntry.objects.filter(
        content_type=ContentType.objects.get_for_model(type(change)), object_id=change.pk
    ).order_by("pk")
