"""Relationships from CSV: source —type→ target per row, each end named by the
import's key (external key, serial number, or name, with ``source_type`` and
``target_type`` columns when a name alone is ambiguous). A relationship already
recorded is unchanged (or gets the row's note); a new one is checked against its
type's rules: the pairs of CI types it may join and, for a type that forbids
cycles, no loop, counting the file's own earlier rows.
"""

from django.utils import timezone
from django.utils.translation import gettext as _

from accord.core import history
from accord.core.policy import restrict
from accord.core.rows import insert_many, update_rows

from .choices import CIStatus
from .imports import IdAllocator, Importer, cell_text, formula_message
from .imports_write import note_live_changes
from .models import (
    AllowedPair,
    CIType,
    ConfigurationItem,
    Relationship,
    RelationshipType,
)

REL_COLUMNS = ("source", "source_type", "type", "target", "target_type", "note")
REQUIRED = ("source", "type", "target")
NOTE_LIMIT = 300
KEY_WORDS = {
    "external_key": "external key",
    "serial": "serial number",
    "name": "name",
}


class Link:
    """One CSV row on its way in."""

    __slots__ = ("line", "rel_type", "ends", "end_types", "note", "source", "target", "ok")

    def __init__(self, line):
        self.line = line
        self.rel_type = None
        self.ends = {}
        self.end_types = {}
        self.note = None
        self.source = self.target = None
        self.ok = True


class RelationshipImporter(Importer):
    """Adds relationships from the rows of a CSV file (none are removed)."""

    def __init__(self, run, user, problems):
        super().__init__(run, user, problems)
        types = list(RelationshipType.objects.all())
        self.rel_types = {t.pk: t for t in types}
        self.rel_by_key = {t.key.lower(): t for t in types}
        self.rel_by_name = {t.name.lower(): t for t in types}
        ci_types = list(CIType.objects.all())
        self.ci_types = {t.pk: t for t in ci_types}
        self.ci_type_by_text = {t.key.lower(): t for t in ci_types}
        self.ci_type_by_text.update({t.name.lower(): t for t in ci_types})
        self.pairs = {}
        for rel, source, target in AllowedPair.objects.values_list(
            "rel_type_id", "source_type_id", "target_type_id"
        ):
            self.pairs.setdefault(rel, set()).add((source, target))
        self.seen = {}  # (source, target, type) -> line
        self.graphs = {}  # acyclic type id -> {source: {targets}}
        self.ids = IdAllocator(Relationship)
        self.live_noted = set()

    def check_header(self, header):
        self.check_columns(header, lambda name: name in REL_COLUMNS, REQUIRED)
        if not self.problems:
            self.index = {name: i for i, name in enumerate(header)}

    # --- one row ------------------------------------------------------------------
    def parse(self, line, cells):
        link = Link(line)
        for column, i in self.index.items():
            text, formula = cell_text(cells[i])
            if formula:
                self._refuse(link, column, formula_message())
                continue
            if column == "type":
                rel = self.rel_by_key.get(text.lower()) or self.rel_by_name.get(text.lower())
                if rel is None:
                    self._refuse(
                        link,
                        column,
                        _("“%(value)s” is not a relationship type (give its key or name).")
                        % {"value": text[:100]}
                        if text
                        else _("The relationship type is missing."),
                    )
                link.rel_type = rel
            elif column in ("source", "target"):
                if not text:
                    self._refuse(
                        link, column, _("The %(end)s is missing.") % {"end": _end_word(column)}
                    )
                link.ends[column] = text
            elif column in ("source_type", "target_type"):
                if text:
                    ci_type = self.ci_type_by_text.get(text.lower())
                    if ci_type is None:
                        self._refuse(
                            link,
                            column,
                            _("“%(value)s” is not a CI type.") % {"value": text[:100]},
                        )
                    link.end_types[column[: -len("_type")]] = ci_type
            elif column == "note":
                if len(text) > NOTE_LIMIT:
                    self._refuse(
                        link,
                        column,
                        _("This value is longer than %(n)s characters.") % {"n": NOTE_LIMIT},
                    )
                link.note = text
        return link

    def _refuse(self, link, column, message):
        link.ok = False
        self.error(link.line, column, message)

    # --- one chunk ----------------------------------------------------------------
    def handle_chunk(self, chunk):
        links = [link for link in (self.parse(line, cells) for line, cells in chunk) if link.ok]
        if not links:
            return
        found = self._find_cis(links)
        for link in links:
            for end in ("source", "target"):
                self._resolve_end(link, end, found)
        links = [link for link in links if link.ok]
        existing = self._existing(links)
        creates, updates = [], []
        for link in links:
            self._check(link, existing, creates, updates)
        if self.writing:
            self._write(creates, updates)

    def _find_cis(self, links):
        """key value -> [(pk, type id, name, status)] of the visible CIs so named."""
        values = sorted({link.ends[end] for link in links for end in ("source", "target")})
        field = {"external_key": "external_key", "serial": "serial"}.get(self.key, "name")
        qs = ConfigurationItem.objects.filter(**{f"{field}__any": values})
        if field != "name":
            qs = qs.exclude(**{field: ""})
        found = {}
        for pk, value, type_id, name, status in restrict(qs, self.user).values_list(
            "pk", field, "ci_type_id", "name", "status"
        ):
            found.setdefault(value, []).append((pk, type_id, name, status))
        return found

    def _resolve_end(self, link, end, found):
        value = link.ends[end]
        candidates = found.get(value, [])
        ci_type = link.end_types.get(end)
        if ci_type is not None:
            candidates = [c for c in candidates if c[1] == ci_type.pk]
        words = {"end": _end_word(end), "key": KEY_WORDS[self.key], "value": value[:200]}
        if not candidates:
            self._refuse(
                link,
                end,
                _("The %(end)s names no configuration item with the %(key)s “%(value)s”.") % words,
            )
        elif len(candidates) > 1:
            hint = (
                _("add a %(column)s column.") % {"column": f"{end}_type"}
                if self.key == "name" and ci_type is None
                else _("name it by another key.")
            )
            self._refuse(
                link,
                end,
                _("More than one configuration item has the %(key)s “%(value)s”: ") % words + hint,
            )
        else:
            setattr(link, end, candidates[0])

    def _existing(self, links):
        sources = sorted({link.source[0] for link in links})
        wanted = {(link.source[0], link.target[0], link.rel_type.pk) for link in links}
        out = {}
        rows = Relationship.objects.filter(source_id__any=sources).values_list(
            "pk", "source_id", "target_id", "rel_type_id", "note", "version"
        )
        for pk, source, target, rel, note, version in rows:
            if (source, target, rel) in wanted:
                out[(source, target, rel)] = (pk, note, version)
        return out

    def _check(self, link, existing, creates, updates):
        source, target, rel = link.source, link.target, link.rel_type
        triple = (source[0], target[0], rel.pk)
        earlier = self.seen.get(triple)
        if earlier is not None:
            self._refuse(
                link,
                "target",
                _("This relationship is already on line %(line)s of the file.") % {"line": earlier},
            )
            return
        self.seen[triple] = link.line
        if source[0] == target[0]:
            self._refuse(link, "target", _("A CI cannot be related to itself."))
            return
        found = existing.get(triple)
        if found is not None:
            pk, note, version = found
            if link.note is not None and link.note != note:
                updates.append((link, pk, note, version))
            else:
                self.unchanged += 1
            return
        pairs = self.pairs.get(rel.pk)
        if pairs and (source[1], target[1]) not in pairs:
            self._refuse(
                link,
                "type",
                _("A %(source_type)s cannot %(type)s a %(target_type)s.")
                % {
                    "source_type": self.ci_types[source[1]].name,
                    "type": rel.name,
                    "target_type": self.ci_types[target[1]].name,
                },
            )
            return
        if rel.acyclic:
            graph = self._graph(rel.pk)
            if _reaches(graph, target[0], source[0]):
                self._refuse(
                    link,
                    "target",
                    _(
                        "%(target)s already %(type)s %(source)s (through other CIs or "
                        "earlier lines): this relationship would close a loop."
                    )
                    % {"target": target[2], "type": rel.name, "source": source[2]},
                )
                return
            graph.setdefault(source[0], set()).add(target[0])
        creates.append(link)

    def _graph(self, rel_type_id):
        """The links of one acyclic type, loaded once, with the file's new ones added
        as they are accepted."""
        graph = self.graphs.get(rel_type_id)
        if graph is None:
            graph = {}
            rows = Relationship.objects.filter(rel_type_id=rel_type_id).values_list(
                "source_id", "target_id"
            )
            for source, target in rows.iterator(chunk_size=20000):
                graph.setdefault(source, set()).add(target)
            self.graphs[rel_type_id] = graph
        return graph

    # --- writing ------------------------------------------------------------------
    def _write(self, creates, updates):
        now = timezone.now()
        entries, events, live = [], [], []
        if creates:
            rows = []
            for link, pk in zip(creates, self.ids.take(len(creates)), strict=True):
                source, target, rel = link.source, link.target, link.rel_type
                note = link.note or ""
                rows.append(
                    {
                        "id": pk,
                        "created": now,
                        "updated": now,
                        "version": 1,
                        "source_id": source[0],
                        "target_id": target[0],
                        "rel_type_id": rel.pk,
                        "note": note,
                    }
                )
                values = {"source": source[0], "target": target[0], "rel_type": rel.pk}
                if note:
                    values["note"] = note
                entries.append((pk, f"{source[2]} {rel.name} {target[2]}", "create", values))
                events.append(
                    (
                        source[0],
                        _("Now %(type)s %(target)s.") % {"type": rel.name, "target": target[2]},
                    )
                )
                events.append(
                    (
                        target[0],
                        _("Now %(type)s %(source)s.")
                        % {"type": rel.reverse_name, "source": source[2]},
                    )
                )
                live += [end[0] for end in (source, target) if end[3] == CIStatus.LIVE]
            insert_many(Relationship, rows)
        if updates:
            changed = []
            for link, pk, before, version in updates:
                changed.append((pk, {"note": link.note, "version": version + 1, "updated": now}))
                name = f"{link.source[2]} {link.rel_type.name} {link.target[2]}"
                entries.append((pk, name, "update", {"note": [before, link.note]}))
                live += [end[0] for end in (link.source, link.target) if end[3] == CIStatus.LIVE]
            update_rows(Relationship, ["note", "version", "updated"], changed)
        history.record_many(Relationship, entries)
        history.events_many(ConfigurationItem, events)
        self._live_changes(live, now)
        self.created += len(creates)
        self.updated += len(updates)

    def _live_changes(self, ids, now):
        fresh = [pk for pk in dict.fromkeys(ids) if pk not in self.live_noted]
        self.live_noted.update(fresh)
        note_live_changes(fresh, self.run.filename, now)


def _end_word(end):
    return _("source") if end == "source" else _("target")


def _reaches(graph, start, goal):
    """Does ``start`` lead to ``goal`` along the graph's links?"""
    if start == goal:
        return True
    seen, stack = {start}, [start]
    while stack:
        for nxt in graph.get(stack.pop(), ()):
            if nxt == goal:
                return True
            if nxt not in seen:
                seen.add(nxt)
                stack.append(nxt)
    return False
