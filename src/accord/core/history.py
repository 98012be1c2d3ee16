"""The change log writer and the journal: the two trails every record leaves.

``record()`` adds one ObjectChange row per write, in the writer's transaction, with
the actor taken from the current context. ``journal()`` adds a journal line (work
note, customer reply or system event) to any record.
"""

import datetime
import itertools

from django.contrib.contenttypes.models import ContentType
from django.db.models import F
from django.dispatch import Signal
from django.utils import timezone
from django.utils.translation import gettext as _

from .context import current_actor
from .rows import insert_row

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


def describe(model, change_rows):
    """Attach ``rows`` [(label, before, after)] to each ObjectChange, in words: field
    labels, choice labels, names instead of ids (looked up once per related type)."""
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
    labels = {}
    for related, ids in wanted.items():
        for pk, obj in related._default_manager.in_bulk(list(ids)).items():
            labels[(related, pk)] = obj
    for change in change_rows:
        change.rows = [
            (
                str(fields[name].verbose_name) if name in fields else name,
                _display(fields.get(name), pair[0], labels),
                _display(fields.get(name), pair[1], labels),
            )
            for name, pair in pairs(change).items()
        ]
    return change_rows


# Field types stored as the Python value itself, on SQLite and PostgreSQL alike.
_PLAIN_TYPES = frozenset(
    {
        "AutoField",
        "BigAutoField",
        "SmallAutoField",
        "IntegerField",
        "BigIntegerField",
        "SmallIntegerField",
        "PositiveIntegerField",
        "PositiveSmallIntegerField",
        "PositiveBigIntegerField",
        "CharField",
        "TextField",
        "SlugField",
        "BooleanField",
    }
)
_MEMO_TYPES = frozenset({"DateTimeField", "DateField"})
_insert_cache: dict = {}
_sqlite_texts: dict = {}


def _plain_field(field):
    if field.is_relation:
        return field.target_field.get_internal_type() in _PLAIN_TYPES
    return field.get_internal_type() in _PLAIN_TYPES


def insert_many(model, rows, using="default"):
    """Rows of one model (dicts with the same keys, every concrete field but an
    auto primary key) written in bulk, for writers of thousands of rows such as an
    import: as ``core.rows.insert_rows``, but on SQLite in multi-row INSERTs within
    its parameter limit, on PostgreSQL through COPY. Values of fields stored as
    given (text, integers, booleans, keys) skip the per-value field conversion,
    which for a wide row costs more than the INSERT; dates and times are converted
    once per distinct value (a batch shares its timestamps); the rest go through
    ``get_db_prep_save``."""
    from django.db import connections

    if not rows:
        return
    connection = connections[using]
    names = tuple(rows[0])
    key = (model, names, connection.vendor)
    cached = _insert_cache.get(key)
    if cached is None:
        meta = model._meta
        fields = tuple(meta.get_field(name) for name in names)
        given = {f.attname for f in fields}
        missing = [
            f.attname for f in meta.concrete_fields if not f.primary_key and f.attname not in given
        ]
        if missing:
            raise ValueError(f"{model.__name__}: no value for {', '.join(missing)}")
        qn = connection.ops.quote_name
        columns = ", ".join(qn(f.column) for f in fields)
        # Names come from the model's metadata, quoted; values are bound parameters.
        head = f"INSERT INTO {qn(meta.db_table)} ({columns}) VALUES "  # noqa: S608
        kinds = tuple(
            None
            if _plain_field(f)
            else ("memo" if f.get_internal_type() in _MEMO_TYPES else "each")
            for f in fields
        )
        cached = (head, fields, kinds)
        _insert_cache[key] = cached
    head, fields, kinds = cached
    columns = []
    for name, field, kind in zip(names, fields, kinds, strict=True):
        values = [row[name] for row in rows]
        if kind == "each":
            values = [field.get_db_prep_save(v, connection) for v in values]
        elif kind == "memo":
            memo = {}
            for i, v in enumerate(values):
                if v not in memo:
                    memo[v] = field.get_db_prep_save(v, connection)
                values[i] = memo[v]
        columns.append(values)
    if connection.vendor == "postgresql":
        _copy_rows(connection, model, fields, columns)
        return
    _insert_sqlite(connection, head, len(fields), columns)


def _sqlite_parameter_limit(connection):
    import sqlite3

    connection.ensure_connection()
    try:
        return connection.connection.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
    except AttributeError:  # Python before 3.11
        return connection.features.max_query_params or 999


def _insert_sqlite(connection, head, width, columns):
    """SQLite: multi-row INSERTs as large as its parameter limit allows. Run on the
    driver's own cursor with its ``?`` placeholders: the text of a statement with
    thousands of them is built once per size, not rewritten on every call. (Not one
    row per statement: a full-text index flushes its pending terms after each
    statement.)"""
    import sqlite3

    count = len(columns[0])
    size = max(1, _sqlite_parameter_limit(connection) // width)
    one = "(" + ", ".join(["?"] * width) + ")"
    with connection.cursor() as cursor:
        raw = cursor.cursor
        for start in range(0, count, size):
            n = min(size, count - start)
            key = (head, n)
            sql = _sqlite_texts.get(key)
            if sql is None:
                sql = _sqlite_texts[key] = head + ", ".join([one] * n)
            part = zip(*(c[start : start + n] for c in columns), strict=True)
            with connection.wrap_database_errors:
                sqlite3.Cursor.execute(raw, sql, list(itertools.chain.from_iterable(part)))


def _copy_rows(connection, model, fields, columns):
    """PostgreSQL: COPY … FROM STDIN, in the caller's transaction. A multi-row INSERT
    of thousands of rows costs more to quote on the client and to parse on the server
    than the rows take to store."""
    qn = connection.ops.quote_name
    names = ", ".join(qn(f.column) for f in fields)
    # Names come from the model's metadata, quoted; the rows travel as COPY data.
    sql = f"COPY {qn(model._meta.db_table)} ({names}) FROM STDIN"
    with connection.cursor() as cursor:
        with connection.wrap_database_errors:
            with cursor.cursor.copy(sql) as copy:
                for row in zip(*columns, strict=True):
                    copy.write_row(row)


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
