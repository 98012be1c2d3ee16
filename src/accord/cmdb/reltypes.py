"""Administrators' changes to relationship types and the pairs of CI types they may
join, made so that the relationships already recorded stay valid.

``save_reltype`` creates or edits a type with its allowed pairs at once. It refuses,
with nothing saved: allowed pairs that would no longer allow existing relationships of
the type (naming a few of them and the count), turning on "may not close a loop" while
the type's relationships already form one (naming CIs on it), the same pair twice, a
key or name another type has, and a new key once relationships of the type exist.
Errors are a ValidationError whose keys are the type's fields, ``pairs`` for the pairs
as a whole, or ``pairs-<row>-<field>`` (the row as the page numbers it, from 0), each
message naming the row; the rules themselves are those of
``actions.check_relationship``.
"""

from dataclasses import dataclass

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Count, F
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from accord.core import history
from accord.core.policy import can, scope_for
from accord.core.records import StaleRecordError

from .models import AllowedPair, CIType, ConfigurationItem, Relationship, RelationshipType

PREFIX = "pairs"
NAMED = 3  # relationships or CIs named in a refusal; the count says how many in all
LOOP_NAMED = 6  # CIs of a loop named in a refusal


@dataclass
class Row:
    """One allowed pair as the administrator gave it."""

    index: int
    id: int | None
    source_type: CIType | None
    target_type: CIType | None
    delete: bool = False

    @classmethod
    def of(cls, index, data, ci_types):
        def ci_type(value):
            # A CI type or its id (an unknown id is no type: the row names it missing).
            return value if isinstance(value, CIType) or value is None else ci_types.get(value)

        return cls(
            index=data.get("row", index),
            id=data.get("id") or None,
            source_type=ci_type(data.get("source_type")),
            target_type=ci_type(data.get("target_type")),
            delete=bool(data.get("delete") or data.get("DELETE")),
        )

    @property
    def pair(self):
        return (self.source_type.pk, self.target_type.pk)

    def name(self, old=None):
        """How messages name the row: its number and its pair."""
        source = self.source_type or (old.source_type if old else None)
        target = self.target_type or (old.target_type if old else None)
        if source and target:
            return _("Row %(n)s (%(source)s → %(target)s)") % {
                "n": self.index + 1,
                "source": source,
                "target": target,
            }
        return _("Row %(n)s") % {"n": self.index + 1}

    def error_key(self, name):
        return f"{PREFIX}-{self.index}-{name}"


def _check_allowed(user, action):
    scope = scope_for(user)
    if scope is None or scope.read_only or not can(user, action, RelationshipType):
        raise PermissionDenied


def _names(names, count):
    shown = ", ".join(names[:NAMED])
    if count > NAMED:
        return _("%(names)s and %(more)s more") % {"names": shown, "more": count - NAMED}
    return shown


def usage(rel_type):
    """{(source type id, target type id): number of relationships of the type joining
    CIs of those types}."""
    if rel_type is None or rel_type.pk is None:
        return {}
    rows = (
        Relationship.objects.filter(rel_type=rel_type)
        .values_list("source__ci_type_id", "target__ci_type_id")
        .annotate(n=Count("pk"))
        .order_by()
    )
    return {(s, t): n for s, t, n in rows}


def _pairs_text(pairs):
    """The pairs in a few words, for the type's history."""
    if not pairs:
        return str(_("any types"))
    return "; ".join(sorted(f"{s} → {t}" for s, t in pairs))


def save_reltype(user, rel_type, data, pairs, *, expected_version=None):
    """Create ``rel_type`` (unsaved) or change it: ``data`` holds key, name,
    reverse_name, impact and acyclic; ``pairs`` one mapping per row on the page (id for
    an existing pair, source_type, target_type, delete; ``row`` its place on the page).
    Returns the saved type; ValidationError naming the field or row otherwise."""
    creating = rel_type._state.adding
    _check_allowed(user, "add" if creating else "change")
    ids = {
        d.get(name)
        for d in pairs
        for name in ("source_type", "target_type")
        if isinstance(d.get(name), int)
    }
    ci_types = CIType.objects.in_bulk(ids) if ids else {}
    rows = [Row.of(i, d, ci_types) for i, d in enumerate(pairs)]
    existing = {} if creating else {p.pk: p for p in rel_type.allowed_pairs.all()}
    errors = {}

    def add(key, message):
        errors.setdefault(key, []).append(message)

    old_key = None if creating else rel_type.loaded_value("key")
    was_acyclic = False if creating else rel_type.loaded_value("acyclic")
    for name in ("key", "name", "reverse_name", "impact", "acyclic"):
        if name in data:
            setattr(rel_type, name, data[name])
    link_count = 0 if creating else rel_type.links.count()
    if not creating and rel_type.key != old_key and link_count:
        add(
            "key",
            ngettext(
                "The key cannot change: %(n)s relationship of this type exists.",
                "The key cannot change: %(n)s relationships of this type exist.",
                link_count,
            )
            % {"n": link_count},
        )
    try:
        rel_type.full_clean(exclude=["version"])
    except ValidationError as exc:
        for name, messages in exc.message_dict.items():
            for message in messages:
                add(name if name in data else "__all__", message)

    kept = _check_rows(rows, existing, add)
    if errors:
        raise ValidationError(errors)
    if link_count:
        _check_links(rel_type, rows, existing, kept, add)
        if rel_type.acyclic and not was_acyclic:
            _check_loops(rel_type, add)
        if errors:
            raise ValidationError(errors)

    before = {(p.source_type, p.target_type) for p in existing.values()}
    after = {(r.source_type, r.target_type) for r in kept}
    with transaction.atomic():
        rel_type.save(expected_version=None if creating else expected_version)
        if before != after:
            _write_pairs(rel_type, existing, kept)
            _bump(rel_type, {str(_("allowed pairs")): [_pairs_text(before), _pairs_text(after)]})
    return rel_type


def _check_rows(rows, existing, add):
    """The rows the type keeps, each complete and once; errors go to ``add``."""
    kept, seen = [], {}
    for row in rows:
        old = existing.get(row.id) if row.id else None
        if row.id and old is None:
            add(
                row.error_key("source_type"),
                _("%(row)s: this pair is no longer part of the type; reload the page.")
                % {"row": row.name()},
            )
            continue
        if row.delete:
            continue
        missing = [
            (name, label)
            for name, label in (
                ("source_type", _("source type")),
                ("target_type", _("target type")),
            )
            if getattr(row, name) is None
        ]
        for name, label in missing:
            add(
                row.error_key(name),
                _("%(row)s, %(field)s: choose a CI type.") % {"row": row.name(old), "field": label},
            )
        if missing:
            continue
        if row.pair in seen:
            add(
                row.error_key("target_type"),
                _("%(row)s: the same pair as row %(other)s.")
                % {"row": row.name(), "other": seen[row.pair] + 1},
            )
            continue
        seen[row.pair] = row.index
        kept.append(row)
    return kept


def _check_links(rel_type, rows, existing, kept, add):
    """Existing relationships the new pairs would no longer allow are refused: named
    on the row that allowed them (removed or changed), or on the pairs as a whole."""
    allowed = {row.pair for row in kept}
    if not allowed:
        return  # a type without pairs joins any types
    counts = usage(rel_type)
    refused = {pair: n for pair, n in counts.items() if pair not in allowed}
    if not refused:
        return
    # The row on the page that allowed a pair until now, if any.
    was_on_row = {}
    for row in rows:
        old = existing.get(row.id) if row.id else None
        if old is not None:
            was_on_row[(old.source_type_id, old.target_type_id)] = (row, old)
    types = CIType.objects.in_bulk({t for pair in refused for t in pair})
    for pair in sorted(refused, key=lambda p: (str(types[p[0]]), str(types[p[1]]))):
        count = refused[pair]
        names = _link_names(rel_type, pair)
        found = was_on_row.get(pair)
        if found:
            row, old = found
            field = "DELETE" if row.delete else "target_type"
            label = row.name(old) if row.delete else _changed_name(row, old)
            add(
                row.error_key(field),
                ngettext(
                    "%(row)s: %(n)s relationship of this type joins these types and would "
                    "no longer be allowed (%(names)s).",
                    "%(row)s: %(n)s relationships of this type join these types and would "
                    "no longer be allowed (%(names)s).",
                    count,
                )
                % {"row": label, "n": count, "names": _names(names, count)},
            )
        else:
            add(
                PREFIX,
                ngettext(
                    "Allowed pairs: %(n)s relationship of this type joins a %(source)s to a "
                    "%(target)s, which no row allows (%(names)s). Add that pair or remove "
                    "the relationship first.",
                    "Allowed pairs: %(n)s relationships of this type join a %(source)s to a "
                    "%(target)s, which no row allows (%(names)s). Add that pair or remove "
                    "the relationships first.",
                    count,
                )
                % {
                    "n": count,
                    "source": types[pair[0]],
                    "target": types[pair[1]],
                    "names": _names(names, count),
                },
            )


def _changed_name(row, old):
    """A changed row named by the pair it had and the pair it has now."""
    return _("Row %(n)s (%(old)s, now %(new)s)") % {
        "n": row.index + 1,
        "old": f"{old.source_type} → {old.target_type}",
        "new": f"{row.source_type} → {row.target_type}",
    }


def _link_names(rel_type, pair):
    """The first few relationships of the type between CIs of ``pair``, by name."""
    links = (
        Relationship.objects.filter(
            rel_type=rel_type, source__ci_type_id=pair[0], target__ci_type_id=pair[1]
        )
        .order_by("source__name", "target__name", "pk")
        .values_list("source__name", "target__name")[:NAMED]
    )
    return [f"{s} {rel_type.name} {t}" for s, t in links]


def _check_loops(rel_type, add):
    """Refuse "may not close a loop" while the type's relationships form one."""
    edges = {}
    for source, target in Relationship.objects.filter(rel_type=rel_type).values_list(
        "source_id", "target_id"
    ):
        edges.setdefault(source, []).append(target)
    loop = find_loop(edges)
    if not loop:
        return
    names = dict(ConfigurationItem.objects.filter(pk__in=loop).values_list("pk", "name"))
    shown = [names.get(pk, f"#{pk}") for pk in loop[:LOOP_NAMED]]
    path = f" {rel_type.name} ".join([*shown, shown[0]] if len(loop) <= LOOP_NAMED else shown)
    if len(loop) > LOOP_NAMED:
        path += " …"
    add(
        "acyclic",
        _(
            "Relationships of this type already form a loop through %(ci)s (%(path)s). "
            "Remove one of them before turning this on."
        )
        % {"ci": shown[0], "path": path},
    )


def find_loop(edges):
    """One loop in a directed graph {node: [successors]} as its nodes in order, or
    [] when there is none. Iterative, so a long chain does not exhaust the stack."""
    state = {}  # node -> 1 on the current path, 2 done
    for start in sorted(edges):
        if start in state:
            continue
        path, stack = [start], [iter(edges.get(start, ()))]
        state[start] = 1
        while stack:
            nxt = next(stack[-1], None)
            if nxt is None:
                state[path.pop()] = 2
                stack.pop()
            elif state.get(nxt) == 1:
                return path[path.index(nxt) :]
            elif nxt not in state:
                state[nxt] = 1
                path.append(nxt)
                stack.append(iter(edges.get(nxt, ())))
    return []


def _write_pairs(rel_type, existing, kept):
    """The type's pairs become ``kept``: rows that stay keep their pair row."""
    wanted = {row.pair for row in kept}
    for pair in existing.values():
        if (pair.source_type_id, pair.target_type_id) not in wanted:
            pair.delete()
    have = {(p.source_type_id, p.target_type_id) for p in existing.values()}
    AllowedPair.objects.bulk_create(
        [
            AllowedPair(rel_type=rel_type, source_type=row.source_type, target_type=row.target_type)
            for row in kept
            if row.pair not in have
        ]
    )


def _bump(rel_type, changes):
    """The pairs are part of the type: a change to them is a new version of it,
    guarded like any other write, with its own history row."""
    bumped = RelationshipType._base_manager.filter(pk=rel_type.pk, version=rel_type.version).update(
        version=F("version") + 1, updated=timezone.now()
    )
    if not bumped:
        raise StaleRecordError(rel_type, rel_type.version)
    rel_type.version += 1
    rel_type._remember()
    history.record(rel_type, "update", changes)


def delete_reltype(user, rel_type):
    """Delete a type no relationship has; ValidationError otherwise."""
    _check_allowed(user, "delete")
    count = rel_type.links.count()
    if count:
        raise ValidationError(
            ngettext(
                "%(n)s relationship of this type exists; a type in use cannot be deleted.",
                "%(n)s relationships of this type exist; a type in use cannot be deleted.",
                count,
            )
            % {"n": count}
        )
    with transaction.atomic():
        rel_type.allowed_pairs.all().delete()
        rel_type.delete()
