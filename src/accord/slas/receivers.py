"""What the SLA clocks do when a record, its journal or a calendar changes."""

from django.db import transaction

from . import clocks

CALENDAR_FIELDS = ("time_zone", "weekly_hours", "holidays")


def ticket_saved(sender, instance, created, changes, **kwargs):
    clocks.on_record_saved(instance, created, changes)


def journal_added(sender, instance, entry, **kwargs):
    clocks.on_journal(instance, entry)


def calendar_saved(sender, instance, created, changes, **kwargs):
    """A calendar edit moves the deadlines of every clock on it: recomputed by the
    worker from the old definition (time already spent is kept as it was counted)."""
    if created or not set(CALENDAR_FIELDS) & changes.keys():
        return
    from .tasks import start_recalculation

    old = {
        name: (changes[name][0] if name in changes else getattr(instance, name))
        for name in CALENDAR_FIELDS
    }
    run = start_recalculation(instance, old)
    transaction.on_commit(lambda: _enqueue(run.pk, old))


def _enqueue(run_id, old):
    from .tasks import recalculate_clocks

    recalculate_clocks(run_id, old)
