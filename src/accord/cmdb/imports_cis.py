"""Configuration items from CSV: each row creates a CI or updates the one its key
names (the external key, the name and type, or the serial number), field by field
as the row gives them. A column left out of the file leaves that field alone; an
empty cell clears it (status and criticality keep their value). Customers the
importing user does not serve are neither set nor removed.

Rows are checked a chunk at a time: parsed against reference data loaded once, then
matched with the CIs they name (one query per kind of lookup); the chunk's new CIs get
their ids before they are written (``imports_write``), so a row may name a location
created a few rows before.
"""

import datetime
from contextlib import contextmanager
from functools import partial

from django.core.exceptions import ValidationError
from django.db import connection
from django.utils.translation import gettext as _

from accord.catalogue.models import Service
from accord.core.policy import restrict
from accord.core.rows import WriteBehind, matching, run_all
from accord.organizations.models import Customer
from accord.users.models import Team

from .choices import AttributeKind, CIStatus, Criticality
from .imports import IdAllocator, Importer, cell_text, formula_message, parse_date
from .imports_write import CUSTOMERS, FIELD_NAMES, SERVICES, STORED, prepare_cis
from .models import CIType, ConfigurationItem

CI_COLUMNS = (
    "name",
    "type",
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
ATTR_PREFIX = "attr:"
TEXT_LIMITS = {
    "name": 200,
    "serial": 100,
    "asset_tag": 100,
    "external_key": 200,
    "description": 5000,
}
DATE_COLUMNS = ("installed_on", "warranty_end", "retire_by")
# A cell starting so may be a formula, or an exported value behind its escape.
SPECIAL_STARTS = frozenset("=+-@'")
MEMO_LIMIT = 5000
TEXT_LIMIT = 1000  # of a text attribute, as AttributeDefinition.convert checks
# How parse() takes each column in.
TEXT, VALUE, LOCATION, NAMES = "text", "value", "location", "names"
WRITE_DEPTH = 2  # chunks checked and waiting to be written, at most
DEFAULTS = {
    "status": CIStatus.PLANNED.value,
    "criticality": Criticality.MEDIUM.value,
    "owner_id": None,
    "location_id": None,
    "description": "",
    "serial": "",
    "asset_tag": "",
    "external_key": "",
    "installed_on": None,
    "warranty_end": None,
    "retire_by": None,
}


def plain(value):
    """The JSON form of a value in the change history (as Record.save writes it)."""
    if isinstance(value, datetime.date):
        return value.isoformat()
    return value


def required_columns(key):
    needed = ["name", "type"]
    if key in ("external_key", "serial"):
        needed.append(key)
    return needed


class Bad(Exception):
    """One cell refused, with its message."""


class Row:
    """One CSV row on its way in: what it gives, the CI it names, the outcome."""

    __slots__ = (
        "line",
        "ci_type",
        "values",
        "attrs",
        "refs",
        "location",
        "customers",
        "services",
        "key",
        "name_key",
        "state",
        "id",
        "ok",
    )

    def __init__(self, line):
        self.line = line
        self.values = {}
        self.attrs = {}
        self.refs = {}
        self.location = self.customers = self.services = None
        self.state = self.id = None
        self.ok = True


class Reference:
    """What every row is checked against, loaded once per run: types with their
    attributes, teams, the customers the user serves and the services they see."""

    def __init__(self, user, scope):
        types = list(CIType.objects.prefetch_related("attribute_definitions"))
        self.types = {t.id: t for t in types}
        self.type_by_key = {t.key.lower(): t for t in types}
        self.type_by_name = {t.name.lower(): t for t in types}
        self.definitions = {t.id: {d.key: d for d in t.attribute_definitions.all()} for t in types}
        self.location_types = {t.id for t in types if t.is_location}
        self.required = {
            pk: [d for d in defs.values() if d.required] for pk, defs in self.definitions.items()
        }
        self.attribute_keys = {k for defs in self.definitions.values() for k in defs}
        teams = list(Team.objects.values_list("pk", "name"))
        self.teams = _lookup((name, pk) for pk, name in teams)
        customers = Customer.objects.values_list("pk", "code", "name")
        if not scope.all_customers:
            customers = customers.filter(pk__in=scope.customer_ids)
        pairs = []
        for pk, code, name in customers:
            pairs += [(code, pk), (name, pk)]
        self.customers = _lookup(pairs)
        self.all_customers = scope.all_customers
        self.served = set(scope.customer_ids)
        services = list(restrict(Service.objects.all(), user).values_list("pk", "name"))
        self.services = _lookup((name, pk) for pk, name in services)
        self.visible_services = {pk for pk, _name in services}
        self.statuses = _lookup(
            [(v, v) for v in CIStatus.values] + [(str(label), v) for v, label in CIStatus.choices]
        )
        self.criticalities = _lookup(
            [(str(c.value), c.value) for c in Criticality]
            + [(c.name, c.value) for c in Criticality]
            + [(str(c.label), c.value) for c in Criticality]
        )

    def type_of(self, text):
        lowered = text.lower()
        return self.type_by_key.get(lowered) or self.type_by_name.get(lowered)


def _lookup(pairs):
    """A case-insensitive name → value map (a name two values share is left out)."""
    out, clashes = {}, set()
    for name, value in pairs:
        lowered = str(name).strip().lower()
        if lowered in out and out[lowered] != value:
            clashes.add(lowered)
        out[lowered] = value
    for lowered in clashes:
        del out[lowered]
    return out


class CIImporter(Importer):
    """Upserts configuration items from the rows of a CSV file."""

    def __init__(self, run, user, problems):
        super().__init__(run, user, problems)
        self.ref = Reference(user, self.scope)
        self.ids = IdAllocator(ConfigurationItem)
        self.names_in_file = {}  # (type id, name) -> line
        self.keys_in_file = {}  # key -> line (external key or serial)
        self.external_in_file = {}  # external key -> line, when it is not the key
        self.temp = 0
        self.converted = {}  # definition id or column -> {text: (value, message)}
        # What this run has written, for the reads made beside the writes (which see
        # the database as it was before the run): CIs created or changed by their
        # (type id, name), the new name, external key and visibility of those changed,
        # and the created ones the user cannot see.
        self.made = {}
        self.changed = {}  # id -> (name, external key, visible)
        self.hidden = set()

    @contextmanager
    def applying(self):
        """The file's writes go to a second connection, in one transaction, while
        this thread checks the next rows; the reads here see the database as it was
        before the run, plus what ``made``, ``changed`` and ``hidden`` record."""
        with WriteBehind(one_transaction=True, depth=WRITE_DEPTH) as writer:
            self.writer = writer
            if writer.thread is not None and connection.vendor == "postgresql":
                # Foreign keys checked as each chunk is written, while the next one
                # is read, rather than all at the commit.
                writer.submit(_check_constraints_now)
            yield

    def write(self, fn, *args):
        self.writer.submit(fn, *args)

    # --- header -------------------------------------------------------------------
    def check_header(self, header):
        def known(name):
            if name.startswith(ATTR_PREFIX):
                return name[len(ATTR_PREFIX) :] in self.ref.attribute_keys
            return name in CI_COLUMNS

        self.check_columns(header, known, required_columns(self.key))
        if self.problems:
            return
        index = {name: i for i, name in enumerate(header)}
        self.type_index = index["type"]
        # Each column's way in, worked out once: plain text within a length, a value
        # memoised per distinct text, the location's name, or a list of names.
        self.simple = []
        for i, n in enumerate(header):
            if n not in CI_COLUMNS or n == "type":
                continue
            if n in TEXT_LIMITS:
                self.simple.append((i, n, TEXT, TEXT_LIMITS[n]))
            elif n == "location":
                self.simple.append((i, n, LOCATION, None))
            else:
                convert = partial(self._names if n in ("customers", "services") else self._value, n)
                memo = self.converted.setdefault(n, {})
                self.simple.append(
                    (i, n, NAMES if n in ("customers", "services") else VALUE, (memo, convert))
                )
        self.attr_columns = [
            (i, n, n[len(ATTR_PREFIX) :]) for i, n in enumerate(header) if n.startswith(ATTR_PREFIX)
        ]
        self.attr_plans = {}  # type id -> its attribute columns
        self.types_seen = {}  # cell -> (type or None, text, formula)
        self.has = set(header)

    def _attr_plan(self, ci_type):
        """The attribute columns as the type takes them: with their definition, kind
        and memo, or None for an attribute it does not have."""
        definitions = self.ref.definitions[ci_type.id]
        plan = []
        for index, column, key in self.attr_columns:
            definition = definitions.get(key)
            if definition is None:
                plan.append((index, column, key, None, None, None))
            else:
                memo = self.converted.setdefault(definition.id, {})
                plan.append((index, column, key, definition, definition.kind, memo))
        self.attr_plans[ci_type.id] = plan
        return plan

    # --- one row ------------------------------------------------------------------
    def parse(self, line, cells):
        row = Row(line)
        raw = cells[self.type_index]
        found = self.types_seen.get(raw)
        if found is None:
            text, formula = cell_text(raw)
            found = (None if formula or not text else self.ref.type_of(text), text, formula)
            if len(self.types_seen) < MEMO_LIMIT:
                self.types_seen[raw] = found
        ci_type, text, formula = found
        if formula:
            self._refuse(row, "type", formula_message())
            return row
        if ci_type is None:
            message = (
                _("“%(value)s” is not a CI type (give its key or name).") % {"value": text[:100]}
                if text
                else _("The type is missing.")
            )
            self._refuse(row, "type", message)
            return row
        row.ci_type = ci_type
        values = row.values
        for index, column, way, arg in self.simple:
            text = cells[index].strip()
            if text and text[0] in SPECIAL_STARTS:
                text, formula = cell_text(text)
                if formula:
                    self._refuse(row, column, formula_message())
                    continue
            if way is TEXT:  # plain text: the common case, kept short
                if len(text) > arg:
                    self._refuse(
                        row, column, _("This value is longer than %(n)s characters.") % {"n": arg}
                    )
                elif not text and column == "name":
                    self._refuse(row, column, _("The name is missing."))
                else:
                    values[column] = text
            elif way is LOCATION:
                row.location = text
            else:
                memo, convert = arg
                found = memo.get(text)
                if found is None:
                    found = self._memo(memo, text, convert)
                if found[1] is not None:
                    self._refuse(row, column, found[1])
                elif way is NAMES:
                    setattr(row, column, found[0])
                elif found[0] is not None:
                    attname, value = found[0]
                    values[attname] = value
        plan = self.attr_plans.get(ci_type.id)
        if plan is None:
            plan = self._attr_plan(ci_type)
        for index, column, key, definition, kind, memo in plan:
            text = cells[index].strip()
            special = text and text[0] in SPECIAL_STARTS
            if special:
                text, formula = cell_text(text)
            if definition is None:
                if text:
                    self._refuse(
                        row,
                        column,
                        _("A %(type)s has no attribute “%(key)s”.")
                        % {"type": ci_type.name, "key": key},
                    )
                continue
            if special and formula and kind != AttributeKind.NUMBER:
                self._refuse(row, column, formula_message())
                continue
            if kind == AttributeKind.REFERENCE and text:
                row.refs[key] = text
                continue
            if not special and kind == AttributeKind.TEXT and 0 < len(text) <= TEXT_LIMIT:
                row.attrs[key] = text  # what convert() makes of such a text
                continue
            found = memo.get(text)
            if found is None:
                found = self._memo(memo, text, definition.convert)
            if found[1] is None:
                row.attrs[key] = found[0]
            else:
                self._refuse(row, column, found[1])
        if row.ok:
            self._key(row)
        return row

    @staticmethod
    def _memo(memo, text, convert):
        """(value, None) or (None, message): ``convert(text)``, which gives the
        value or raises Bad or ValidationError, memoised per distinct text (most
        cells of a column repeat a few values)."""
        try:
            found = (convert(text), None)
        except Bad as exc:
            found = (None, str(exc))
        except ValidationError as exc:
            found = (None, " ".join(exc.messages))
        if len(memo) < MEMO_LIMIT:
            memo[text] = found
        return found

    def _value(self, column, text):
        """(attname, value) a cell gives, or None to leave the field as it is; Bad
        if it is refused."""
        if column in DATE_COLUMNS:
            if not text:
                return column, None
            date = parse_date(text)
            if date is None:
                raise Bad(_("“%(value)s” is not a date (YYYY-MM-DD).") % {"value": text[:50]})
            return column, date
        if column == "status":
            if not text:
                return None
            status = self.ref.statuses.get(text.lower())
            if status is None:
                raise Bad(
                    _("“%(value)s” is not a status; the statuses are %(all)s.")
                    % {"value": text[:50], "all": ", ".join(CIStatus.values)}
                )
            return "status", status
        if column == "criticality":
            if not text:
                return None
            level = self.ref.criticalities.get(text.lower())
            if level is None:
                raise Bad(
                    _("“%(value)s” is not a criticality; give one of %(all)s.")
                    % {
                        "value": text[:50],
                        "all": ", ".join(c.name.lower() for c in Criticality),
                    }
                )
            return "criticality", level
        # The owner.
        if not text:
            return "owner_id", None
        team = self.ref.teams.get(text.lower())
        if team is None:
            raise Bad(_("There is no team called “%(value)s”.") % {"value": text[:100]})
        return "owner_id", team

    def _names(self, column, text):
        """The ids a list of names separated by “;” gives (shared by the rows that
        give the same text: the same few combinations repeat down a file)."""
        if column == "customers":
            return self._split(text, self.ref.customers, _customer_message)
        return self._split(text, self.ref.services, _service_message)

    @staticmethod
    def _split(text, lookup, message):
        ids, unknown = set(), []
        for part in text.split(";"):
            name = part.strip()
            if not name:
                continue
            pk = lookup.get(name.lower())
            if pk is None:
                unknown.append(name[:100])
            else:
                ids.add(pk)
        if unknown:
            raise Bad(message(unknown))
        return frozenset(ids)

    def _refuse(self, row, column, message):
        row.ok = False
        self.error(row.line, column, message)

    def _key(self, row):
        """The row's key, and no second row for the same CI, name or external key."""
        name = row.values.get("name", "")
        type_name = (row.ci_type.id, name)
        if self.key == "name":
            row.key = type_name
        else:
            value = row.values.get(self.key, "")
            if not value:
                self._refuse(
                    row,
                    self.key,
                    _("The %(column)s is missing: it is this import's key.")
                    % {"column": self.key.replace("_", " ")},
                )
                return
            earlier = self.keys_in_file.get(value)
            if earlier is not None:
                self._refuse(
                    row,
                    self.key,
                    _("This configuration item is already on line %(line)s of the file.")
                    % {"line": earlier},
                )
                return
            row.key = value
            self.keys_in_file[value] = row.line
        earlier = self.names_in_file.get(type_name)
        if earlier is not None:
            message = (
                _("This configuration item is already on line %(line)s of the file.")
                if self.key == "name"
                else _("Line %(line)s of the file has a %(type)s called “%(name)s” too.")
            )
            self._refuse(
                row, "name", message % {"line": earlier, "type": row.ci_type.name, "name": name}
            )
            return
        self.names_in_file[type_name] = row.line
        row.name_key = type_name
        external = row.values.get("external_key", "")
        if external and self.key != "external_key":
            earlier = self.external_in_file.get(external)
            if earlier is not None:
                self._refuse(
                    row,
                    "external_key",
                    _("Line %(line)s of the file has this external key too.") % {"line": earlier},
                )
                return
            self.external_in_file[external] = row.line

    # --- one chunk ----------------------------------------------------------------
    def handle_chunk(self, chunk):
        rows = [row for row in (self.parse(line, cells) for line, cells in chunk) if row.ok]
        if not rows:
            return
        self._match(rows)
        rows = [row for row in rows if row.ok]
        self._check_taken(rows)
        rows = [row for row in rows if row.ok]
        creates = [row for row in rows if row.state is None]
        if self.writing:
            for row, pk in zip(creates, self.ids.take(len(creates)), strict=True):
                row.id = pk
        else:
            for row in creates:
                self.temp -= 1
                row.id = self.temp
        self._resolve_locations(rows)
        self._resolve_references(rows)
        creates, updates = self._compare([row for row in rows if row.ok])
        if self.writing and (creates or updates):
            self.write(run_all, prepare_cis(creates, updates, self.run.filename))
            self.created += len(creates)
            self.updated += len(updates)
            self._remember(creates, updates)

    def _remember(self, creates, updates):
        for row, _new, customers, _services in creates:
            self.made[row.name_key] = row.id
            if not self._sees(customers):
                self.hidden.add(row.id)
        for row, new, customers, _services, _changes in updates:
            self.made[row.name_key] = row.id
            self.changed[row.id] = (new["name"], new["external_key"], self._sees(customers))

    def _sees(self, customers):
        """Whether the user sees a CI with these customers (as ``restrict`` decides)."""
        scope = self.scope
        if scope.all_customers:
            return True
        if customers & scope.customer_ids:
            return True
        return not customers and not scope.is_customer

    def _match(self, rows):
        """The existing CI each row names (locked for the rest of the import)."""
        field = "name" if self.key == "name" else self.key
        if self.key == "name":
            wanted = sorted({row.key[1] for row in rows})
        else:
            wanted = sorted({row.key for row in rows})
        # Which CIs: looked up here; their values: read under lock in the import's
        # transaction, after the writes queued before.
        ids = [pk for (pk,) in matching(ConfigurationItem, field, wanted, nonempty=field != "name")]
        found = {}
        states = self.writer.call(self._states, ids) if ids else {}
        for values in states.values():
            if self.key == "name":
                key = (values["ci_type_id"], values["name"])
            else:
                key = values[self.key]
            found.setdefault(key, []).append(values)
        for row in rows:
            matches = found.get(row.key, ())
            if not matches:
                continue
            if len(matches) > 1:
                self._refuse(
                    row,
                    self.key,
                    _(
                        "%(n)s configuration items have this serial number; import them "
                        "by another key."
                    )
                    % {"n": len(matches)},
                )
                continue
            state = matches[0]
            if not self._visible(state):
                self._refuse(
                    row,
                    self.key if self.key != "name" else "name",
                    _("This names a configuration item of a customer you do not serve."),
                )
            elif state["ci_type_id"] != row.ci_type.id:
                self._refuse(
                    row,
                    "type",
                    _("This configuration item is a %(type)s; an import does not change a type.")
                    % {"type": self.ref.types[state["ci_type_id"]].name},
                )
            else:
                row.state, row.id = state, state["pk"]

    @staticmethod
    def _states(ids):
        """The stored values of the CIs ``ids`` with their customers and services,
        locked for the rest of the import's transaction."""
        states = {}
        if not ids:
            return states
        qs = ConfigurationItem.objects.select_for_update().filter(pk__any=ids)
        for values in qs.values("pk", "version", *STORED):
            values["customers"], values["services"] = set(), set()
            values["links"] = {}
            states[values["pk"]] = values
        ids = list(states)
        for through, name, field in (
            (CUSTOMERS, "customers", "customer_id"),
            (SERVICES, "services", "service_id"),
        ):
            for link, ci, other in matching(
                through, "configurationitem_id", ids, ("pk", "configurationitem_id", field)
            ):
                states[ci][name].add(other)
                states[ci]["links"][(name, other)] = link
        return states

    def _visible(self, state):
        scope = self.scope
        if scope.all_customers:
            return True
        return not state["customers"] or bool(state["customers"] & scope.customer_ids)

    def _check_taken(self, rows):
        """Names and external keys the rows give that other CIs hold."""
        if self.key != "name":
            names = sorted({row.values["name"] for row in rows})
            changed = self.changed
            holders = {
                (t, n): pk
                for pk, t, n in matching(
                    ConfigurationItem, "name", names, ("pk", "ci_type_id", "name")
                )
                if pk not in changed or changed[pk][0] == n
            }
            for row in rows:
                holder = holders.get((row.ci_type.id, row.values["name"]))
                if holder is not None and holder != row.id:
                    self._refuse(
                        row,
                        "name",
                        _("Another %(type)s is called “%(name)s”.")
                        % {"type": row.ci_type.name, "name": row.values["name"]},
                    )
        if self.key != "external_key":
            wanted = sorted({row.values.get("external_key") or "" for row in rows} - {""})
            if wanted:
                changed = self.changed
                holders = {
                    key: pk
                    for key, pk in matching(
                        ConfigurationItem,
                        "external_key",
                        wanted,
                        ("external_key", "pk"),
                        nonempty=True,
                    )
                    if pk not in changed or changed[pk][1] == key
                }
                for row in rows:
                    holder = holders.get(row.values.get("external_key") or "")
                    if holder is not None and holder != row.id:
                        self._refuse(
                            row,
                            "external_key",
                            _("Another configuration item has the external key “%(key)s”.")
                            % {"key": row.values["external_key"]},
                        )

    def _named(self, names, rows, types=None):
        """name -> ids of visible CIs so called (of ``types`` when given), in the
        database, among the CIs this run wrote, or among this chunk's rows."""
        changed = self.changed
        out = {}
        found = [
            (pk, name)
            for pk, name, t in matching(
                ConfigurationItem, "name", sorted(names), ("pk", "name", "ci_type_id")
            )
            if (types is None or t in types) and (pk not in changed or changed[pk][0] == name)
        ]
        unseen = [pk for pk, _name in found if pk not in changed]
        if unseen and not self.scope.all_customers:
            visible = set(
                restrict(ConfigurationItem.objects.filter(pk__any=unseen), self.user).values_list(
                    "pk", flat=True
                )
            )
        else:
            visible = set(unseen)
        for pk, name in found:
            if changed[pk][2] if pk in changed else pk in visible:
                out.setdefault(name, set()).add(pk)
        if self.made:
            made, hidden = self.made, self.hidden
            for name in names:
                for t in self.ref.types if types is None else types:
                    pk = made.get((t, name))
                    if pk is None or pk in hidden or (pk in changed and not changed[pk][2]):
                        continue
                    out.setdefault(name, set()).add(pk)
        for row in rows:
            name = row.values.get("name")
            if name in names and (types is None or row.ci_type.id in types):
                out.setdefault(name, set()).add(row.id)
        return out

    def _in_file(self, name, types):
        """Checking only (after an error): a CI so called earlier in the file."""
        return not self.writing and any(
            (t, name) in self.names_in_file for t in (types or self.ref.types)
        )

    def _resolve_locations(self, rows):
        wanted = {row.location for row in rows if row.location}
        if not wanted:
            return
        types = self.ref.location_types
        found = self._named(wanted, rows, types)
        for row in rows:
            if not row.location:
                continue
            ids = found.get(row.location, ())
            if len(ids) == 1:
                (pk,) = ids
                if pk == row.id:
                    self._refuse(row, "location", _("A CI cannot be its own location."))
                row.values["location_id"] = pk
            elif len(ids) > 1:
                self._refuse(
                    row,
                    "location",
                    _("More than one location is called “%(name)s”.") % {"name": row.location},
                )
            elif self._in_file(row.location, types):
                row.values["location_id"] = None
            else:
                self._refuse(
                    row,
                    "location",
                    _("There is no location called “%(name)s” (a CI of a location type).")
                    % {"name": row.location[:100]},
                )
        for row in rows:
            if row.location == "":
                row.values["location_id"] = None

    def _visible_ids(self, numbers, types):
        qs = ConfigurationItem.objects.filter(pk__any=numbers)
        if types is not None:
            qs = qs.filter(ci_type_id__in=types)
        return set(restrict(qs, self.user).values_list("pk", flat=True))

    def _resolve_references(self, rows):
        wanted = {}
        for row in rows:
            for key, text in row.refs.items():
                definition = self.ref.definitions[row.ci_type.id][key]
                wanted.setdefault(definition, set()).add(text)
        for definition, texts in wanted.items():
            types = {definition.reference_type_id} if definition.reference_type_id else None
            numbers = [int(t) for t in texts if t.isascii() and t.isdigit() and len(t) < 19]
            # In the import's transaction: ids may name CIs this run wrote.
            by_pk = self.writer.call(self._visible_ids, numbers, types) if numbers else set()
            named = self._named({t for t in texts if not t.isdigit()}, rows, types)
            column = ATTR_PREFIX + definition.key
            for row in rows:
                text = row.refs.get(definition.key)
                if text is None or self.ref.definitions[row.ci_type.id][definition.key] != (
                    definition
                ):
                    continue
                if text.isdigit():
                    ids = {int(text)} & by_pk
                else:
                    ids = named.get(text, set())
                if len(ids) == 1:
                    row.attrs[definition.key] = next(iter(ids))
                elif len(ids) > 1:
                    self._refuse(
                        row,
                        column,
                        _("%(label)s: more than one CI is called “%(value)s”; give its id.")
                        % {"label": definition.label, "value": text[:100]},
                    )
                elif self._in_file(text, types):
                    row.attrs[definition.key] = None
                else:
                    self._refuse(
                        row,
                        column,
                        _("%(label)s names no CI “%(value)s”.")
                        % {"label": definition.label, "value": text[:100]},
                    )

    def _compare(self, rows):
        """Each row's final values against the CI it names: created, changed (with
        the changes), or unchanged."""
        creates, updates = [], []
        served = None if self.ref.all_customers else self.ref.served
        for row in rows:
            state = row.state
            base = state if state is not None else DEFAULTS
            new = {n: base[n] for n in STORED if n in base}
            new["ci_type_id"] = row.ci_type.id
            new.update(row.values)
            attributes = dict(state["attributes"] or {}) if state is not None else {}
            for key, value in row.attrs.items():
                if value is None:
                    attributes.pop(key, None)
                else:
                    attributes[key] = value
            new["attributes"] = attributes
            self._check_final(row, new)
            customers = services = None
            before_c = state["customers"] if state is not None else set()
            before_s = state["services"] if state is not None else set()
            if row.customers is not None:
                # Customers the user does not serve stay as they are.
                customers = set(row.customers)
                if served is not None:
                    customers |= {c for c in before_c if c not in served}
            if row.services is not None:
                hidden = {s for s in before_s if s not in self.ref.visible_services}
                services = row.services | hidden
            if not row.ok:
                continue
            after_c = before_c if customers is None else customers
            after_s = before_s if services is None else services
            if state is None:
                creates.append((row, new, after_c, after_s))
                continue
            changes = {
                FIELD_NAMES.get(n, n): [plain(state[n]), plain(new[n])]
                for n in STORED
                if state[n] != new[n]
            }
            if after_c != before_c:
                changes["customers"] = [sorted(before_c), sorted(after_c)]
            if after_s != before_s:
                changes["services"] = [sorted(before_s), sorted(after_s)]
            if changes:
                updates.append((row, new, after_c, after_s, changes))
            else:
                self.unchanged += 1
        return creates, updates

    def _check_final(self, row, new):
        installed = new.get("installed_on")
        if installed:
            for column in ("retire_by", "warranty_end"):
                end = new.get(column)
                if end and end < installed:
                    self._refuse(row, column, _("This date is before the installation date."))
        for definition in self.ref.required[row.ci_type.id]:
            if new["attributes"].get(definition.key) is None:
                self._refuse(
                    row,
                    ATTR_PREFIX + definition.key,
                    _("%(label)s is required.") % {"label": definition.label},
                )


def _check_constraints_now():
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")


def _customer_message(names):
    return _("Not a customer you serve: %(names)s (give codes or names, separated by “;”).") % {
        "names": ", ".join(f"“{n}”" for n in names)
    }


def _service_message(names):
    return _("No such service: %(names)s (give names separated by “;”).") % {
        "names": ", ".join(f"“{n}”" for n in names)
    }
