"""Escalation of problems (8.3.6): past the target date or idle, raised to the owner's
manager by the hourly job, not repeated before the set interval, never an edit."""

import datetime

import pytest
from django.contrib.contenttypes.models import ContentType
from django.core import mail
from django.utils import timezone

from accord.core.context import acting_as
from accord.core.models import JournalEntry
from accord.problems import actions, escalation, tasks
from accord.problems.choices import Status
from accord.problems.models import Problem, ProblemSettings
from accord.slas.models import Notification


@pytest.fixture
def problem(world):
    def make(*, days_overdue=None, idle_days=None, impact=2, urgency=2, **fields):
        data = {"short_description": "Backups fail", "impact": impact, "urgency": urgency}
        data.update(fields)
        with acting_as(world.admin, "test"):
            made = actions.create_problem(world.admin, data)
        changes = {}
        if days_overdue is not None:
            changes["target_date"] = timezone.localdate() - datetime.timedelta(days=days_overdue)
        if idle_days is not None:
            changes["updated"] = timezone.now() - datetime.timedelta(days=idle_days)
        if changes:
            Problem.objects.filter(pk=made.pk).update(**changes)
        made.refresh_from_db()
        return made

    return make


def events(problem):
    return list(
        JournalEntry.objects.filter(
            content_type=ContentType.objects.get_for_model(Problem), object_id=problem.pk
        )
        .filter(body__startswith="Escalated")
        .values_list("body", flat=True)
    )


def run(now=None):
    with acting_as(None, "job:problem-escalation"):
        return escalation.escalate(now=now)


def test_an_overdue_problem_goes_to_its_team_manager_without_an_edit(world, problem):
    late = problem(days_overdue=3, owner=world.agent_a, assignment_team=world.team_a)
    on_time = problem(owner=world.agent_a, assignment_team=world.team_a)
    before = (late.updated, late.version)
    assert run() == 1
    late.refresh_from_db()
    assert late.escalations == 1 and late.escalated_at is not None
    assert (late.updated, late.version) == before  # not an edit
    [text] = events(late)
    assert "manager_a" in text and "manager of Desk A" in text and "3 days overdue" in text
    [message] = mail.outbox
    assert message.to == ["manager_a@example.com"]
    assert late.number in message.subject and "past its target date" in message.body
    assert on_time.escalations == 0 and not events(on_time)


def test_an_idle_problem_is_escalated_and_not_again_before_the_repeat_interval(world, problem):
    idle = problem(idle_days=15, owner=world.agent_a, assignment_team=world.team_a)
    problem(idle_days=5)  # not yet idle for 14 days (nor a week later)
    assert run() == 1
    assert "no update for 15 days" in events(idle)[0]
    assert run() == 0  # the job runs hourly: nothing new
    assert run(timezone.now() + datetime.timedelta(days=6)) == 0
    assert run(timezone.now() + datetime.timedelta(days=7, minutes=1)) == 1
    idle.refresh_from_db()
    assert idle.escalations == 2 and len(events(idle)) == 2
    assert Notification.objects.filter(key__startswith=f"problem:{idle.pk}:").count() == 2
    assert len(mail.outbox) == 2


def test_settings_change_the_rules(world, problem):
    ProblemSettings.objects.create(stale_days=30, repeat_days=1)
    idle = problem(idle_days=20)
    assert run() == 0
    ProblemSettings.objects.update(stale_days=0)  # no escalation for lack of updates
    Problem.objects.filter(pk=idle.pk).update(updated=timezone.now() - datetime.timedelta(days=400))
    assert run() == 0
    Problem.objects.filter(pk=idle.pk).update(
        target_date=timezone.localdate() - datetime.timedelta(days=1)
    )
    assert run() == 1
    assert run(timezone.now() + datetime.timedelta(days=1, minutes=1)) == 1


def test_planning_problems_are_escalated_only_past_their_target(world, problem):
    planning = problem(impact=3, urgency=3, idle_days=100)
    assert planning.priority == 5
    assert run() == 0
    Problem.objects.filter(pk=planning.pk).update(
        target_date=timezone.localdate() - datetime.timedelta(days=1)
    )
    assert run() == 1
    assert "past its target date" in events(planning)[0]
    assert "no update" not in events(planning)[0]


def test_resolved_problems_only_when_idle_and_ended_ones_never(world, problem):
    resolved = problem(days_overdue=5)
    Problem.objects.filter(pk=resolved.pk).update(status=Status.RESOLVED)
    ended = problem(days_overdue=5, idle_days=50)
    Problem.objects.filter(pk=ended.pk).update(status=Status.CANCELLED, is_open=False)
    assert run() == 0
    Problem.objects.filter(pk=resolved.pk).update(
        updated=timezone.now() - datetime.timedelta(days=20)
    )
    assert run() == 1
    assert "no update" in events(resolved)[0]


def test_who_is_told(world, problem):
    # No team: the managers of the owner's teams.
    by_owner = problem(days_overdue=1, owner=world.owner)
    # The owner manages the team: raising it to themself is no escalation, and they
    # have no other manager: the administrators.
    own_team = problem(days_overdue=1, owner=world.manager_a, assignment_team=world.team_a)
    # Nobody at all: the administrators.
    orphan = problem(days_overdue=1)
    assert run() == 3
    assert "manager_a" in events(by_owner)[0] and "owner's team" in events(by_owner)[0]
    assert "admin" in events(own_team)[0] and "administrator" in events(own_team)[0]
    assert "admin" in events(orphan)[0]
    recipients = sorted(tuple(m.to) for m in mail.outbox)
    assert recipients == [
        ("admin@example.com",),
        ("admin@example.com",),
        ("manager_a@example.com",),
    ]


def test_no_email_address_is_said_in_the_journal(world, problem):
    world.manager_a.email = ""
    world.manager_a.save()
    late = problem(days_overdue=1, assignment_team=world.team_a)
    assert run() == 1
    assert "No email address" in events(late)[0]
    assert mail.outbox == []


def test_two_runs_at_once_escalate_once(world, problem):
    late = problem(days_overdue=2, assignment_team=world.team_a)
    settings = ProblemSettings.get()
    now = timezone.now()
    overdue, idle, quiet = escalation.rules(settings, now)
    stale_copy = Problem.objects.get(pk=late.pk)
    with acting_as(None, "test"):
        assert escalation._escalate(late, now, settings, overdue | idle, quiet) == 1
        # The other run read the problem before the first wrote: it loses the claim.
        assert escalation._escalate(stale_copy, now, settings, overdue | idle, quiet) == 0
    late.refresh_from_db()
    assert late.escalations == 1 and len(events(late)) == 1


def test_the_hourly_job(world, problem):
    late = problem(days_overdue=1, assignment_team=world.team_a)
    assert tasks.escalate_problems_job.call_local() == 1
    assert list(escalation.due()) == []
    late.refresh_from_db()
    assert late.escalations == 1
