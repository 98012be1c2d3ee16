"""Shared test fixtures: a small world with two customers and a user of every role."""

import os

import pytest
from django.db import connection

from accord.core.context import acting_as


def pytest_report_header(config):
    from django.conf import settings

    if not settings.configured:
        return None
    return f"accord database: {settings.DATABASES['default']['ENGINE']}"


def pytest_sessionstart(session):
    if os.environ.get("CI") == "true" and os.environ.get("ACCORD_TEST_DATABASE_URL"):
        # In CI the PostgreSQL pass must really run on PostgreSQL.
        from django.conf import settings

        assert settings.IS_POSTGRES, "ACCORD_TEST_DATABASE_URL is set but not used"


@pytest.fixture(autouse=True)
def _fresh_process_caches():
    """Each test starts as a fresh process would: a rolled-back test leaves no cached
    configuration behind (ids are reused after a rollback on SQLite)."""
    from accord.cmdb import graph
    from accord.slas.clocks import forget_agreements

    forget_agreements()
    graph.forget()
    yield
    forget_agreements()
    graph.forget()


class World:
    """Customers A and B, teams serving each, and a user of every role."""


@pytest.fixture
def world(db):
    from accord.catalogue.models import Service
    from accord.core.policy import Role
    from accord.organizations.models import Contact, Customer
    from accord.users.models import Team, User

    w = World()
    with acting_as(None, "test"):
        w.customer_a = Customer.objects.create(name="Alpha Ltd", code="alpha")
        w.customer_b = Customer.objects.create(name="Beta plc", code="beta")
        w.team_a = Team.objects.create(name="Desk A")
        w.team_b = Team.objects.create(name="Desk B")
        w.customer_a.support_teams.add(w.team_a)
        w.customer_b.support_teams.add(w.team_b)

        def user(name, role, team=None):
            u = User.objects.create_user(name, f"{name}@example.com", "pw-" + name, role=role)
            if team is not None:
                team.members.add(u)
            return u

        w.admin = user("admin", Role.ADMINISTRATOR)
        w.agent_a = user("agent_a", Role.AGENT, w.team_a)
        w.agent_b = user("agent_b", Role.AGENT, w.team_b)
        w.manager_a = user("manager_a", Role.MANAGER, w.team_a)
        w.team_a.manager = w.manager_a
        w.team_a.save()
        w.owner = user("owner", Role.OWNER, w.team_a)
        w.auditor = user("auditor", Role.AUDITOR)
        w.customer_user_a = user("cust_a", Role.CUSTOMER)
        w.customer_user_b = user("cust_b", Role.CUSTOMER)
        Contact.objects.create(customer=w.customer_a, name="Cust A", user=w.customer_user_a)
        Contact.objects.create(customer=w.customer_b, name="Cust B", user=w.customer_user_b)
        w.service = Service.objects.create(name="Email", status="live", support_team=w.team_a)
        w.service.customers.add(w.customer_a, w.customer_b)
        w.service_b_only = Service.objects.create(name="Beta ERP", status="live")
        w.service_b_only.customers.add(w.customer_b)
    return w


ALL_DAY = {d: [["00:00", "24:00"]] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}


@pytest.fixture
def always(world):
    """A 24x7 calendar in UTC."""
    from accord.calendars.models import Calendar

    with acting_as(world.admin, "test"):
        cal = Calendar(name="24x7", time_zone="UTC", weekly_hours=ALL_DAY)
        cal.save()
    return cal


@pytest.fixture
def sla(world, always):
    """Alpha's SLA: response 1 h, resolution 4 h for every priority, 24x7."""
    from accord.slas.models import Agreement

    with acting_as(world.admin, "test"):
        agreement = Agreement(
            name="Alpha gold",
            customer=world.customer_a,
            calendar=always,
            status="agreed",
            valid_from="2020-01-01",
        )
        agreement.save()
    for p in range(1, 6):
        agreement.targets.create(priority=p, metric="response", seconds=3600)
        agreement.targets.create(priority=p, metric="resolution", seconds=4 * 3600)
    return agreement


@pytest.fixture
def make_incident(world):
    from accord.incidents.actions import log_ticket
    from accord.incidents.models import Incident

    def make(customer=None, user=None, model=Incident, **fields):
        customer = customer or world.customer_a
        user = user or world.admin
        data = {
            "customer": customer,
            "short_description": "Mail is down",
            "impact": 2,
            "urgency": 2,
            **fields,
        }
        with acting_as(user, "test"):
            return log_ticket(model, user, data)

    return make


@pytest.fixture
def api_as(world):
    """api_as(user) -> a DRF APIClient that sends a fresh token of that user."""
    from accord.users.testing import api_client_for

    return api_client_for


@pytest.fixture
def vendor():
    return connection.vendor
