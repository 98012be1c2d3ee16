"""Writing checked rows in bulk: the CIs of a chunk (their ids drawn beforehand) in
one COPY (PostgreSQL) or multi-row INSERTs, updates in one statement, their
customers and services, one change-history row per created or changed CI as
``Record.save`` would write it, search entries, and a live-change note for each live
CI an import changed. The writes are prepared on the thread that checks the rows
(values converted, COPY data built) and made by the connection that holds the
import's transaction.

These writes send no ``record_saved`` signals (a signal per row would cost more than
the row): an import ends with a graph reload event instead, for the impact graph.
"""

import datetime

from django.db.models.base import ModelState
from django.utils import timezone
from django.utils.translation import gettext as _

from accord.core import history, search
from accord.core.context import current_actor
from accord.core.rows import defer, deferred, insert_many, update_rows

from .choices import CIStatus
from .models import ConfigurationItem, LiveChange

# The stored columns an import reads and writes (attnames), in the model's order.
STORED = (
    "name",
    "ci_type_id",
    "status",
    "criticality",
    "owner_id",
    "location_id",
    "description",
    "serial",
    "asset_tag",
    "external_key",
    "installed_on",
    "warranty_end",
    "retire_by",
    "attributes",
)
UPDATED = tuple(n for n in STORED if n != "ci_type_id") + ("version", "updated")
FIELD_NAMES = {"ci_type_id": "ci_type", "owner_id": "owner", "location_id": "location"}
CUSTOMERS = ConfigurationItem.customers.through
SERVICES = ConfigurationItem.services.through


def prepare_cis(creates, updates, filename):
    """A chunk's writes, prepared (``core.rows.deferred``) for ``core.rows.run_all``
    to make, on the connection that holds the import's transaction: ``creates`` are
    (row, values, customers, services), ``updates`` the same plus the changes."""
    with deferred() as writes:
        _write(creates, updates, filename)
    return writes


def _write(creates, updates, filename):
    now = timezone.now()
    links, unlinks = [], []
    entries, indexed, reindexed, live = [], [], [], []
    if creates:
        rows = []
        for row, new, customers, services in creates:
            stored = {"id": row.id, "created": now, "updated": now, "version": 1, **new}
            rows.append(stored)
            links += [("customers", row.id, c) for c in customers]
            links += [("services", row.id, s) for s in services]
            values = {
                FIELD_NAMES.get(n, n): v.isoformat() if type(v) is datetime.date else v
                for n, v in new.items()
                if v is not None and v != ""
            }
            if customers:
                values["customers"] = sorted(customers)
            if services:
                values["services"] = sorted(services)
            entries.append((row.id, new["name"], "create", values))
            indexed.append(_instance(stored))
        insert_many(ConfigurationItem, rows)
    if updates:
        changed = []
        for row, new, customers, services, changes in updates:
            state = row.state
            values = {n: new[n] for n in STORED if n != "ci_type_id"}
            values["version"] = state["version"] + 1
            values["updated"] = now
            changed.append((row.id, values))
            for name, after in (("customers", customers), ("services", services)):
                before = state[name]
                links += [(name, row.id, o) for o in after - before]
                unlinks += [(name, state["links"][(name, o)]) for o in before - after]
            entries.append((row.id, new["name"], "update", changes))
            reindexed.append((_instance({**values, **new, "id": row.id}), changes))
            if state["status"] == CIStatus.LIVE:
                live.append(row.id)
        update_rows(ConfigurationItem, UPDATED, changed)
    _links(links, unlinks)
    history.record_many(ConfigurationItem, entries)
    search.index_records(ConfigurationItem, indexed, reindexed)
    note_live_changes(live, filename, now)


def _instance(stored):
    """The CI as its search entry reads it, from its stored values: built as
    unpickling builds an instance (``Model.__init__`` per row costs more than the
    row's INSERT)."""
    item = ConfigurationItem.__new__(ConfigurationItem)
    item.__dict__.update(stored)
    item._state = ModelState()
    item._state.adding, item._state.db = False, "default"
    return item


def _links(links, unlinks):
    customers = [
        {"configurationitem_id": ci, "customer_id": o} for n, ci, o in links if n == "customers"
    ]
    services = [
        {"configurationitem_id": ci, "service_id": o} for n, ci, o in links if n == "services"
    ]
    insert_many(CUSTOMERS, customers)
    insert_many(SERVICES, services)
    for name, through in (("customers", CUSTOMERS), ("services", SERVICES)):
        ids = [pk for n, pk in unlinks if n == name]
        if ids:
            defer(_unlink, through, ids)


def _unlink(through, ids):
    through.objects.filter(pk__any=ids).delete()


def note_live_changes(ids, filename, now):
    """A LiveChange per CI: the status accounting report lists them (an import names
    no authorising change)."""
    if not ids:
        return
    actor = current_actor()
    summary = (_("Changed by import %(file)s") % {"file": filename})[:500]
    insert_many(
        LiveChange,
        [
            {
                "ci_id": pk,
                "at": now,
                "by_id": actor.user_id,
                "actor": actor.label[:100],
                "summary": summary,
                "change_reference": "",
            }
            for pk in ids
        ],
    )
