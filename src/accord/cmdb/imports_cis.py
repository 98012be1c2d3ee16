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

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from accord.catalogue.models import Service
from accord.core.policy import restrict
from accord.organizations.models import Customer
from accord.users.models import Team

from .choices import AttributeKind, CIStatus, Criticality
from .imports import IdAllocator, Importer, cell_text, formula_message, parse_date
from .imports_write import CUSTOMERS, FIELD_NAMES, SERVICES, STORED, write_cis
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
        self.simple = [
            (i, n, TEXT_LIMITS.get(n, 0))
            for i, n in enumerate(header)
            if n in CI_COLUMNS and n != "type"
        ]
        self.attr_columns = [
            (i, n, n[len(ATTR_PREFIX) :]) for i, n in enumerate(header) if n.startswith(ATTR_PREFIX)
        ]
        self.has = set(header)

    # --- one row ------------------------------------------------------------------
    def parse(self, line, cells):
        row = Row(line)
        text, formula = cell_text(cells[self.type_index])
        if formula:
            self._refuse(row, "type", formula_message())
            return row
        ci_type = self.ref.type_of(text) if text else None
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
        for index, column, limit in self.simple:
            text = cells[index].strip()
            if text and text[0] in SPECIAL_STARTS:
                text, formula = cell_text(text)
                if formula:
                    self._refuse(row, column, formula_message())
                    continue
            if limit:  # plain text: the common case, kept short
                if len(text) > limit:
                    self._refuse(
                        row, column, _("This value is longer than %(n)s characters.") % {"n": limit}
                    )
                elif column == "name" and not text:
                    self._refuse(row, column, _("The name is missing."))
                else:
                    values[column] = text
                continue
            try:
                self._cell(row, column, text)
            except Bad as exc:
                self._refuse(row, column, str(exc))
        definitions = self.ref.definitions[ci_type.id]
        for index, column, key in self.attr_columns:
            text = cells[index].strip()
            formula = False
            if text and text[0] in SPECIAL_STARTS:
                text, formula = cell_text(text)
            definition = definitions.get(key)
            if definition is None:
                if text:
                    self._refuse(
                        row,
                        column,
                        _("A %(type)s has no attribute “%(key)s”.")
                        % {"type": ci_type.name, "key": key},
                    )
                continue
            if formula and definition.kind != AttributeKind.NUMBER:
                self._refuse(row, column, formula_message())
                continue
            if definition.kind == AttributeKind.REFERENCE and text:
                row.refs[key] = text
                continue
            value, message = self._convert(definition, text)
            if message is None:
                row.attrs[key] = value
            else:
                self._refuse(row, column, message)
        if row.ok:
            self._key(row)
        return row

    def _convert(self, definition, text):
        """(value, None) or (None, message): the definition's own conversion, memoised
        per distinct text (most attribute values repeat across a file)."""
        memo = self.converted.setdefault(definition.id, {})
        found = memo.get(text)
        if found is None:
            try:
                found = (definition.convert(text), None)
            except ValidationError as exc:
                found = (None, " ".join(exc.messages))
            if len(memo) < MEMO_LIMIT:
                memo[text] = found
        return found

    def _cell(self, row, column, text):
        values = row.values
        if column in DATE_COLUMNS:
            if not text:
                values[column] = None
                return
            date = parse_date(text)
            if date is None:
                raise Bad(_("“%(value)s” is not a date (YYYY-MM-DD).") % {"value": text[:50]})
            values[column] = date
        elif column == "status":
            if text:
                status = self.ref.statuses.get(text.lower())
                if status is None:
                    raise Bad(
                        _("“%(value)s” is not a status; the statuses are %(all)s.")
                        % {"value": text[:50], "all": ", ".join(CIStatus.values)}
                    )
                values["status"] = status
        elif column == "criticality":
            if text:
                level = self.ref.criticalities.get(text.lower())
                if level is None:
                    raise Bad(
                        _("“%(value)s” is not a criticality; give one of %(all)s.")
                        % {
                            "value": text[:50],
                            "all": ", ".join(c.name.lower() for c in Criticality),
                        }
                    )
                values["criticality"] = level
        elif column == "owner":
            if not text:
                values["owner_id"] = None
                return
            team = self.ref.teams.get(text.lower())
            if team is None:
                raise Bad(_("There is no team called “%(value)s”.") % {"value": text[:100]})
            values["owner_id"] = team
        elif column == "location":
            row.location = text
        elif column == "customers":
            row.customers = self._names(column, text, self.ref.customers, _customer_message)
        elif column == "services":
            row.services = self._names(column, text, self.ref.services, _service_message)

    def _names(self, column, text, lookup, message):
        """The ids a list of names separated by “;” gives (memoised per text: the same
        few combinations repeat down a file); each row gets a set of its own."""
        memo = self.converted.setdefault(column, {})
        found = memo.get(text)
        if found is None:
            try:
                found = (self._split(text, lookup, message), None)
            except Bad as exc:
                found = (None, str(exc))
            if len(memo) < MEMO_LIMIT:
                memo[text] = found
        if found[1] is not None:
            raise Bad(found[1])
        return set(found[0])

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
        return ids

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
        outcome = self._compare([row for row in rows if row.ok])
        if self.writing:
            created, updated = write_cis(*outcome, self.run.filename)
            self.created += created
            self.updated += updated

    def _match(self, rows):
        """The existing CI each row names (locked for the rest of the import)."""
        qs = ConfigurationItem.objects.select_for_update()
        if self.key == "name":
            qs = qs.filter(name__any=sorted({row.key[1] for row in rows}))
        elif self.key == "serial":
            qs = qs.filter(serial__any=sorted({row.key for row in rows})).exclude(serial="")
        else:
            qs = qs.filter(external_key__any=sorted({row.key for row in rows})).exclude(
                external_key=""
            )
        states = {}
        found = {}
        for values in qs.values("pk", "version", *STORED):
            values["customers"], values["services"] = set(), set()
            values["links"] = {}
            states[values["pk"]] = values
            if self.key == "name":
                key = (values["ci_type_id"], values["name"])
            else:
                key = values[self.key]
            found.setdefault(key, []).append(values)
        if states:
            ids = list(states)
            for through, name, field in (
                (CUSTOMERS, "customers", "customer_id"),
                (SERVICES, "services", "service_id"),
            ):
                for link, ci, other in through.objects.filter(
                    configurationitem_id__any=ids
                ).values_list("pk", "configurationitem_id", field):
                    states[ci][name].add(other)
                    states[ci]["links"][(name, other)] = link
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

    def _visible(self, state):
        scope = self.scope
        if scope.all_customers:
            return True
        return not state["customers"] or bool(state["customers"] & scope.customer_ids)

    def _check_taken(self, rows):
        """Names and external keys the rows give that other CIs hold."""
        if self.key != "name":
            names = sorted({row.values["name"] for row in rows})
            holders = {
                (t, n): pk
                for pk, t, n in ConfigurationItem.objects.filter(name__any=names).values_list(
                    "pk", "ci_type_id", "name"
                )
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
                holders = dict(
                    ConfigurationItem.objects.filter(external_key__any=wanted)
                    .exclude(external_key="")
                    .values_list("external_key", "pk")
                )
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
        database or among this chunk's rows."""
        qs = restrict(ConfigurationItem.objects.filter(name__any=sorted(names)), self.user)
        if types is not None:
            qs = qs.filter(ci_type_id__in=types)
        out = {}
        for pk, name in qs.values_list("pk", "name"):
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

    def _resolve_references(self, rows):
        wanted = {}
        for row in rows:
            for key, text in row.refs.items():
                definition = self.ref.definitions[row.ci_type.id][key]
                wanted.setdefault(definition, set()).add(text)
        for definition, texts in wanted.items():
            types = {definition.reference_type_id} if definition.reference_type_id else None
            numbers = [int(t) for t in texts if t.isascii() and t.isdigit() and len(t) < 19]
            by_pk = set(
                restrict(
                    ConfigurationItem.objects.filter(pk__any=numbers)
                    if types is None
                    else ConfigurationItem.objects.filter(pk__any=numbers, ci_type_id__in=types),
                    self.user,
                ).values_list("pk", flat=True)
            )
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


def _customer_message(names):
    return _("Not a customer you serve: %(names)s (give codes or names, separated by “;”).") % {
        "names": ", ".join(f"“{n}”" for n in names)
    }


def _service_message(names):
    return _("No such service: %(names)s (give names separated by “;”).") % {
        "names": ", ".join(f"“{n}”" for n in names)
    }
