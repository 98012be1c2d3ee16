"""The CMDB's worker jobs. Imports and audits define theirs beside their logic; they
are imported here so the worker knows them."""

import datetime

from django.db import transaction
from django.utils import timezone
from huey import crontab
from huey.contrib.djhuey import db_periodic_task

from . import audits, imports  # noqa: F401  (their jobs register with the worker)
from .models import GraphEvent

KEEP_EVENTS = datetime.timedelta(days=2)


@db_periodic_task(crontab(hour="2", minute="41"))
def prune_graph_events_job():
    return prune_graph_events()


def prune_graph_events(now=None):
    """Forget graph events older than two days; a process that had not yet applied
    them reloads its graph (the reload event written in their place tells it)."""
    cutoff = (now or timezone.now()) - KEEP_EVENTS
    with transaction.atomic():
        deleted, _rows = GraphEvent.objects.filter(at__lt=cutoff).delete()
        if deleted:
            GraphEvent.objects.create(op=GraphEvent.RELOAD)
    return deleted
