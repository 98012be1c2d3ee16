"""The demo data loads once, is what the README promises, and respects visibility."""

from io import StringIO

import pytest
from django.contrib.auth import authenticate
from django.core.management import call_command
from django.utils import timezone

from accord.catalogue.models import Service
from accord.core.models import JournalEntry, ObjectChange, SiteFlag
from accord.core.policy import Role, restrict
from accord.incidents.choices import OPEN_STATUSES, Status
from accord.incidents.models import Incident, ServiceRequest
from accord.organizations.models import Customer
from accord.users.models import Team, User

DEMO_USERS = {
    "admin": Role.ADMINISTRATOR,
    "agent": Role.AGENT,
    "manager": Role.MANAGER,
    "owner": Role.OWNER,
    "auditor": Role.AUDITOR,
    "customer-a": Role.CUSTOMER,
    "customer-b": Role.CUSTOMER,
}


def _codes(queryset):
    return set(queryset.values_list("customer__code", flat=True))


def _totals():
    return {
        model.__name__: model.objects.count()
        for model in (User, Team, Customer, Service, Incident, ServiceRequest, ObjectChange)
    } | {"journal": JournalEntry.objects.count()}


@pytest.mark.django_db
def test_loaddemo_loads_a_believable_provider_once():
    out = StringIO()
    call_command("loaddemo", stdout=out)
    assert "Demo data loaded" in out.getvalue()
    assert SiteFlag.objects.filter(key="demo_data").exists()

    # The shape the README promises.
    assert 12 <= Service.objects.count() <= 13
    assert Customer.objects.count() == 3
    assert Team.objects.count() == 4
    assert Incident.objects.count() + ServiceRequest.objects.count() >= 280
    majors = Incident.objects.filter(is_major=True)
    assert majors.count() == 2
    closed = majors.get(status=Status.CLOSED)
    assert closed.major_review.completed_at is not None
    assert closed.major_updates.exists() and closed.communications.exists()
    assert majors.get(status__in=OPEN_STATUSES).major_updates.count() >= 2
    for model in (Incident, ServiceRequest):
        statuses = set(model.objects.values_list("status", flat=True))
        assert statuses == set(Status.values)
        assert not model.objects.filter(updated__gt=timezone.now()).exists()

    # Problems at every stage, with their analysis, known errors and workarounds in use.
    from accord.problems.choices import KnownErrorStatus
    from accord.problems.choices import Status as ProblemStatus
    from accord.problems.models import KnownError, Problem

    stages = set(Problem.objects.values_list("status", flat=True))
    assert {"investigating", "known_error", "resolved", "closed", "accepted_risk"} <= stages
    assert all(p.incident_links.exists() for p in Problem.objects.all())
    assert Problem.objects.filter(analysis_steps__isnull=False).exists()
    assert KnownError.objects.filter(status=KnownErrorStatus.OPEN, use_count__gt=0).count() == 2
    resolved = Problem.objects.get(status=ProblemStatus.RESOLVED)
    assert resolved.is_major and resolved.closure_blockers()  # review still to complete
    assert not Problem.objects.filter(updated__gt=timezone.now()).exists()
    assert not restrict(Problem.objects.all(), User.objects.get(username="customer-a")).exists()

    # Change management: a template, both boards, the windows, and eight changes at
    # their stages, made through the actions (journalled, approved by the rules).
    _check_changes()

    # Demo users: the right roles, and the documented password works.
    for username, role in DEMO_USERS.items():
        user = User.objects.get(username=username)
        assert user.role == role
        assert user.email.endswith((".com", ".org", ".net")) and "example." in user.email
        assert authenticate(username=username, password="accord-demo") == user
    admin = User.objects.get(username="admin")
    assert admin.is_staff and admin.is_superuser

    # Visibility: customer users see their organisation only; agent not Fabrikam.
    customer_a = User.objects.get(username="customer-a")
    customer_b = User.objects.get(username="customer-b")
    agent = User.objects.get(username="agent")
    for model in (Incident, ServiceRequest):
        assert _codes(restrict(model.objects.all(), customer_a)) == {"northwind"}
        assert _codes(restrict(model.objects.all(), customer_b)) == {"contoso"}
        assert model.objects.filter(customer__code="fabrikam").exists()
        assert "fabrikam" not in _codes(restrict(model.objects.all(), agent))
    for user in (customer_a, customer_b):
        assert Incident.objects.filter(caller=user).count() >= 3
    assert Incident.objects.filter(assignee=agent, status__in=OPEN_STATUSES).exists()

    # A second run changes nothing.
    before = _totals()
    out = StringIO()
    call_command("loaddemo", stdout=out)
    assert "already loaded" in out.getvalue()
    assert _totals() == before


def _check_changes():
    from accord.changes.choices import Decision, Kind, Outcome
    from accord.changes.choices import Status as ChangeStatus
    from accord.changes.models import (
        BlackoutWindow,
        Board,
        BoardMeeting,
        Change,
        ChangeTemplate,
        Conflict,
        MaintenanceWindow,
    )
    from accord.cmdb.models import LiveChange
    from accord.problems.models import Problem

    assert ChangeTemplate.objects.filter(active=True).count() == 1
    assert Board.objects.filter(emergency=False).count() == 1
    assert Board.objects.filter(emergency=True).count() == 1
    cab = Board.objects.get(emergency=False)
    assert cab.members.count() >= 3 and cab.chair.username == "manager"
    assert BlackoutWindow.objects.filter(services__isnull=False).count() == 1
    assert MaintenanceWindow.objects.count() == 1
    # Change management's own demo; the releases bring changes of their own.
    changes = Change.objects.filter(releases__isnull=True)
    assert changes.count() == 8
    counts = {}
    for status in changes.values_list("status", flat=True):
        counts[status] = counts.get(status, 0) + 1
    assert counts == {
        ChangeStatus.DRAFT: 1,
        ChangeStatus.AWAITING_APPROVAL: 1,
        ChangeStatus.SCHEDULED: 1,
        ChangeStatus.IMPLEMENTING: 1,
        ChangeStatus.CLOSED: 3,
        ChangeStatus.REJECTED: 1,
    }
    now = timezone.now()
    # The scheduled one is next week, in its service's maintenance window, no conflict.
    scheduled = changes.get(status=ChangeStatus.SCHEDULED)
    assert now < scheduled.planned_start < now + timezone.timedelta(days=11)
    assert scheduled.approvals.get().decision == Decision.APPROVE
    assert not Conflict.objects.exists()
    # Awaiting the board, on its next meeting's agenda.
    waiting = changes.get(status=ChangeStatus.AWAITING_APPROVAL)
    assert waiting.board == cab
    meeting = BoardMeeting.objects.get(agenda__change=waiting)
    assert meeting.starts_at > now
    # The closed ones: a success fixing a demo problem, a failure reviewed, an emergency.
    success = changes.get(status=ChangeStatus.CLOSED, kind=Kind.NORMAL, outcome="successful")
    assert Problem.objects.filter(fixing_changes__change=success).count() == 1
    assert LiveChange.objects.filter(change_reference=success.number).exists()
    failed = changes.get(outcome=Outcome.FAILED)
    assert failed.status == ChangeStatus.CLOSED and failed.reviewed_at and failed.review_notes
    emergency = changes.get(kind=Kind.EMERGENCY)
    assert emergency.status == ChangeStatus.CLOSED and emergency.emergency_reason
    assert emergency.board.emergency and emergency.reviewed_at
    rejected = changes.get(status=ChangeStatus.REJECTED)
    assert rejected.approvals.filter(decision=Decision.REJECT).count() >= 3
    assert "rejected" in BoardMeeting.objects.get(agenda__change=rejected).minutes
    implementing = changes.get(status=ChangeStatus.IMPLEMENTING)
    assert implementing.kind == Kind.STANDARD and implementing.actual_start <= now
    # Journalled as real ones are, and nothing in the future or seen by customers.
    from django.contrib.contenttypes.models import ContentType

    journal = JournalEntry.objects.filter(content_type=ContentType.objects.get_for_model(Change))
    for change in Change.objects.exclude(status=ChangeStatus.DRAFT):
        assert journal.filter(object_id=change.pk, body__startswith="Status changed").exists()
    assert JournalEntry.objects.filter(kind="work_note", body__contains="esx-02").exists()
    assert not Change.objects.filter(updated__gt=now).exists()
    customer = User.objects.get(username="customer-a")
    assert not restrict(Change.objects.all(), customer).exists()
    # Releases: one deployed (its CI's version written under its change), one in
    # acceptance, one planned; none seen by customers.
    from accord.changes.choices import ReleaseStatus
    from accord.changes.models import Deployment, Release

    assert sorted(Release.objects.values_list("status", flat=True)) == sorted(
        [ReleaseStatus.DEPLOYED, ReleaseStatus.ACCEPTANCE, ReleaseStatus.PLANNED]
    )
    done = Deployment.objects.filter(status="done").select_related("ci", "change").first()
    assert done.ci.attributes.get("version") == done.release.release_version
    assert LiveChange.objects.filter(ci=done.ci, change_reference=done.change.number).exists()
    # Its customers are its CI's, so its journal may name the CI to all its readers.
    assert JournalEntry.objects.filter(
        object_id=done.release.pk,
        content_type=ContentType.objects.get_for_model(Release),
        body__startswith=f"Deployed on {done.ci.name} under",
    ).exists()
    assert not restrict(Release.objects.all(), customer).exists()
    assert not Release.objects.filter(updated__gt=now).exists()
