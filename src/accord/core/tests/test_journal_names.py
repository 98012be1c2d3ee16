"""Which records a journal may name: only those every reader of its record may see."""

from types import SimpleNamespace

import pytest

from accord.core.policy import name_in_journal, seen_by_every_reader


class Many:
    def __init__(self, ids):
        self.ids = ids

    def values_list(self, *_args, **_kwargs):
        return list(self.ids)


class Meta:
    verbose_name_plural = "incidents"


def one(customer):  # a record of one customer (an incident)
    return SimpleNamespace(customer_id=customer, _meta=Meta)


def many(*customers):  # a record of several customers, or of none (a CI, a problem)
    return SimpleNamespace(customers=Many(customers))


@pytest.mark.parametrize(
    ("host", "named", "allowed"),
    [
        (many(), many(), True),  # shared with shared
        (many(1), many(), True),  # the provider's own record is seen by all staff
        (many(), one(1), False),  # a shared record is read by staff of other customers
        (many(1), one(1), True),
        (many(1, 2), one(1), False),  # the host's staff of customer 2 may not see it
        (many(1), many(1, 2), True),
        (one(2), many(1), False),
    ],
)
def test_seen_by_every_reader(host, named, allowed):
    assert seen_by_every_reader(host, named) is allowed


def test_a_record_not_every_reader_may_see_is_named_by_its_kind():
    named = SimpleNamespace(customer_id=1, _meta=Meta)
    assert name_in_journal(many(), named, "INC0000001") == "one of the incidents"
    assert name_in_journal(many(1), named, "INC0000001") == "INC0000001"


def test_narrows_agrees_with_restrict_for_every_user_and_model(world):
    from accord.catalogue.models import Service
    from accord.cmdb.models import ConfigurationItem
    from accord.core.policy import narrows, restrict
    from accord.incidents.models import Incident
    from accord.organizations.models import Customer
    from accord.problems.models import Problem
    from accord.users.models import Team, User

    for model in (Customer, Incident, Problem, ConfigurationItem, Service, Team, User):
        qs = model._default_manager.all()
        for user in (world.admin, world.auditor, world.agent_a, world.customer_user_a):
            if not narrows(model, user):
                assert str(restrict(qs, user).query) == str(qs.query), (model, user)
    assert not narrows(Incident, world.admin) and not narrows(Team, world.agent_a)
    assert narrows(Incident, world.agent_a) and narrows(Team, world.customer_user_a)
