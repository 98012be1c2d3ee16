"""Fixtures of the release tests: CIs, approved changes to deploy under, releases."""

import datetime

import pytest
from django.utils import timezone

from accord.changes import actions, releases
from accord.changes.choices import Status
from accord.changes.models import ChangeTemplate
from accord.core.context import acting_as

H = datetime.timedelta(hours=1)


@pytest.fixture
def make_ci(world):
    from accord.cmdb import actions as cmdb_actions
    from accord.cmdb.models import CIType, ConfigurationItem
    from accord.cmdb.testing import ensure_starting_types

    ensure_starting_types()

    def make(name, kind="application", customers=(), status="live", **attributes):
        with acting_as(world.admin, "test"):
            return cmdb_actions.save_ci(
                ConfigurationItem(
                    name=name,
                    ci_type=CIType.objects.get(key=kind),
                    status=status,
                    attributes=attributes,
                ),
                customers=list(customers),
            )

    return make


@pytest.fixture
def approved_change(world):
    """A standard change, pre-approved (or left as a draft with approved=False)."""
    template = ChangeTemplate.objects.create(
        name="Deploy a release",
        description="Roll out a tested package",
        implementation_plan="install",
        backout_plan="reinstall the previous package",
    )
    start = timezone.now() + 48 * H

    def make(approved=True, user=None, customers=(), **fields):
        user = user or world.agent_a
        data = {
            "kind": "standard",
            "template": template,
            "short_description": "Install the new mail relay",
            "reason": "New release",
            "planned_start": start,
            "planned_end": start + 2 * H,
            **fields,
        }
        with acting_as(user, "test"):
            change = actions.create_change(
                user, data, services=[world.service], customers=customers
            )
            if approved:
                actions.transition(change, user, "submit")
                actions.transition(change, user, "assess")
        assert change.status == (Status.APPROVED if approved else Status.DRAFT)
        return change

    return make


@pytest.fixture
def new_release(world):
    def make(user=None, changes=(), customers=(), services=None, **fields):
        user = user or world.agent_a
        data = {
            "short_description": "Mail relay",
            "release_version": "2.0",
            "kind": "minor",
            "review_days": 7,
            **fields,
        }
        with acting_as(user, "test"):
            return releases.create_release(
                user,
                data,
                services=[world.service] if services is None else services,
                customers=customers,
                changes=changes,
            )

    return make
