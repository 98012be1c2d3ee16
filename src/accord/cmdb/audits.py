"""Verification and audit (ISO/IEC 20000 9.1): a discovered dataset compared with the
CMDB, and the decisions taken on what differs.

A dataset is a CSV file (the CI CSV's columns, ``attr:<key>`` for typed attributes)
or GLPI-Agent inventories (JSON). Each discovered item is matched to a recorded CI by
external key, then serial, then name, within its type when the dataset names one, and
falls in one of four groups: matched and unchanged, matched and different (field by
field), missing (recorded in the run's scope, not discovered) and unknown (discovered,
not recorded). An empty value in the dataset means "not discovered": it is not
compared. An auditor then accepts a difference (the CI takes the discovered values),
rejects it with a reason, or creates the CI of an unknown item; every decision keeps
who took it and when, and every CI change goes through ``actions.save_ci``.

Reading the file happens in the request (it is bounded in size); a dataset of more
than ``INLINE_LIMIT`` items is compared by the worker while the run page shows its
status.
"""

import datetime
import json
import logging

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import OperationalError, connections, transaction
from django.db.models import Count, Q
from django.utils import timezone
from django.utils.translation import gettext as _
from huey.contrib.djhuey import db_task

from accord.core import history
from accord.core.context import acting_as
from accord.core.policy import can, customer_allowed, restrict, scope_for
from accord.organizations.models import Customer
from accord.users.models import Team

from . import actions
from .choices import AuditDecision, AuditOutcome, CIStatus, Criticality, RunStatus
from .models import AttributeDefinition, AuditItem, AuditRun, CIType, ConfigurationItem

log = logging.getLogger(__name__)

INLINE_LIMIT = 500  # datasets up to this many items are compared within the request
CHUNK = 500  # keys per lookup query
ITEM_FIELDS = (
    "run",
    "ci",
    "outcome",
    "matched_by",
    "discovered",
    "differences",
    "decision",
    "reason",
    "decided_by",
    "decided_at",
)
# Statuses of CIs that are no longer expected to be found: never reported missing.
NOT_EXPECTED = (CIStatus.RETIRED, CIStatus.DISPOSED)
FIELD_ORDER = (
    "name",
    "status",
    "criticality",
    "serial",
    "asset_tag",
    "external_key",
    "description",
    "owner",
    "location",
    "installed_on",
    "warranty_end",
    "retire_by",
)
DATE_FIELDS = ("installed_on", "warranty_end", "retire_by")
FK_FIELDS = ("owner", "location")


# --- starting a run ---------------------------------------------------------------------
def start_run(user, *, name, filename, source, records, location=None, customer=None):
    """Create the run for ``records`` (from ``read_dataset``) and compare them now, or
    queue the comparison when the dataset is large. Returns the run."""
    if not can(user, "audit", ConfigurationItem):
        raise PermissionDenied
    scope = {
        "location": location.pk if location else None,
        "customer": customer.pk if customer else None,
    }
    with transaction.atomic():
        run = AuditRun.objects.create(
            name=name[:150],
            source=source,
            filename=filename[:200],
            created_by=user,
            counts={"scope": scope, "discovered": len(records)},
        )
        if len(records) <= INLINE_LIMIT:
            compare(run, records)
            return run
        stored = default_storage.save(
            f"cmdb-audits/run-{run.pk}.json", ContentFile(json.dumps(records).encode())
        )
        transaction.on_commit(lambda: run_audit_job(run.pk, stored))
    return run


@db_task(retries=2, retry_delay=30, context=True)
def run_audit_job(run_id, stored, task=None):
    run_audit(run_id, stored, last_try=task is None or not task.retries)


def run_audit(run_id, stored, *, last_try=True):
    """The worker's part: compare the stored dataset of a queued run. Safe to repeat:
    a finished run is left alone, and the comparison is one transaction."""
    run = AuditRun.objects.filter(pk=run_id).select_related("created_by").first()
    if run is None or run.status in (RunStatus.DONE, RunStatus.FAILED):
        return
    AuditRun.objects.filter(pk=run.pk).update(status=RunStatus.RUNNING)
    try:
        with default_storage.open(stored, "rb") as handle:
            records = json.loads(handle.read().decode())
        with acting_as(run.created_by, "job:cmdb-audit"), transaction.atomic():
            compare(run, records)
    except OperationalError:
        if not last_try:
            raise  # the database was busy or away: the worker tries again
        _failed(run, _("The database could not be reached; start the run again."))
    except Exception as exc:  # noqa: BLE001  (the run says it failed; the log says why)
        log.exception("Audit run %s failed", run_id)
        _failed(run, _("The comparison failed: %(error)s") % {"error": exc})
    default_storage.delete(stored)


def _failed(run, message):
    AuditRun.objects.filter(pk=run.pk).update(
        status=RunStatus.FAILED, error=message[:1000], finished_at=timezone.now()
    )


# --- matching ---------------------------------------------------------------------------
def _in_chunks(values):
    values = list(values)
    for start in range(0, len(values), CHUNK):
        yield values[start : start + CHUNK]


def _lookup(field, values):
    """{value: [CIs]} for CIs whose ``field`` is one of ``values``."""
    found = {}
    for chunk in _in_chunks({v for v in values if v}):
        for ci in ConfigurationItem.objects.filter(**{f"{field}__in": chunk}):
            found.setdefault(getattr(ci, field), []).append(ci)
    return found


def _recorded_value(ci, field):
    if field.startswith("attr:"):
        return (ci.attributes or {}).get(field[5:])
    if field in FK_FIELDS:
        return getattr(ci, f"{field}_id")
    value = getattr(ci, field)
    if isinstance(value, datetime.date):
        return value.isoformat()
    return value


def differences(ci, record):
    """{field: [recorded, discovered]} for the values the dataset has that differ."""
    out = {}
    discovered = {"name": record["name"], **record.get("fields", {})}
    for key, value in record.get("attributes", {}).items():
        discovered[f"attr:{key}"] = value
    for field, found in discovered.items():
        if found in (None, ""):
            continue
        recorded = _recorded_value(ci, field)
        if recorded in (None, ""):
            recorded = None
        if recorded != found:
            out[field] = [recorded, found]
    return out


def _pick(candidates, type_id, claimed):
    """The one candidate of the type (any type if None) not matched yet, or None."""
    fits = [
        ci
        for ci in candidates
        if ci.pk not in claimed and (type_id is None or ci.ci_type_id == type_id)
    ]
    return fits[0] if len(fits) == 1 else None


def _location_ids(root_id):
    """The location and every location within it (locations may nest)."""
    ids, frontier = {root_id}, [root_id]
    while frontier:
        inner = list(
            ConfigurationItem.objects.filter(
                location_id__in=frontier, ci_type__is_location=True
            ).values_list("pk", flat=True)
        )
        frontier = [i for i in inner if i not in ids]
        ids.update(frontier)
    return ids


def _item_row(run, outcome, ci_id=None, how="", record=None, diff=None):
    return {
        "run_id": run.pk,
        "ci_id": ci_id,
        "outcome": str(outcome),
        "matched_by": how,
        "discovered": record or {},
        "differences": diff or {},
        "decision": AuditDecision.PENDING.value,
        "reason": "",
        "decided_by_id": None,
        "decided_at": None,
    }


def _insert_items(rows):
    """The discovered items: one prepared INSERT run for every row (the driver sends
    them in one go), cheaper than the ORM's bulk insert at tens of thousands."""
    if not rows:
        return
    connection = connections[AuditItem.objects.db]
    qn = connection.ops.quote_name
    fields = [AuditItem._meta.get_field(name) for name in ITEM_FIELDS]
    # Names come from the model's metadata, quoted; values are bound parameters.
    sql = (
        f"INSERT INTO {qn(AuditItem._meta.db_table)} "  # noqa: S608
        f"({', '.join(qn(f.column) for f in fields)}) "
        f"VALUES ({', '.join(['%s'] * len(fields))})"
    )
    with connection.cursor() as cursor:
        cursor.executemany(
            sql,
            [[f.get_db_prep_save(row[f.attname], connection) for f in fields] for row in rows],
        )


def _insert_missing(run, ids):
    """The missing CIs' items in one statement whatever their number (there may be
    tens of thousands): the ids travel as one array parameter."""
    if not ids:
        return 0
    connection = connections[AuditItem.objects.db]
    qn = connection.ops.quote_name
    meta = AuditItem._meta
    # The ids with their position: items are numbered in the order of the names.
    if connection.vendor == "postgresql":
        empty_json = "'{}'::jsonb"
        source = "SELECT t.x AS m_id, t.o AS o FROM unnest(%s::bigint[]) WITH ORDINALITY AS t(x, o)"
        ids_param = list(ids)
    else:
        empty_json = "'{}'"
        source = (
            "SELECT CAST(value AS INTEGER) AS m_id, CAST(key AS INTEGER) AS o FROM json_each(%s)"
        )
        ids_param = json.dumps(list(ids))
    chosen = {
        "run": "%s",
        "ci": "m.m_id",
        "outcome": "%s",
        "matched_by": "''",
        "discovered": empty_json,
        "differences": empty_json,
        "decision": "%s",
        "reason": "''",
        "decided_by": "NULL",
        "decided_at": "NULL",
    }
    fields = [meta.get_field(name) for name in chosen]
    # Names come from the model's metadata, quoted; values are bound parameters.
    sql = (
        f"INSERT INTO {qn(meta.db_table)} ({', '.join(qn(f.column) for f in fields)}) "  # noqa: S608
        f"SELECT {', '.join(chosen.values())} FROM ({source}) m ORDER BY m.o"
    )
    params = [run.pk, AuditOutcome.MISSING.value, AuditDecision.PENDING.value, ids_param]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
    return len(ids)


def compare(run, records):
    """Match ``records`` against the CMDB and write the run's items; one transaction
    (the caller's, or its own)."""
    types = {t.key: t for t in CIType.objects.all()}
    type_ids = [types[r["type"]].pk if r.get("type") in types else None for r in records]
    matched = [None] * len(records)  # (ci, how) per record
    claimed = set()
    # The strongest key first, for every record; the next key only for the records
    # still unmatched, so each pass looks up fewer CIs.
    for how, value_of in (
        ("external_key", lambda r: r["fields"].get("external_key")),
        ("serial", lambda r: r["fields"].get("serial")),
        ("name", lambda r: r["name"]),
    ):
        waiting = [i for i, m in enumerate(matched) if m is None and value_of(records[i])]
        found = _lookup(how, (value_of(records[i]) for i in waiting))
        for i in waiting:
            ci = _pick(found.get(value_of(records[i]), ()), type_ids[i], claimed)
            if ci is not None:
                claimed.add(ci.pk)
                matched[i] = (ci, how)
    rows = []
    audited_types = set()
    for record, type_id, match in zip(records, type_ids, matched, strict=True):
        if match is None:
            if type_id:
                audited_types.add(type_id)
            rows.append(_item_row(run, AuditOutcome.UNKNOWN, record=record))
            continue
        ci, how = match
        audited_types.add(ci.ci_type_id)
        diff = differences(ci, record)
        outcome = AuditOutcome.DIFFERENT if diff else AuditOutcome.UNCHANGED
        rows.append(_item_row(run, outcome, ci.pk, how, record, diff))
    scope = (run.counts or {}).get("scope") or {}
    missing = restrict(
        ConfigurationItem.objects.filter(ci_type_id__in=audited_types), run.created_by
    ).exclude(status__in=NOT_EXPECTED)
    if scope.get("location"):
        missing = missing.filter(location_id__in=_location_ids(scope["location"]))
    if scope.get("customer"):
        missing = missing.filter(customers=scope["customer"])
    missing_ids = []
    if audited_types:
        missing_ids = [
            pk
            for pk in missing.order_by("name", "pk").values_list("pk", flat=True).iterator()
            if pk not in claimed
        ]
    counts = {o.value: 0 for o in AuditOutcome}
    for row in rows:
        counts[row["outcome"]] += 1
    with transaction.atomic():
        _insert_items(rows)
        counts[AuditOutcome.MISSING.value] = _insert_missing(run, missing_ids)
        run.counts = {
            **counts,
            "discovered": len(records),
            "scope": {
                **scope,
                "types": sorted(t.key for t in types.values() if t.pk in audited_types),
            },
        }
        run.status = RunStatus.DONE
        run.finished_at = timezone.now()
        run.save(update_fields=["counts", "status", "finished_at"])
    return run


# --- what a user sees -------------------------------------------------------------------
def sees_unrecorded(user):
    """Unknown items (and items whose CI has since been deleted) belong to no customer:
    only those who see every customer or may decide on audits see them."""
    scope = scope_for(user)
    return scope is not None and (scope.all_customers or can(user, "audit", ConfigurationItem))


def visible_runs(user):
    scope = scope_for(user)
    if scope is None or not scope.is_staff:
        return AuditRun.objects.none()
    return AuditRun.objects.all()


def visible_items(user, items=None):
    """The audit items whose recorded CI the user may see, and the unrecorded ones for
    those who may see them."""
    items = AuditItem.objects.all() if items is None else items
    scope = scope_for(user)
    if scope is None or not scope.is_staff:
        return items.none()
    if scope.all_customers:
        return items
    condition = Q(ci__in=restrict(ConfigurationItem.objects.all(), user).values("pk"))
    if sees_unrecorded(user):
        condition |= Q(ci__isnull=True)
    return items.filter(condition)


def counts_for(user, runs):
    """{run id: {outcome: n, "pending": n}} over the items the user may see."""
    runs = list(runs)
    out = {r.pk: {**{o.value: 0 for o in AuditOutcome}, "pending": 0} for r in runs}
    rows = (
        visible_items(user, AuditItem.objects.filter(run__in=[r.pk for r in runs]))
        .values("run_id", "outcome")
        .annotate(
            n=Count("id"),
            pending=Count(
                "id",
                filter=Q(decision=AuditDecision.PENDING) & ~Q(outcome=AuditOutcome.UNCHANGED),
            ),
        )
        .order_by()
    )
    for row in rows:
        out[row["run_id"]][row["outcome"]] = row["n"]
        out[row["run_id"]]["pending"] += row["pending"]
    return out


# --- showing differences ----------------------------------------------------------------
def field_label(field, definitions):
    if field.startswith("attr:"):
        definition = definitions.get(field[5:])
        return definition.label if definition else field[5:]
    return str(ConfigurationItem._meta.get_field(field).verbose_name).capitalize()


class Labeller:
    """Turns stored values into words for a page of items, with one query per kind of
    name (teams, CIs, attribute definitions) instead of one per value."""

    def __init__(self, items):
        type_keys, type_ids, team_ids, ci_ids = set(), set(), set(), set()
        for item in items:
            if item.ci is not None:
                type_ids.add(item.ci.ci_type_id)
            record = item.discovered or {}
            if record.get("type"):
                type_keys.add(record["type"])
            values = [*record.get("fields", {}).items(), *item.differences.items()]
            for field, value in values:
                for v in value if isinstance(value, list) else [value]:
                    if v is None:
                        continue
                    if field == "owner":
                        team_ids.add(v)
                    elif field == "location":
                        ci_ids.add(v)
        self.types = {
            t.pk: t for t in CIType.objects.filter(Q(pk__in=type_ids) | Q(key__in=type_keys))
        }
        self.type_by_key = {t.key: t for t in self.types.values()}
        self.definitions = {}
        for d in AttributeDefinition.objects.filter(ci_type_id__in=self.types):
            self.definitions.setdefault(d.ci_type_id, {})[d.key] = d
            if d.kind == "reference":
                for item in items:
                    for v in self._attribute_values(item, d.key):
                        if isinstance(v, int):
                            ci_ids.add(v)
        self.teams = dict(Team.objects.filter(pk__in=team_ids).values_list("pk", "name"))
        self.cis = dict(ConfigurationItem.objects.filter(pk__in=ci_ids).values_list("pk", "name"))

    @staticmethod
    def _attribute_values(item, key):
        record = item.discovered or {}
        yield record.get("attributes", {}).get(key)
        yield from item.differences.get(f"attr:{key}", [])

    def type_of(self, item):
        if item.ci is not None:
            return self.types.get(item.ci.ci_type_id)
        return self.type_by_key.get((item.discovered or {}).get("type") or "")

    def value(self, field, value, definitions):
        if value is None or value == "":
            return "—"
        if field == "status":
            return str(CIStatus(value).label) if value in CIStatus.values else str(value)
        if field == "criticality":
            return str(Criticality(value).label) if value in Criticality.values else str(value)
        if field == "owner":
            return self.teams.get(value, _("(deleted team)"))
        if field == "location":
            return self.cis.get(value, _("(deleted CI)"))
        if field.startswith("attr:"):
            definition = definitions.get(field[5:])
            if definition is not None and definition.kind == "reference":
                return self.cis.get(value, str(value))
        return str(value)

    def rows(self, item):
        """(label, recorded, discovered) for a matched-different item."""
        ci_type = self.type_of(item)
        definitions = self.definitions.get(ci_type.pk, {}) if ci_type else {}
        return [
            (
                field_label(field, definitions),
                self.value(field, recorded, definitions),
                self.value(field, found, definitions),
            )
            for field, (recorded, found) in sorted(
                item.differences.items(), key=lambda kv: _field_rank(kv[0], definitions)
            )
        ]

    def discovered_rows(self, item):
        """(label, value) of everything discovered for an item."""
        record = item.discovered or {}
        ci_type = self.type_of(item)
        definitions = self.definitions.get(ci_type.pk, {}) if ci_type else {}
        values = {"name": record.get("name"), **record.get("fields", {})}
        values.update({f"attr:{k}": v for k, v in record.get("attributes", {}).items()})
        return [
            (field_label(f, definitions), self.value(f, v, definitions))
            for f, v in sorted(values.items(), key=lambda kv: _field_rank(kv[0], definitions))
            if v not in (None, "")
        ]


def _field_rank(field, definitions):
    """CI fields in the order of the CI page, then attributes in their type's order."""
    if field in FIELD_ORDER:
        return (0, FIELD_ORDER.index(field), field)
    definition = definitions.get(field[5:])
    return (1, definition.order if definition else 999, field)


# --- decisions --------------------------------------------------------------------------
def choices_for(item):
    """The decisions an item allows."""
    if item.outcome == AuditOutcome.DIFFERENT:
        return [AuditDecision.ACCEPTED, AuditDecision.REJECTED]
    if item.outcome == AuditOutcome.UNKNOWN:
        return [AuditDecision.CREATED, AuditDecision.REJECTED]
    if item.outcome == AuditOutcome.MISSING:
        return [AuditDecision.REJECTED]
    return []


def _reference(run):
    return (_("Audit %(name)s") % {"name": run.name})[:50]


def decide(user, item, decision, reason="", *, ci_type=None, status=None, customer=None):
    """Take ``decision`` on ``item`` (loaded through ``visible_items``): accept writes
    the discovered values to the CI, create adds the CI, reject keeps the record as it
    is; each says why in ``reason`` (required to reject). All or nothing: a refused CI
    write leaves the item undecided. ValidationError names the field."""
    if not can(user, "audit", ConfigurationItem):
        raise PermissionDenied
    run = item.run
    reason = (reason or "").strip()
    if run.status != RunStatus.DONE:
        raise ValidationError(_("This run is not finished yet."))
    if decision not in choices_for(item):
        raise ValidationError(
            {
                "decision": _("“%(decision)s” is not a decision for an item that is %(outcome)s.")
                % {"decision": decision, "outcome": item.get_outcome_display().lower()}
            }
        )
    if decision == AuditDecision.REJECTED and not reason:
        raise ValidationError({"reason": _("Say why the difference is rejected.")})
    if len(reason) > 500:
        raise ValidationError({"reason": _("The reason is longer than 500 characters.")})
    now = timezone.now()
    with transaction.atomic():
        # The conditional update is the guard: of two auditors deciding at once, one
        # wins and the other hears that the item was decided.
        taken = AuditItem.objects.filter(pk=item.pk, decision=AuditDecision.PENDING).update(
            decision=decision, reason=reason, decided_by=user, decided_at=now
        )
        if not taken:
            current = AuditItem.objects.select_related("decided_by").get(pk=item.pk)
            raise ValidationError(
                _("This item was already decided (%(decision)s by %(user)s on %(at)s).")
                % {
                    "decision": current.get_decision_display().lower(),
                    "user": current.decided_by or _("someone"),
                    "at": timezone.localtime(current.decided_at).strftime("%Y-%m-%d %H:%M")
                    if current.decided_at
                    else "—",
                }
            )
        if decision == AuditDecision.ACCEPTED:
            _accept(item, run, reason)
        elif decision == AuditDecision.CREATED:
            ci = _create(user, item, run, reason, ci_type, status, customer)
            AuditItem.objects.filter(pk=item.pk).update(ci=ci)
            item.ci = ci
    item.decision, item.reason, item.decided_by, item.decided_at = decision, reason, user, now
    return item


def _check_external_key(ci):
    """The constraint's own message names only the constraint: say it in words."""
    key = ci.external_key
    if key and ConfigurationItem.objects.filter(external_key=key).exclude(pk=ci.pk).exists():
        raise ValidationError(
            {
                "external_key": _("Another CI already has the external key “%(key)s”.")
                % {"key": key[:100]}
            }
        )


def _accept(item, run, reason):
    ci = item.ci
    if ci is None:
        raise ValidationError(_("The recorded CI has been deleted since the run."))
    ci = ConfigurationItem.objects.select_related("ci_type").get(pk=ci.pk)
    attributes = dict(ci.attributes or {})
    for field, (_recorded, found) in item.differences.items():
        if field.startswith("attr:"):
            attributes[field[5:]] = found
        elif field in FK_FIELDS:
            setattr(ci, f"{field}_id", found)
        elif field in DATE_FIELDS:
            setattr(ci, field, datetime.date.fromisoformat(found))
        else:
            setattr(ci, field, found)
    ci.attributes = attributes
    _check_external_key(ci)
    actions.save_ci(ci, change_reference=_reference(run))
    labels = Labeller([item])
    names = ", ".join(label for label, _r, _f in labels.rows(item))
    history.event(
        ci,
        _("Audit “%(run)s”: discovered values accepted (%(fields)s).%(why)s")
        % {"run": run.name, "fields": names, "why": f" {reason}" if reason else ""},
        customer_visible=False,
    )


def _create(user, item, run, reason, ci_type, status, customer):
    if not can(user, "add", ConfigurationItem):
        raise PermissionDenied
    record = item.discovered or {}
    if ci_type is None and record.get("type"):
        ci_type = CIType.objects.filter(key=record["type"]).first()
    if ci_type is None:
        raise ValidationError({"ci_type": _("Choose the type of the new CI.")})
    if customer is not None and not customer_allowed(user, customer.pk):
        raise ValidationError({"customer": _("You do not serve this customer.")})
    fields = dict(record.get("fields", {}))
    ci = ConfigurationItem(name=record.get("name", ""), ci_type=ci_type)
    for field, value in fields.items():
        if value in (None, ""):
            continue
        if field in FK_FIELDS:
            setattr(ci, f"{field}_id", value)
        elif field in DATE_FIELDS:
            setattr(ci, field, datetime.date.fromisoformat(value))
        else:
            setattr(ci, field, value)
    ci.status = status or fields.get("status") or CIStatus.LIVE
    definitions = {d.key for d in ci_type.definitions()}
    ci.attributes = {
        k: v for k, v in record.get("attributes", {}).items() if k in definitions and v is not None
    }
    _check_external_key(ci)
    actions.save_ci(
        ci, customers=[customer] if customer else None, change_reference=_reference(run)
    )
    history.event(
        ci,
        _("Created from audit “%(run)s”.%(why)s")
        % {"run": run.name, "why": f" {reason}" if reason else ""},
        customer_visible=False,
    )
    return ci


def customer_choices(user):
    return restrict(Customer.objects.all(), user)
