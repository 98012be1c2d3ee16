"""The change log writer and the journal: the two trails every record leaves.

``record()`` adds one ObjectChange row per write, in the writer's transaction, with
the actor taken from the current context. ``journal()`` adds a journal line (work
note, customer reply or system event) to any record.
"""

from django.contrib.contenttypes.models import ContentType
from django.utils import timezone

from .context import current_actor


def record(instance, action: str, changes: dict):
    from .models import ObjectChange

    actor = current_actor()
    ObjectChange.objects.create(
        time=timezone.now(),
        content_type=ContentType.objects.get_for_model(type(instance)),
        object_id=instance.pk,
        object_repr=str(instance)[:200],
        action=action,
        actor_id=actor.user_id,
        actor_label=actor.label[:150],
        via=actor.via[:50],
        changes=changes,
    )


def journal(instance, kind: str, body: str, *, customer_visible: bool | None = None):
    """Add a line to a record's journal; replies are always customer-visible, work
    notes never; events are visible when the caller says so."""
    from .models import JournalEntry

    if kind == JournalEntry.Kind.REPLY:
        customer_visible = True
    elif kind == JournalEntry.Kind.WORK_NOTE:
        customer_visible = False
    actor = current_actor()
    return JournalEntry.objects.create(
        content_type=ContentType.objects.get_for_model(type(instance)),
        object_id=instance.pk,
        kind=kind,
        customer_visible=bool(customer_visible),
        body=body,
        author_id=actor.user_id,
        author_label=actor.label[:150],
        created=timezone.now(),
    )


def event(instance, body: str, *, customer_visible: bool = True):
    from .models import JournalEntry

    return journal(instance, JournalEntry.Kind.EVENT, body, customer_visible=customer_visible)


def for_record(model_cls, object_id):
    """The change log rows of one record, newest first."""
    from .models import ObjectChange

    return ObjectChange.objects.filter(
        content_type=ContentType.objects.get_for_model(model_cls), object_id=object_id
    ).select_related("actor")


def m2m_snapshot(instance, names):
    """The ids in each many-to-many field, to compare after a save."""
    if instance is None or instance.pk is None:
        return {name: [] for name in names}
    return {name: sorted(getattr(instance, name).values_list("pk", flat=True)) for name in names}


def record_m2m(instance, before: dict):
    """Log the many-to-many fields that changed since ``before`` (from m2m_snapshot)."""
    after = m2m_snapshot(instance, before)
    changes = {name: [before[name], after[name]] for name in before if before[name] != after[name]}
    if changes:
        record(instance, "update", changes)
