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
