"""Background jobs of the service desk."""

from huey import crontab
from huey.contrib.djhuey import db_periodic_task

from accord.core.context import acting_as

from .actions import close_expired_resolutions
from .models import Incident, ServiceRequest


@db_periodic_task(crontab(minute="*/15"), retries=3, retry_delay=60)
def close_resolved_records():
    """Close resolved records whose customer has not confirmed within the set days."""
    with acting_as(None, "job:auto-close"):
        return close_expired_resolutions([Incident, ServiceRequest])
