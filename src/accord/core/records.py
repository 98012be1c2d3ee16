"""The abstract base every process record stands on.

A Record carries timestamps and a version for optimistic locking, and writes its own
history: it remembers the values it was loaded with, and on save writes only the
changed columns, guarded by the version the caller read, plus one ObjectChange row
in the same transaction. A NumberedRecord also draws a reference number (INC0000123)
from the allocator when it is first saved.
"""

import datetime
import decimal
import uuid

from django.db import connection, models, transaction
from django.dispatch import Signal
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

UNTRACKED = frozenset({"id", "created", "updated", "version"})

# Sent inside the writer's transaction after every create and update of a Record,
# whatever the way in (page, API, job, command): sender=model, instance, created,
# changes ({field: [before, after]}; on create, every field). Apps that keep derived
# state (SLA clocks) listen here instead of being called from each action.
record_saved = Signal()


class StaleRecordError(Exception):
    """The record changed since the caller read it; their write was not applied."""

    def __init__(self, record, expected_version):
        self.record = record
        self.expected_version = expected_version
        super().__init__(
            f"{record} was changed by someone else since version {expected_version}; "
            "reload it and apply your change again."
        )


def _plain(value):
    """A JSON-safe form of a field value for the change log."""
    if isinstance(value, datetime.datetime | datetime.date | datetime.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal | uuid.UUID):
        return str(value)
    if isinstance(value, models.Model):
        return value.pk
    return value


class Record(models.Model):
    """Timestamps, version, change history, journal and search for a record type.

    Subclasses declare ``customer_field`` (the path to the customer the record belongs
    to, or None when it belongs to none) for the visibility policy.
    """

    created = models.DateTimeField(_("created"), default=timezone.now, editable=False)
    updated = models.DateTimeField(_("updated"), default=timezone.now, editable=False)
    version = models.PositiveIntegerField(default=1, editable=False)

    customer_field: str | None = None
    # Derived columns that are written like any other but not shown in the history.
    history_exclude: frozenset = frozenset()

    class Meta:
        abstract = True

    # --- snapshot of the values as loaded -------------------------------------
    @classmethod
    def _tracked_fields(cls):
        cached = cls.__dict__.get("_tracked_cache")
        if cached is None:
            cached = tuple(f for f in cls._meta.concrete_fields if f.name not in UNTRACKED)
            cls._tracked_cache = cached
        return cached

    @classmethod
    def from_db(cls, db, field_names, values):
        instance = super().from_db(db, field_names, values)
        instance._remember()
        return instance

    def _remember(self):
        d = self.__dict__
        self._loaded = {
            f.attname: d.get(f.attname) for f in self._tracked_fields() if f.attname in d
        }
        self._loaded_version = d.get("version")

    def tracked_changes(self) -> dict:
        """{field name: [before, after]} for fields changed since load."""
        loaded = getattr(self, "_loaded", None) or {}
        d = self.__dict__
        out = {}
        for f in self._tracked_fields():
            if f.attname not in loaded:
                continue
            before, after = loaded[f.attname], d.get(f.attname)
            if before != after:
                out[f.name] = [_plain(before), _plain(after)]
        return out

    def loaded_value(self, field_name):
        field = self._meta.get_field(field_name)
        return (getattr(self, "_loaded", None) or {}).get(field.attname)

    # --- writes ----------------------------------------------------------------
    def save(self, *args, expected_version=None, **kwargs):
        from . import history, search

        with transaction.atomic(savepoint=False):
            if self._state.adding:
                self.before_create()
                self.created = self.updated = timezone.now()
                super().save(*args, **kwargs)
                values = {
                    f.name: _plain(getattr(self, f.attname))
                    for f in self._tracked_fields()
                    if getattr(self, f.attname) not in (None, "")
                }
                history.record(self, "create", self._for_history(values))
                search.index_record(self, created=True)
                record_saved.send(type(self), instance=self, created=True, changes=values)
            else:
                changes = self.tracked_changes()
                if not changes:
                    # Nothing to write, but a caller holding a stale version must still
                    # hear so (it may go on to change many-to-many fields).
                    if (
                        expected_version is not None
                        and not type(self)
                        ._base_manager.filter(pk=self.pk, version=expected_version)
                        .exists()
                    ):
                        raise StaleRecordError(self, expected_version)
                    self._remember()
                    return
                expected = self._loaded_version if expected_version is None else expected_version
                self.updated = timezone.now()
                values = {
                    self._meta.get_field(name).attname: getattr(
                        self, self._meta.get_field(name).attname
                    )
                    for name in changes
                }
                updated = (
                    type(self)
                    ._base_manager.filter(pk=self.pk, version=expected)
                    .update(version=expected + 1, updated=self.updated, **values)
                )
                if not updated:
                    raise StaleRecordError(self, expected)
                self.version = expected + 1
                history.record(self, "update", self._for_history(changes))
                search.index_record(self, created=False, changed=changes)
                record_saved.send(type(self), instance=self, created=False, changes=changes)
            self._remember()

    def delete(self, *args, **kwargs):
        from . import history, search

        with transaction.atomic(savepoint=False):
            history.record(self, "delete", {})
            search.unindex_record(self)
            return super().delete(*args, **kwargs)

    def _for_history(self, changes):
        if not self.history_exclude:
            return changes
        return {k: v for k, v in changes.items() if k not in self.history_exclude}

    def set_derived(self, **values):
        """Write derived columns (kept by another app, such as the SLA due time) without
        a new version or a history row, and remember them as loaded."""
        from .rows import update_rows

        update_rows(type(self), list(values), [(self.pk, values)])
        loaded = getattr(self, "_loaded", None)
        for name, value in values.items():
            attname = self._meta.get_field(name).attname
            setattr(self, attname, value)
            if loaded is not None:
                loaded[attname] = value

    def before_create(self):
        """Hook for subclasses: fill derived values just before the first insert.

        A field may be given an SQL expression (a number from a sequence, a value
        looked up in a table): the INSERT computes it and hands it back through
        RETURNING, so the lookup costs no round trip of its own."""

    def _do_insert(self, manager, using, fields, returning_fields, raw):
        computed = [
            f
            for f in fields
            if hasattr(self.__dict__.get(f.attname), "resolve_expression")
            and f not in returning_fields
        ]
        if not computed:
            return super()._do_insert(manager, using, fields, returning_fields, raw)
        results = super()._do_insert(manager, using, fields, [*returning_fields, *computed], raw)
        for value, f in zip(results[0][len(returning_fields) :], computed, strict=True):
            setattr(self, f.attname, f.to_python(value))
        return results


class DetailPage:
    """A record type with a page of its own, named by ``detail_url_name`` (the URL
    takes the primary key); tables build row links from the name too."""

    detail_url_name: str = ""

    def get_absolute_url(self):
        from django.urls import reverse

        return reverse(self.detail_url_name, args=[self.pk])


class NumberedRecord(Record):
    """A record with a reference number such as INC0000123."""

    number_prefix: str = ""
    number_width: int = 7

    number = models.CharField(_("number"), max_length=20, unique=True, editable=False)

    class Meta:
        abstract = True

    def before_create(self):
        from .numbering import next_number, number_expression

        if not self.number:
            if connection.vendor == "postgresql":
                # Drawn by the INSERT itself and read back through RETURNING.
                self.number = number_expression(self.number_prefix, self.number_width)
            else:
                self.number = (
                    f"{self.number_prefix}{next_number(self.number_prefix):0{self.number_width}d}"
                )
        super().before_create()

    def __str__(self):
        title = getattr(self, "short_description", "")
        return f"{self.number} {title}".strip()
