"""The change log writer and the journal: the two trails every record leaves.

``record()`` adds one ObjectChange row per write, in the writer's transaction, with
the actor taken from the current context. ``journal()`` adds a journal line (work
note, customer reply or system event) to any record.
"""

import datetime

from django.contrib.contenttypes.models import ContentType
from django.db.models import F
from django.dispatch import Signal
from django.utils import timezone
from django.utils.translation import gettext as _

from .context import current_actor
from .rows import insert_many, insert_row

# Sent after a journal line is added to a record: sender=model, instance, entry.
journal_added = Signal()


def record(instance, action: str, changes: dict):
    from .models import ObjectChange

    actor = current_actor()
    insert_row(
        ObjectChange,
        {
            "time": timezone.now(),
            "content_type_id": ContentType.objects.get_for_model(type(instance)).pk,
            "object_id": instance.pk,
            "object_repr": str(instance)[:200],
            "action": action,
            "actor_id": actor.user_id,
            "actor_label": actor.label[:150],
            "via": actor.via[:50],
            "changes": changes,
        },
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
    entry = JournalEntry.objects.create(
        content_type=ContentType.objects.get_for_model(type(instance)),
        object_id=instance.pk,
        kind=kind,
        customer_visible=bool(customer_visible),
        body=body,
        author_id=actor.user_id,
        author_label=actor.label[:150],
        created=timezone.now(),
    )
    journal_added.send(type(instance), instance=instance, entry=entry)
    return entry


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
    """Log the many-to-many fields that changed since ``before`` (from m2m_snapshot).

    Such a change is an edit of the record too: its version goes up, guarded like any
    other write, so two editors of the same version can't both replace the set."""
    from .records import StaleRecordError

    after = m2m_snapshot(instance, before)
    changes = {name: [before[name], after[name]] for name in before if before[name] != after[name]}
    if changes:
        bumped = (
            type(instance)
            ._base_manager.filter(pk=instance.pk, version=instance.version)
            .update(version=F("version") + 1, updated=timezone.now())
        )
        if not bumped:
            raise StaleRecordError(instance, instance.version)
        instance.version += 1
        instance._remember()
        record(instance, "update", changes)


def _display(field, value, labels):
    if value in (None, ""):
        return "—"
    if field is None:
        return str(value)
    if field.is_relation:
        if isinstance(value, list):
            return ", ".join(str(labels.get((field.related_model, v), v)) for v in value) or "—"
        return str(labels.get((field.related_model, value), value))
    if field.choices:
        return str(dict(field.flatchoices).get(value, value))
    if isinstance(value, bool):
        return str(_("yes") if value else _("no"))
    if field.get_internal_type() == "DateTimeField":
        try:
            moment = datetime.datetime.fromisoformat(value)
        except (TypeError, ValueError):
            return str(value)
        return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M")
    return str(value)


def describe(model, change_rows, user=None):
    """Attach ``rows`` [(label, before, after)] to each ObjectChange, in words: field
    labels, choice labels, names instead of ids (looked up once per related type).
    Given ``user``, a related record they may not see is not named."""
    fields = {}
    for f in model._meta.get_fields():
        if getattr(f, "concrete", False) or f.many_to_many:
            fields[f.name] = f

    def pairs(change):
        # A create row holds the initial values; an update row holds [before, after].
        if change.action == "create":
            return {name: [None, value] for name, value in change.changes.items()}
        return change.changes

    wanted = {}
    for change in change_rows:
        for name, pair in pairs(change).items():
            field = fields.get(name)
            if field is not None and field.is_relation and field.related_model is not None:
                for value in pair:
                    for v in value if isinstance(value, list) else [value]:
                        if v is not None:
                            wanted.setdefault(field.related_model, set()).add(v)
    from .policy import narrows, restrict  # policy imports this module

    labels = {}
    for related, ids in wanted.items():
        rows = related._default_manager.in_bulk(list(ids))
        if user is not None and rows and narrows(related, user):
            seen = set(
                restrict(related._default_manager.filter(pk__in=list(rows)), user).values_list(
                    "pk", flat=True
                )
            )
            hidden = _("one you may not see")
            rows = {pk: (obj if pk in seen else hidden) for pk, obj in rows.items()}
        for pk, obj in rows.items():
            labels[(related, pk)] = obj
    for change in change_rows:
        change.rows = []
        for name, (before, after) in pairs(change).items():
            field = fields.get(name)
            label = str(field.verbose_name) if field is not None else name
            if _both_dicts(field, before, after):
                # A set of named values (a CI's attributes): the keys that changed.
                before, after = before or {}, after or {}
                change.rows += [
                    (
                        f"{label} › {key}",
                        _display(None, before.get(key), labels),
                        _display(None, after.get(key), labels),
                    )
                    for key in sorted(set(before) | set(after), key=str)
                    if before.get(key) != after.get(key)
                ]
                continue
            change.rows.append(
                (label, _display(field, before, labels), _display(field, after, labels))
            )
    return change_rows


def _both_dicts(field, before, after):
    return (
        field is not None
        and field.get_internal_type() == "JSONField"
        and isinstance(before, dict | None)
        and isinstance(after, dict | None)
        and (before or after)
    )


def record_many(model, entries):
    """``record()`` for many records of one model at once (a bulk import): entries
    are (pk, repr, action, changes); one multi-row INSERT, the actor taken once."""
    from .models import ObjectChange

    if not entries:
        return
    actor = current_actor()
    ct_id = ContentType.objects.get_for_model(model).pk
    now = timezone.now()
    label, via = actor.label[:150], actor.via[:50]
    insert_many(
        ObjectChange,
        [
            {
                "time": now,
                "content_type_id": ct_id,
                "object_id": pk,
                "object_repr": str(text)[:200],
                "action": action,
                "actor_id": actor.user_id,
                "actor_label": label,
                "via": via,
                "changes": changes,
            }
            for pk, text, action, changes in entries
        ],
    )


def events_many(model, entries, *, customer_visible: bool = False):
    """``event()`` for many records of one model at once: entries are (pk, body).
    Written in one INSERT when nothing listens to ``journal_added`` for the model
    (receivers get each entry as ``journal()`` sends it otherwise)."""
    from .models import JournalEntry

    if not entries:
        return
    if journal_added.has_listeners(model):
        for pk, body in entries:
            instance = model._base_manager.get(pk=pk)
            event(instance, body, customer_visible=customer_visible)
        return
    actor = current_actor()
    ct_id = ContentType.objects.get_for_model(model).pk
    now = timezone.now()
    label = actor.label[:150]
    insert_many(
        JournalEntry,
        [
            {
                "content_type_id": ct_id,
                "object_id": pk,
                "kind": JournalEntry.Kind.EVENT,
                "customer_visible": customer_visible,
                "body": body,
                "author_id": actor.user_id,
                "author_label": label,
                "created": now,
            }
            for pk, body in entries
        ],
    )
