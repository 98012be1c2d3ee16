"""The CMDB's worker jobs. Imports and audits define theirs beside their logic; they
are imported here so the worker knows them."""

import datetime

from django.db import transaction
from django.utils import timezone
from huey import crontab
from huey.contrib.djhuey import db_periodic_task

from . import audits, imports  # noqa: F401  (their jobs register with the worker)
from .choices import RunStatus
from .models import GraphEvent, ImportRun

KEEP_EVENTS = datetime.timedelta(days=2)
KEEP_IMPORT_FILES = datetime.timedelta(days=30)


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


@db_periodic_task(crontab(hour="2", minute="47"))
def prune_import_files_job():
    return prune_import_files()


def prune_import_files(now=None):
    """Delete the uploaded files of imports that ended over 30 days ago; the runs
    themselves (who imported what, when, with which outcome and errors) are kept."""
    cutoff = (now or timezone.now()) - KEEP_IMPORT_FILES
    done = 0
    for run in ImportRun.objects.filter(
        status__in=[RunStatus.DONE, RunStatus.FAILED], finished_at__lt=cutoff
    ).exclude(file=""):
        run.file.delete(save=False)
        ImportRun.objects.filter(pk=run.pk).update(file="")
        done += 1
    return done
