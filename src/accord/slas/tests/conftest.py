import pytest

from accord.calendars.models import Calendar
from accord.core.context import acting_as
from accord.slas.models import Agreement

ALL_DAY = {d: [["00:00", "24:00"]] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}


@pytest.fixture
def always(world):
    with acting_as(world.admin, "test"):
        cal = Calendar(name="24x7", time_zone="UTC", weekly_hours=ALL_DAY)
        cal.save()
    return cal


@pytest.fixture
def sla(world, always):
    """Alpha's SLA: response 1 h, resolution 4 h for every priority, 24x7."""
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
