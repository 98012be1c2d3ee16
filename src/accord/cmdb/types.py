"""Administrators' changes to CI types and their attribute definitions, made so that
the CIs already recorded stay valid.

``save_type`` creates or edits a type with all its definitions at once: a change of
kind, choices or referenced type, or a definition made required, is refused while
CIs of the type hold values the new definition would refuse; removing a definition
that CIs hold values for needs the administrator's say-so, and the values then go
through ``actions.save_ci`` so each CI's history records it. Values that the new
definition stores differently (text "8" become the number 8, a renamed key) are
rewritten the same way. Errors are a ValidationError whose keys are the type's
fields or ``definitions-<row>-<field>`` (the row as the page numbers it, from 0),
each message naming the row; nothing is saved then.
"""

from dataclasses import dataclass, field

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from accord.core import history
from accord.core.policy import can, scope_for
from accord.core.records import StaleRecordError

from . import actions
from .choices import AttributeKind
from .models import AllowedPair, AttributeDefinition, CIType, ConfigurationItem

PREFIX = "definitions"
NAMED = 3  # CIs named in a refusal; the count says how many in all
CHUNK = 500


@dataclass
class Row:
    """One attribute definition as the administrator gave it."""

    index: int
    id: int | None
    key: str
    label: str
    kind: str
    required: bool = False
    choices: list = field(default_factory=list)
    reference_type: CIType | None = None
    order: int | None = None
    delete: bool = False
    remove_values: bool = False

    @classmethod
    def of(cls, index, data):
        return cls(
            index=data.get("row", index),
            id=data.get("id") or None,
            key=(data.get("key") or "").strip(),
            label=(data.get("label") or "").strip(),
            kind=data.get("kind") or "",
            required=bool(data.get("required")),
            choices=list(data.get("choices") or []),
            reference_type=data.get("reference_type"),
            order=data.get("order"),
            delete=bool(data.get("delete") or data.get("DELETE")),
            remove_values=bool(data.get("remove_values")),
        )

    def name(self, old=None):
        """How messages name the row: its number and its label (or key)."""
        label = self.label or self.key or (old.label if old else "")
        if label:
            return _("Row %(n)s (%(label)s)") % {"n": self.index + 1, "label": label}
        return _("Row %(n)s") % {"n": self.index + 1}

    def error_key(self, name):
        return f"{PREFIX}-{self.index}-{name}"


def _check_allowed(user, action):
    scope = scope_for(user)
    if scope is None or scope.read_only or not can(user, action, CIType):
        raise PermissionDenied


def _names(names, count):
    shown = ", ".join(names[:NAMED])
    if count > NAMED:
        return _("%(names)s and %(more)s more") % {"names": shown, "more": count - NAMED}
    return shown


def _summary(d):
    """A definition in a few words, for the type's history."""
    parts = [d.label, str(dict(AttributeKind.choices).get(d.kind, d.kind))]
    parts.append(_("position %(n)s") % {"n": d.order})
    if d.required:
        parts.append(str(_("required")))
    if d.kind == AttributeKind.CHOICE:
        parts.append(" / ".join(d.choices))
    if d.kind == AttributeKind.REFERENCE and d.reference_type_id:
        parts.append(str(d.reference_type))
    return " · ".join(parts)


def usage(ci_type):
    """{attribute key: number of CIs of the type holding a value for it}."""
    from django.db.models import Count, Q

    keys = [d.key for d in ci_type.attribute_definitions.all()]
    if not keys or ci_type.pk is None:
        return {}
    counts = ConfigurationItem.objects.filter(ci_type=ci_type).aggregate(
        **{f"k{i}": Count("pk", filter=Q(attributes__has_key=k)) for i, k in enumerate(keys)}
    )
    return {k: counts[f"k{i}"] for i, k in enumerate(keys)}


def save_type(user, ci_type, data, definitions, *, expected_version=None):
    """Create ``ci_type`` (unsaved) or change it: ``data`` holds key, name,
    description and is_location; ``definitions`` one mapping per row on the page (id
    for an existing definition, key, label, kind, required, choices as a list,
    reference_type, order, delete, remove_values; ``row`` its place on the page).
    Returns the saved type; ValidationError naming the field or row otherwise."""
    creating = ci_type._state.adding
    _check_allowed(user, "add" if creating else "change")
    rows = [Row.of(i, d) for i, d in enumerate(definitions)]
    existing = {} if creating else {d.pk: d for d in ci_type.attribute_definitions.all()}
    errors = {}

    def add(key, message):
        errors.setdefault(key, []).append(message)

    old_key = None if creating else ci_type.loaded_value("key")
    for name in ("key", "name", "description", "is_location"):
        if name in data:
            setattr(ci_type, name, data[name])
    if not creating and ci_type.key != old_key:
        count = ci_type.items.count()
        if count:
            add(
                "key",
                ngettext(
                    "The key cannot change: %(n)s CI of this type exists.",
                    "The key cannot change: %(n)s CIs of this type exist.",
                    count,
                )
                % {"n": count},
            )
    try:
        ci_type.full_clean(exclude=["version"])
    except ValidationError as exc:
        for name, messages in exc.message_dict.items():
            for message in messages:
                add(name if name in data else "__all__", message)

    planned = _check_rows(ci_type, rows, existing, add)
    if errors:
        raise ValidationError(errors)
    removed = [r for r in rows if r.delete and r.id in existing]
    kept = [(r, d) for r, d in planned if not r.delete]
    rewrites = {} if creating else _plan_values(ci_type, existing, kept, removed, add)
    if errors:
        raise ValidationError(errors)

    with transaction.atomic():
        ci_type.save(expected_version=None if creating else expected_version)
        changes = _write_definitions(ci_type, existing, kept, removed)
        if changes:
            _bump(ci_type, changes)
        if rewrites:
            _rewrite(ci_type, rewrites)
    return ci_type


def _check_rows(ci_type, rows, existing, add):
    """The rows as definitions (existing ones changed in place, unsaved), with the
    model's own checks and unique keys; errors go to ``add``."""
    planned, seen = [], {}
    # Attributes the rows leave out stay as they are: their keys are taken.
    named = {row.id for row in rows if row.id}
    kept_keys = {d.key: d for pk, d in existing.items() if pk not in named}
    for row in rows:
        old = existing.get(row.id) if row.id else None
        if row.id and old is None:
            add(
                row.error_key("key"),
                _("%(row)s: this attribute is no longer part of the type; reload the page.")
                % {"row": row.name()},
            )
            continue
        if row.delete:
            if old is not None:
                planned.append((row, old))
            continue
        if row.key in kept_keys:
            add(
                row.error_key("key"),
                _("%(row)s, key: “%(key)s” is the key of the attribute %(label)s.")
                % {"row": row.name(), "key": row.key, "label": kept_keys[row.key].label},
            )
        elif row.key in seen:
            add(
                row.error_key("key"),
                _("%(row)s, key: “%(key)s” is also the key of row %(other)s.")
                % {"row": row.name(), "key": row.key, "other": seen[row.key] + 1},
            )
        else:
            seen[row.key] = row.index
        definition = AttributeDefinition(pk=old.pk) if old else AttributeDefinition()
        definition.ci_type = ci_type
        definition.key, definition.label, definition.kind = row.key, row.label, row.kind
        definition.required = row.required
        definition.choices = row.choices if row.kind == AttributeKind.CHOICE else []
        definition.reference_type = row.reference_type
        definition.order = row.order if row.order is not None else _next_order(rows, row)
        try:
            definition.full_clean(exclude=["ci_type"], validate_unique=False)
        except ValidationError as exc:
            for name, messages in exc.message_dict.items():
                target = name if name != "__all__" else "key"
                for message in messages:
                    add(
                        row.error_key(target),
                        _("%(row)s, %(field)s: %(message)s")
                        % {"row": row.name(), "field": _field_label(name), "message": message},
                    )
        planned.append((row, definition))
    return planned


def _next_order(rows, row):
    """A row without an order goes after those with one, in its place on the page."""
    given = [r.order for r in rows if r.order is not None]
    return min(32767, (max(given) if given else 0) + 1 + row.index)


def _field_label(name):
    if name == "__all__":
        return _("key")
    return str(AttributeDefinition._meta.get_field(name).verbose_name)


def _changed_field(old, new):
    """The field a refusal names: what changed in a way that can refuse values."""
    if old is None:
        return "required" if new.required else "key"
    if old.kind != new.kind:
        return "kind"
    if old.kind == AttributeKind.CHOICE and set(old.choices) - set(new.choices):
        return "choices"
    if old.reference_type_id != new.reference_type_id:
        return "reference_type"
    if new.required and not old.required:
        return "required"
    return None


def _plan_values(ci_type, existing, kept, removed, add):
    """{CI id: its new attributes} for the CIs whose stored values change; refusals
    (values the new definitions refuse, values of removed attributes not confirmed)
    go to ``add``."""
    checks = []  # (row, old key or None, new definition, field to name)
    for row, new in kept:
        old = existing.get(row.id)
        field_name = _changed_field(old, new)
        renamed = old is not None and old.key != new.key
        if field_name or renamed:
            checks.append((row, old.key if old else None, new, field_name or "key"))
    if not checks and not removed:
        return {}
    failures = {row.index: [] for row, *_rest in checks}
    first_error = {}
    holders = {row.index: [] for row in removed}
    rewrites = {}
    gone = {existing[r.id].key for r in removed} | {old for _r, old, _n, _f in checks if old}
    cis = (
        ConfigurationItem.objects.filter(ci_type=ci_type)
        .order_by("name", "pk")
        .values_list("pk", "name", "attributes")
    )
    for pk, name, stored in cis.iterator(chunk_size=2000):
        stored = stored if isinstance(stored, dict) else {}
        after = {k: v for k, v in stored.items() if k not in gone}
        for row in removed:
            if stored.get(existing[row.id].key) is not None:
                holders[row.index].append(name)
        for row, old_key, new, _field in checks:
            value = stored.get(old_key if old_key else new.key)
            try:
                converted = new.convert(value)
            except ValidationError as exc:
                failures[row.index].append(name)
                first_error.setdefault(row.index, " ".join(exc.messages))
                continue
            if converted is not None:
                after[new.key] = converted
        if after != stored:
            rewrites[pk] = after
    for row, _old, _new, field_name in checks:
        names = failures[row.index]
        if names:
            add(
                row.error_key(field_name),
                ngettext(
                    "%(row)s, %(field)s: %(n)s CI holds a value the new definition refuses "
                    "(%(names)s): %(error)s",
                    "%(row)s, %(field)s: %(n)s CIs hold values the new definition refuses "
                    "(%(names)s). For example: %(error)s",
                    len(names),
                )
                % {
                    "row": row.name(),
                    "field": _field_label(field_name),
                    "n": len(names),
                    "names": _names(names, len(names)),
                    "error": first_error[row.index],
                },
            )
    for row in removed:
        names = holders[row.index]
        if names and not row.remove_values:
            add(
                row.error_key("remove_values"),
                ngettext(
                    "%(row)s: %(n)s CI holds a value for this attribute (%(names)s). Tick "
                    "“also remove the values” to remove the value with the attribute.",
                    "%(row)s: %(n)s CIs hold values for this attribute (%(names)s). Tick "
                    "“also remove the values” to remove the values with the attribute.",
                    len(names),
                )
                % {
                    "row": row.name(existing[row.id]),
                    "n": len(names),
                    "names": _names(names, len(names)),
                },
            )
    return rewrites


def _write_definitions(ci_type, existing, kept, removed):
    """Save the definitions; returns the type's history entry for them."""
    changes = {}
    for row in removed:
        old = existing[row.id]
        changes[_history_key(old.key)] = [_summary(old), None]
        old.delete()
    renamed = [new for row, new in kept if row.id and existing[row.id].key != new.key]
    for new in renamed:
        # Two rows may swap keys: step aside first so the unique key holds throughout.
        AttributeDefinition.objects.filter(pk=new.pk).update(key=f"~{new.pk}")
    for row, new in kept:
        old = existing.get(row.id)
        new.ci_type = ci_type
        before = _summary(old) if old else None
        new.save()
        after = _summary(new)
        if old is not None and old.key != new.key:
            changes[_history_key(old.key)] = [before, None]
            changes[_history_key(new.key)] = [None, after]
        elif before != after:
            changes[_history_key(new.key)] = [before, after]
    ci_type.__dict__.pop("_definitions", None)
    return changes


def _history_key(key):
    return _("attribute %(key)s") % {"key": key}


def _bump(ci_type, changes):
    """The definitions are part of the type: a change to them is a new version of it,
    guarded like any other write, with its own history row."""
    bumped = CIType._base_manager.filter(pk=ci_type.pk, version=ci_type.version).update(
        version=F("version") + 1, updated=timezone.now()
    )
    if not bumped:
        raise StaleRecordError(ci_type, ci_type.version)
    ci_type.version += 1
    ci_type._remember()
    history.record(ci_type, "update", changes)


def _rewrite(ci_type, rewrites):
    """Each CI's new attributes through the CMDB's own write (history, live changes,
    the graph); a CI that cannot be saved refuses the whole change, by name."""
    ids = list(rewrites)
    for start in range(0, len(ids), CHUNK):
        for ci in ConfigurationItem.objects.filter(pk__in=ids[start : start + CHUNK]):
            ci.ci_type = ci_type
            ci.attributes = rewrites[ci.pk]
            try:
                actions.save_ci(ci)
            except ValidationError as exc:
                raise ValidationError(
                    _("%(ci)s could not be updated to the new definitions: %(error)s")
                    % {"ci": ci.name, "error": " ".join(exc.messages)}
                ) from None


def delete_type(user, ci_type):
    """Delete a type no CI has and nothing else names; ValidationError otherwise."""
    _check_allowed(user, "delete")
    problems = []
    count = ci_type.items.count()
    if count:
        problems.append(
            ngettext(
                "%(n)s CI of this type exists; a type with CIs cannot be deleted.",
                "%(n)s CIs of this type exist; a type with CIs cannot be deleted.",
                count,
            )
            % {"n": count}
        )
    referring = (
        AttributeDefinition.objects.filter(reference_type=ci_type)
        .exclude(ci_type=ci_type)
        .select_related("ci_type")
    )
    for d in referring:
        problems.append(
            _("The attribute %(label)s of %(type)s refers to CIs of this type.")
            % {"label": d.label, "type": d.ci_type}
        )
    pairs = (
        AllowedPair.objects.filter(source_type=ci_type)
        | AllowedPair.objects.filter(target_type=ci_type)
    ).select_related("rel_type")
    for rel_name in sorted({str(p.rel_type) for p in pairs}):
        problems.append(
            _("The relationship type “%(rel)s” names this type among the pairs it joins.")
            % {"rel": rel_name}
        )
    if problems:
        raise ValidationError(problems)
    with transaction.atomic():
        # Its own definitions may refer to it (a part of a part): they go first.
        ci_type.attribute_definitions.all().delete()
        ci_type.delete()
