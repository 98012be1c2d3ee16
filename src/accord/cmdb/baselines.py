"""Baselines (ISO/IEC 20000 9.1): a named snapshot of a selection of configuration
items, with their fields, typed attributes and relationships at one moment, and the
comparison of a baseline with today or with another baseline.

A baseline is taken by streaming the selected CIs in primary-key order, a chunk at a
time (their customers, services and relationships read for the whole chunk), and
writing its items a chunk at a time: memory stays flat, and the number of queries
grows with the number of chunks, not of CIs. A comparison walks two streams ordered
by CI id side by side (a merge join), so only the differences are kept.

Visibility: a baseline spans customers (the model lets every member of staff see
it, never a customer user); each user sees only the items of the CIs they may see
today, and within an item only the customers and related CIs they may see. A CI
deleted since the baseline was taken is shown only to staff who see every customer.
"""

from collections import defaultdict
from dataclasses import dataclass
from types import SimpleNamespace

from django import forms
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.http import QueryDict
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accord.catalogue.models import Service
from accord.core.policy import can, restrict, scope_for
from accord.core.rows import insert_rows
from accord.organizations.models import Customer

from .choices import CIStatus, Criticality
from .filters import CIFilterSet
from .models import (
    AttributeDefinition,
    Baseline,
    BaselineItem,
    ConfigurationItem,
    Relationship,
    RelationshipType,
)

CHUNK = 1000  # CIs read per round trip (their customers, services, links with them)
INSERT_SLICE = 500  # items per INSERT statement
OUT, IN = "out", "in"

ADDED, REMOVED, CHANGED = "added", "removed", "changed"
KIND_LABELS = {
    ADDED: gettext_lazy("Added"),
    REMOVED: gettext_lazy("Removed"),
    CHANGED: gettext_lazy("Changed"),
}

# The fields a snapshot keeps, in the order differences are listed.
FIELD_NAMES = (
    "status",
    "criticality",
    "owner",
    "location",
    "customers",
    "services",
    "serial",
    "asset_tag",
    "external_key",
    "installed_on",
    "warranty_end",
    "retire_by",
    "description",
)
COLUMNS = (
    "pk",
    "name",
    "ci_type_id",
    "ci_type__name",
    "status",
    "criticality",
    "owner__name",
    "location_id",
    "location__name",
    "serial",
    "asset_tag",
    "external_key",
    "installed_on",
    "warranty_end",
    "retire_by",
    "description",
    "attributes",
)


def field_label(name):
    return str(ConfigurationItem._meta.get_field(name).verbose_name).capitalize()


@dataclass(slots=True)
class Snapshot:
    """One CI as a baseline holds it (or as it is today)."""

    ci_id: int
    name: str
    ci_type: str
    data: dict  # field name -> value; "attributes": {label: value}; empty ones left out
    relations: list  # [relationship type name, "out"/"in", other CI id, other CI name]


@dataclass(slots=True)
class Difference:
    """How one CI differs between the earlier and the later set."""

    kind: str  # ADDED, REMOVED or CHANGED; "" when nothing changed
    ci_id: int
    name: str
    ci_type: str
    changes: list  # (what, before, after) as shown; empty for an added or removed CI

    @property
    def kind_label(self):
        return KIND_LABELS[self.kind]


# --- the selection ---------------------------------------------------------------------
def criteria_from(query) -> dict:
    """The CI list's query parameters that select CIs, as stored in a baseline:
    {filter name: [values]}, empty values left out."""
    out = {}
    getlist = getattr(query, "getlist", None)
    for name in CIFilterSet.base_filters:
        if getlist is not None:
            values = getlist(name)
        else:
            raw = query.get(name)
            values = raw if isinstance(raw, list | tuple) else [] if raw is None else [raw]
        # A NUL character is no text a database accepts in a query.
        values = [str(v).replace("\x00", "").strip() for v in values if v is not None]
        values = [v for v in values if v]
        if values:
            out[name] = values[:100]
    return out


def _query(criteria) -> QueryDict:
    data = QueryDict(mutable=True)
    for name, values in (criteria or {}).items():
        if name in CIFilterSet.base_filters:
            data.setlist(name, [str(v) for v in (values if isinstance(values, list) else [values])])
    return data


def is_id(text) -> bool:
    """Is ``text`` a row id (ASCII digits only, as ``int()`` and the database take)?"""
    text = str(text)
    return text.isascii() and text.isdigit() and len(text) <= 18


def criteria_filterset(user, criteria, queryset=None):
    """The CI filterset bound to ``criteria`` as ``user`` would fill it in (their
    choices only: an agent cannot select by another customer)."""
    qs = restrict(ConfigurationItem.objects.all(), user) if queryset is None else queryset
    return CIFilterSet(_query(criteria), queryset=qs, request=SimpleNamespace(user=user))


class _StoredSelection(CIFilterSet):
    """A baseline's selection read back later: its choices were checked against the
    scope of whoever took it, so any row may be named; what the reader sees is
    limited by restricting the result instead."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        unrestricted = {
            "location": ConfigurationItem.objects.filter(ci_type__is_location=True),
            "customer": Customer.objects.all(),
            "service": Service.objects.all(),
        }
        for name, qs in unrestricted.items():
            self.filters[name].queryset = qs


def stored_selection(baseline):
    """(queryset of every CI the baseline's selection names today, or None, and a
    message saying why not when the selection no longer applies)."""
    fs = _StoredSelection(
        _query(baseline.criteria),
        queryset=ConfigurationItem.objects.all(),
        request=SimpleNamespace(user=None),
    )
    if not fs.is_valid():
        problems = "; ".join(
            f"{fs.form.fields[name].label}: {' '.join(errors)}"
            for name, errors in fs.form.errors.items()
            if name in fs.form.fields
        )
        return None, _(
            "The selection of this baseline no longer applies (%(problems)s): CIs "
            "added since are not listed."
        ) % {"problems": problems or _("invalid")}
    return fs.qs, ""


def describe_criteria(baseline):
    """[(filter label, chosen values as text)] for the baseline's selection."""
    fs = _StoredSelection(
        _query(baseline.criteria),
        queryset=ConfigurationItem.objects.none(),
        request=SimpleNamespace(user=None),
    )
    form = fs.form
    out = []
    criteria = baseline.criteria or {}
    for name, field in form.fields.items():  # in the filters' order
        values = criteria.get(name)
        if not values:
            continue
        values = values if isinstance(values, list) else [values]
        shown = list(values)
        choices = getattr(field, "choices", None)
        queryset = getattr(field, "queryset", None)
        if isinstance(field, forms.NullBooleanField):
            shown = [str(_("yes")) if field.to_python(v) else str(_("no")) for v in values]
        elif queryset is not None:
            ids = [v for v in values if is_id(v)]
            names = {str(o.pk): str(o) for o in queryset.filter(pk__in=ids)}
            shown = [names.get(str(v), f"#{v}") for v in values]
        elif choices is not None:
            labels = {str(k): str(v) for k, v in choices}
            shown = [labels.get(str(v), str(v)) for v in values]
        out.append((str(field.label), ", ".join(shown)))
    return out


# --- snapshots -----------------------------------------------------------------------
def _batched(iterable, size):
    batch = []
    for item in iterable:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def _attribute_labels():
    """{CI type id: {attribute key: label}} (a label shared by two attributes of one
    type gets its key appended, so neither hides the other)."""
    out = defaultdict(dict)
    for type_id, key, label in AttributeDefinition.objects.values_list(
        "ci_type_id", "key", "label"
    ):
        out[type_id][key] = label
    for labels in out.values():
        seen = defaultdict(int)
        for label in labels.values():
            seen[label] += 1
        for key, label in list(labels.items()):
            if seen[label] > 1:
                labels[key] = f"{label} ({key})"
    return out


def _grouped(pairs):
    out = defaultdict(list)
    for key, value in pairs:
        out[key].append(value)
    return out


@dataclass
class _Names:
    """Names read once per stream: attribute labels by type, relationship types,
    customers and services (each a short table), so the queries of a chunk join
    nothing."""

    labels: dict
    rel_types: dict
    customers: dict
    services: dict

    @classmethod
    def load(cls):
        return cls(
            labels=_attribute_labels(),
            rel_types=dict(RelationshipType.objects.values_list("pk", "name")),
            customers=dict(Customer.objects.values_list("pk", "name")),
            services=dict(Service.objects.values_list("pk", "name")),
        )

    @staticmethod
    def complete(mapping, model, pks):
        """Add the names of rows created since the stream began."""
        missing = pks - mapping.keys()
        if missing:
            mapping.update(model.objects.filter(pk__in=missing).values_list("pk", "name"))
            mapping.update({pk: "" for pk in missing - mapping.keys()})


def _type_name(names, type_id):
    names.complete(names.rel_types, RelationshipType, {type_id})
    return names.rel_types[type_id]


def _snapshot_chunk(rows, names):
    ids = [r[0] for r in rows]
    through_c = ConfigurationItem.customers.through
    through_s = ConfigurationItem.services.through
    customer_pairs = list(
        through_c.objects.filter(configurationitem_id__any=ids).values_list(
            "configurationitem_id", "customer_id"
        )
    )
    service_pairs = list(
        through_s.objects.filter(configurationitem_id__any=ids).values_list(
            "configurationitem_id", "service_id"
        )
    )
    names.complete(names.customers, Customer, {pk for _ci, pk in customer_pairs})
    names.complete(names.services, Service, {pk for _ci, pk in service_pairs})
    customers = _grouped((ci, names.customers[pk]) for ci, pk in customer_pairs)
    services = _grouped((ci, names.services[pk]) for ci, pk in service_pairs)
    links = list(
        Relationship.objects.filter(Q(source_id__any=ids) | Q(target_id__any=ids)).values_list(
            "source_id", "rel_type_id", "target_id"
        )
    )
    # A link between two CIs of the chunk is listed on both; one to a CI outside it,
    # on the chunk's end only (the other end's entry is never read).
    # The names of the CIs at the other ends: those of the chunk are at hand; the
    # others are read by key (a join would scan every CI for each chunk).
    ci_names = {r[0]: r[1] for r in rows}
    others = {end for source, _t, target in links for end in (source, target)} - ci_names.keys()
    if others:
        ci_names.update(
            ConfigurationItem.objects.filter(pk__any=sorted(others)).values_list("pk", "name")
        )
    relations = defaultdict(list)
    for source, type_id, target in links:
        type_name = names.rel_types.get(type_id) or _type_name(names, type_id)
        relations[source].append([type_name, OUT, target, ci_names.get(target, "")])
        relations[target].append([type_name, IN, source, ci_names.get(source, "")])
    labels = names.labels
    out = []
    for (
        pk,
        name,
        type_id,
        type_name,
        status,
        criticality,
        owner,
        location_id,
        location,
        serial,
        asset_tag,
        external_key,
        installed_on,
        warranty_end,
        retire_by,
        description,
        attributes,
    ) in rows:
        type_labels = labels.get(type_id, {})
        values = {
            "status": status,
            "criticality": criticality,
            "owner": owner,
            "location": [location_id, location] if location_id else None,
            "customers": sorted(customers.get(pk, ())),
            "services": sorted(services.get(pk, ())),
            "serial": serial,
            "asset_tag": asset_tag,
            "external_key": external_key,
            "installed_on": installed_on.isoformat() if installed_on else None,
            "warranty_end": warranty_end.isoformat() if warranty_end else None,
            "retire_by": retire_by.isoformat() if retire_by else None,
            "description": description,
        }
        data = {k: v for k, v in values.items() if v not in (None, "", [])}
        shown = {
            type_labels.get(key, key): value
            for key, value in (attributes or {}).items()
            if value not in (None, "", [])
        }
        if shown:
            data["attributes"] = shown
        out.append(
            Snapshot(pk, name, type_name, data, sorted(relations.get(pk, ()), key=_relation_key))
        )
    return out


def _relation_key(relation):
    return (relation[0], relation[1], relation[2])


def snapshots(queryset):
    """The CIs of ``queryset`` as snapshots, in primary-key order, read a chunk at a
    time."""
    names = _Names.load()
    rows = queryset.order_by("pk").values_list(*COLUMNS).iterator(chunk_size=CHUNK)
    last = None
    for chunk in _batched(rows, CHUNK):
        # A filter across a many-to-many field could repeat a CI: keep it once.
        unique = []
        for row in chunk:
            if row[0] != last:
                unique.append(row)
                last = row[0]
        yield from _snapshot_chunk(unique, names)


def stored_snapshots(items):
    """A baseline's items (a BaselineItem queryset) as snapshots, in CI id order."""
    rows = (
        items.order_by("ci_id")
        .values_list("ci_id", "name", "ci_type", "data", "relations")
        .iterator(chunk_size=CHUNK)
    )
    for ci_id, name, ci_type, data, relations in rows:
        yield Snapshot(ci_id, name, ci_type, data or {}, relations or [])


# --- taking one ------------------------------------------------------------------------
def take_baseline(user, *, name, description="", criteria=None):
    """Take a baseline of the CIs ``criteria`` selects (the CI list's filters) among
    those ``user`` may see. ValidationError naming the field (``name``,
    ``description`` or a filter) otherwise; nothing is written then."""
    if not can(user, "add", Baseline):
        raise PermissionDenied
    criteria = criteria_from(criteria or {})
    name = (name or "").strip()
    description = (description or "").strip()
    errors = {}
    if not name:
        errors["name"] = [_("A baseline needs a name.")]
    elif len(name) > Baseline._meta.get_field("name").max_length:
        errors["name"] = [
            _("The name is longer than %(n)d characters.")
            % {"n": Baseline._meta.get_field("name").max_length}
        ]
    elif Baseline.objects.filter(name__iexact=name).exists():
        errors["name"] = [_("A baseline called “%(name)s” already exists.") % {"name": name}]
    if len(description) > Baseline._meta.get_field("description").max_length:
        errors["description"] = [
            _("The description is longer than %(n)d characters.")
            % {"n": Baseline._meta.get_field("description").max_length}
        ]
    fs = criteria_filterset(user, criteria)
    if not fs.is_valid():
        for field, messages in fs.form.errors.items():
            errors[field] = list(messages)
    if errors:
        raise ValidationError(errors)
    baseline = Baseline(
        name=name,
        description=description,
        criteria=criteria,
        taken_at=timezone.now(),
        taken_by=user,
    )
    try:
        with transaction.atomic():
            baseline.save()
            count = write_items(baseline, fs.qs)
            baseline.set_derived(item_count=count)
    except IntegrityError:
        # Another baseline of the same name was taken in the meantime.
        raise ValidationError(
            {"name": [_("A baseline called “%(name)s” already exists.") % {"name": name}]}
        ) from None
    return baseline


def write_items(baseline, queryset):
    """Write the snapshots of ``queryset``'s CIs as the baseline's items; their
    number."""
    count = 0
    for chunk in _batched(snapshots(queryset), CHUNK):
        _insert_items(
            [
                {
                    "baseline_id": baseline.pk,
                    "ci_id": snap.ci_id,
                    "name": snap.name,
                    "ci_type": snap.ci_type,
                    "data": snap.data,
                    "relations": snap.relations,
                }
                for snap in chunk
            ]
        )
        count += len(chunk)
    return count


ITEM_COLUMNS = ("baseline_id", "ci_id", "name", "ci_type", "data", "relations")


def _insert_items(rows):
    """Insert baseline items a slice at a time (core.rows: one statement a slice)."""
    for start in range(0, len(rows), INSERT_SLICE):
        insert_rows(BaselineItem, rows[start : start + INSERT_SLICE])


# --- what a user sees ------------------------------------------------------------------
class Viewer:
    """What of a baseline one member of staff may see."""

    def __init__(self, user):
        self.user = user
        scope = scope_for(user)
        self.everything = scope is not None and scope.all_customers
        if not self.everything:
            self.ci_ids = frozenset(
                restrict(ConfigurationItem.objects.all(), user).values_list("pk", flat=True)
            )
            self.customer_names = frozenset(
                restrict(Customer.objects.all(), user).values_list("name", flat=True)
            )

    def items(self, baseline):
        """The baseline's items this user may see (a queryset)."""
        qs = BaselineItem.objects.filter(baseline=baseline)
        if self.everything:
            return qs
        return qs.filter(
            ci_id__in=restrict(ConfigurationItem.objects.all(), self.user).values("pk")
        )

    def cis(self):
        return restrict(ConfigurationItem.objects.all(), self.user)

    def view(self, snap):
        """The snapshot without the customers and related CIs the user may not see."""
        if self.everything:
            return snap
        data = dict(snap.data)
        if "customers" in data:
            data["customers"] = [c for c in data["customers"] if c in self.customer_names]
            if not data["customers"]:
                del data["customers"]
        location = data.get("location")
        if location and location[0] not in self.ci_ids:
            del data["location"]
        relations = [r for r in snap.relations if r[2] in self.ci_ids]
        return Snapshot(snap.ci_id, snap.name, snap.ci_type, data, relations)


# --- showing and comparing -------------------------------------------------------------
def reverse_names():
    return dict(RelationshipType.objects.values_list("name", "reverse_name"))


def show_value(name, value):
    """A stored value as a person reads it."""
    if value in (None, "", []):
        return ""
    if name == "status":
        try:
            return str(CIStatus(value).label)
        except ValueError:
            return str(value)
    if name == "criticality":
        try:
            return str(Criticality(int(value)).label)
        except (ValueError, TypeError):
            return str(value)
    if name == "location":
        return str(value[1]) if isinstance(value, list) and len(value) == 2 else str(value)
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value)


def show_relation(relation, reverse):
    type_name, direction, _other_id, other_name = relation
    if direction == OUT:
        return f"{type_name} {other_name}"
    return f"{reverse.get(type_name) or '← ' + type_name} {other_name}"


def fields_of(snap):
    """[(what, value)] for one snapshot, as shown on a page or in an export."""
    rows = [(_("Type"), snap.ci_type)]
    for name in FIELD_NAMES:
        value = show_value(name, snap.data.get(name))
        if value:
            rows.append((field_label(name), value))
    for label, value in sorted((snap.data.get("attributes") or {}).items()):
        rows.append((label, show_value(None, value)))
    return rows


def changes_between(old, new, reverse):
    """[(what, before, after)] field by field; attributes named by their label,
    relationships added or removed."""
    out = []
    if old.name != new.name:
        out.append((_("Name"), old.name, new.name))
    if old.ci_type != new.ci_type:
        out.append((_("Type"), old.ci_type, new.ci_type))
    for name in FIELD_NAMES:
        before, after = old.data.get(name), new.data.get(name)
        if before != after:
            out.append((field_label(name), show_value(name, before), show_value(name, after)))
    old_attrs = old.data.get("attributes") or {}
    new_attrs = new.data.get("attributes") or {}
    for label in sorted(set(old_attrs) | set(new_attrs)):
        before, after = old_attrs.get(label), new_attrs.get(label)
        if before != after:
            out.append((label, show_value(None, before), show_value(None, after)))
    before = {_relation_key(r): r for r in old.relations}
    after = {_relation_key(r): r for r in new.relations}
    for key in sorted(before.keys() - after.keys()):
        out.append((_("Relationship removed"), show_relation(before[key], reverse), ""))
    for key in sorted(after.keys() - before.keys()):
        out.append((_("Relationship added"), "", show_relation(after[key], reverse)))
    return out


def merge(old_stream, new_stream, reverse):
    """The differences between two snapshot streams ordered by CI id."""
    old = next(old_stream, None)
    new = next(new_stream, None)
    while old is not None or new is not None:
        if new is None or (old is not None and old.ci_id < new.ci_id):
            yield Difference(REMOVED, old.ci_id, old.name, old.ci_type, [])
            old = next(old_stream, None)
        elif old is None or new.ci_id < old.ci_id:
            yield Difference(ADDED, new.ci_id, new.name, new.ci_type, [])
            new = next(new_stream, None)
        else:
            changes = changes_between(old, new, reverse)
            yield Difference(CHANGED if changes else "", new.ci_id, new.name, new.ci_type, changes)
            old = next(old_stream, None)
            new = next(new_stream, None)


@dataclass
class Comparison:
    """What a comparison found: the differences (all of them as a stream, or the
    first ones for a page) and how many of each kind."""

    baseline: Baseline
    other: Baseline | None  # None: today
    note: str  # a problem with the selection, if any
    stream: object  # a function returning the iterator of differences

    def differences(self):
        """Every difference (unchanged CIs left out)."""
        return (d for d in self.stream() if d.kind)

    def summary(self, limit=500, kind=None):
        """(counts by kind with "unchanged", the first ``limit`` differences of
        ``kind`` (every kind if None), whether more were left out)."""
        counts = {ADDED: 0, REMOVED: 0, CHANGED: 0, "unchanged": 0}
        shown = []
        more = False
        for d in self.stream():
            if not d.kind:
                counts["unchanged"] += 1
                continue
            counts[d.kind] += 1
            if kind is None or d.kind == kind:
                if len(shown) < limit:
                    shown.append(d)
                else:
                    more = True
        return counts, shown, more

    def rows(self):
        """CSV rows: one per changed field, one per added or removed CI."""
        for d in self.differences():
            if d.changes:
                for what, before, after in d.changes:
                    yield [str(d.kind_label), d.ci_id, d.name, d.ci_type, what, before, after]
            else:
                yield [str(d.kind_label), d.ci_id, d.name, d.ci_type, "", "", ""]


CSV_HEADER = (
    gettext_lazy("Difference"),
    gettext_lazy("CI id"),
    gettext_lazy("Name"),
    gettext_lazy("Type"),
    gettext_lazy("What"),
    gettext_lazy("Before"),
    gettext_lazy("After"),
)


def compare(user, baseline, other=None):
    """Compare ``baseline`` with ``other`` (a later or earlier baseline) or, when
    None, with the CIs as they are today: the items ``baseline`` holds that still
    exist and every CI its selection names today, within what ``user`` may see."""
    viewer = Viewer(user)
    note = ""
    if other is None:
        selection, note = stored_selection(baseline)
        condition = Q(pk__in=BaselineItem.objects.filter(baseline=baseline).values("ci_id"))
        if selection is not None:
            condition |= Q(pk__in=selection.values("pk"))
        today = viewer.cis().filter(condition)

    def stream():
        reverse = reverse_names()
        old = (viewer.view(s) for s in stored_snapshots(viewer.items(baseline)))
        if other is None:
            new = (viewer.view(s) for s in snapshots(today))
        else:
            new = (viewer.view(s) for s in stored_snapshots(viewer.items(other)))
        return merge(old, new, reverse)

    return Comparison(baseline=baseline, other=other, note=note, stream=stream)
