"""Reading a discovered dataset for an audit run: a CSV file with the CI CSV's
columns, or GLPI-Agent inventories (the agent's JSON inventory format, one document
or a list of them).

Every item comes out in one shape, its values already in the form the CMDB stores
them (choice values, ISO dates, ids of teams and locations, attributes checked by
their definitions)::

    {"line": 4, "where": "Line 4", "name": "srv-01", "type": "server",
     "fields": {"serial": "X1", "status": "live"}, "attributes": {"ip_address": "10.0.0.1"}}

Bad input raises DatasetError with messages that name the line and the column (or
the inventory and the field); nothing is half-read.
"""

import csv
import datetime
import io
import ipaddress
import json

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from accord.users.models import Team

from .choices import AttributeKind, CIStatus, Criticality
from .imports import cell_text, formula_message
from .models import CIType, ConfigurationItem

MAX_BYTES = 25 * 1024 * 1024
MAX_ITEMS = 50_000
MAX_ERRORS = 30

TEXT_FIELDS = {"serial": 100, "asset_tag": 100, "external_key": 200, "description": 5000}
DATE_FIELDS = ("installed_on", "warranty_end", "retire_by")
# Columns of the CI CSV that say nothing a discovery can find: read and left aside.
IGNORED = {"id", "customers", "services", "created", "updated", "version", "relationships"}
ALIASES = {
    "ci_type": "type",
    "serial_number": "serial",
    "tag": "asset_tag",
    "asset": "asset_tag",
    "key": "external_key",
    "installed": "installed_on",
}
KNOWN = {"name", "type", "status", "criticality", "owner", "location", *TEXT_FIELDS, *DATE_FIELDS}
# What a BIOS reports when the maker left the serial number blank.
NO_SERIAL = {
    "",
    "0",
    "none",
    "n/a",
    "not specified",
    "not available",
    "default string",
    "to be filled by o.e.m.",
    "system serial number",
    "chassis serial number",
}


class DatasetError(Exception):
    """The dataset cannot be read; ``messages`` say where and why."""

    def __init__(self, messages):
        self.messages = list(messages)
        super().__init__("; ".join(self.messages))


def read_dataset(upload, fmt="auto"):
    """(source, items) from an uploaded file; ``fmt`` is "csv", "glpi" or "auto"."""
    raw = upload.read(MAX_BYTES + 1)
    if len(raw) > MAX_BYTES:
        raise DatasetError(
            [_("The file is larger than %(mb)s MB.") % {"mb": MAX_BYTES // (1024 * 1024)}]
        )
    return read_bytes(raw, fmt)


def read_bytes(raw, fmt="auto"):
    if not raw.strip():
        raise DatasetError([_("The file is empty.")])
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise DatasetError(
            [
                _(
                    "Line %(line)s: the file is not UTF-8 text (byte 0x%(byte)02x). "
                    "Save it as UTF-8 and load it again."
                )
                % {"line": line, "byte": raw[exc.start]}
            ]
        ) from None
    if fmt == "auto":
        fmt = "glpi" if text.lstrip()[:1] in ("{", "[") else "csv"
    if fmt == "glpi":
        return "glpi", Reader().finish(glpi_items(text))
    return "csv", Reader().finish(csv_items(text))


# --- CSV ----------------------------------------------------------------------------------
def _column(header):
    name = (header or "").strip()
    if name.lower().startswith("attr:"):
        return "attr:" + name[5:].strip().lower()
    name = name.lower().replace(" ", "_").replace("-", "_")
    return ALIASES.get(name, name)


def csv_items(text):
    """Raw items from CSV text: {"line", "where", "type", "name", "values", "attributes"}
    with the cells as written."""
    first = text.split("\n", 1)[0]
    delimiter = ";" if first.count(";") > first.count(",") else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    try:
        header = next(reader)
    except csv.Error as exc:
        raise DatasetError([_("Line 1: %(error)s") % {"error": exc}]) from None
    columns = [_column(h) for h in header]
    if "name" not in columns:
        raise DatasetError(
            [
                _(
                    "The file is neither a GLPI-Agent inventory (JSON) nor a CSV file whose "
                    "first line names the columns, with a “name” column."
                )
            ]
        )
    unknown = [
        h
        for h, c in zip(header, columns, strict=True)
        if c not in KNOWN and c not in IGNORED and not c.startswith("attr:")
    ]
    seen = [c for c in columns if c]
    doubled = sorted({c for c in seen if seen.count(c) > 1})
    problems = []
    if unknown:
        problems.append(
            _("Line 1: unknown column(s) %(names)s. Known columns: %(known)s, attr:<key>.")
            % {
                "names": ", ".join(f"“{u}”" for u in unknown),
                "known": ", ".join(sorted(KNOWN)),
            }
        )
    if doubled:
        problems.append(
            _("Line 1: column(s) %(names)s appear more than once.")
            % {"names": ", ".join(f"“{d}”" for d in doubled)}
        )
    if problems:
        raise DatasetError(problems)
    items = []
    try:
        for row in reader:
            line = reader.line_num
            if not any(cell.strip() for cell in row):
                continue
            if len(row) > len(columns):
                raise DatasetError(
                    [
                        _("Line %(line)s has %(n)s cells but the header names %(m)s columns.")
                        % {"line": line, "n": len(row), "m": len(columns)}
                    ]
                )
            # A value the CMDB's export protected with a leading quote gets it back;
            # one that starts like a spreadsheet formula is flagged.
            parsed = [cell_text(c) for c in row]
            cells = dict(zip(columns, [text for text, _f in parsed], strict=False))
            formulas = [c for c, (_t, f) in zip(columns, parsed, strict=False) if f]
            items.append(
                {
                    "line": line,
                    "where": _("Line %(line)s") % {"line": line},
                    "name": cells.get("name", ""),
                    "type": cells.get("type", ""),
                    "values": {k: v for k, v in cells.items() if k in KNOWN and v},
                    "attributes": {k[5:]: v for k, v in cells.items() if k.startswith("attr:")},
                    "formulas": formulas,
                    "strict_attributes": True,
                }
            )
            if len(items) > MAX_ITEMS:
                raise DatasetError(
                    [_("The file has more than %(n)s items.") % {"n": f"{MAX_ITEMS:,}"}]
                )
    except csv.Error as exc:
        raise DatasetError(
            [_("Line %(line)s: %(error)s") % {"line": reader.line_num, "error": exc}]
        ) from None
    if not items:
        raise DatasetError([_("The file has a header line but no items.")])
    return items


# --- GLPI-Agent inventories -----------------------------------------------------------
def glpi_items(text):
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DatasetError(
            [
                _("The file is not valid JSON: line %(line)s, column %(col)s: %(error)s.")
                % {"line": exc.lineno, "col": exc.colno, "error": exc.msg}
            ]
        ) from None
    documents = data if isinstance(data, list) else [data]
    if not documents:
        raise DatasetError([_("The file holds an empty list: no inventory.")])
    if len(documents) > MAX_ITEMS:
        raise DatasetError([_("The file has more than %(n)s items.") % {"n": f"{MAX_ITEMS:,}"}])
    items, errors = [], []
    for index, document in enumerate(documents, start=1):
        try:
            items.append(glpi_item(index, document, several=isinstance(data, list)))
        except DatasetError as exc:
            errors += exc.messages
    if errors:
        raise DatasetError(errors[:MAX_ERRORS])
    return items


def _section(document, where, name, kind):
    value = document.get(name)
    if value is None:
        return kind()
    if not isinstance(value, kind):
        raise DatasetError(
            [
                _("%(where)s: content.%(name)s is not a %(kind)s.")
                % {
                    "where": where,
                    "name": name,
                    "kind": _("list") if kind is list else _("set of named values"),
                }
            ]
        )
    return value


def _text(value):
    return value.strip() if isinstance(value, str) else ("" if value is None else str(value))


def _number(value):
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return value
    try:
        return float(str(value).strip())
    except ValueError:
        return None


def glpi_item(index, document, several=True):
    where = _("Inventory %(n)s") % {"n": index} if several else _("The inventory")
    if not isinstance(document, dict) or not isinstance(document.get("content"), dict):
        raise DatasetError(
            [
                _(
                    "%(where)s is not a GLPI-Agent inventory: it has no “content” section "
                    '(expected {"deviceid": …, "content": {"hardware": …, "bios": …}}).'
                )
                % {"where": where}
            ]
        )
    content = document["content"]
    hardware = _section(content, where, "hardware", dict)
    bios = _section(content, where, "bios", dict)
    system = _section(content, where, "operatingsystem", dict)
    networks = _section(content, where, "networks", list)
    cpus = _section(content, where, "cpus", list)
    memories = _section(content, where, "memories", list)
    name = _text(hardware.get("name")) or _text(system.get("fqdn"))
    if not name:
        raise DatasetError(
            [
                _("%(where)s: content.hardware.name is missing: the machine has no name.")
                % {"where": where}
            ]
        )
    deviceid = _text(document.get("deviceid"))
    virtual = _text(hardware.get("vmsystem")).lower() not in ("", "physical")
    serial = _text(bios.get("ssn"))
    asset_tag = _text(bios.get("assettag"))
    attributes = {
        "hostname": _text(system.get("fqdn")) or name,
        "ip_address": _address(networks),
        "operating_system": _text(system.get("full_name"))
        or " ".join(p for p in (_text(system.get("name")), _text(system.get("version"))) if p),
        "cpu_cores": _cores(cpus),
        "memory_gb": _memory_gb(memories, hardware),
        "manufacturer": _text(bios.get("smanufacturer")),
        "model": _text(bios.get("smodel")),
    }
    values = {
        k: v
        for k, v in (
            ("external_key", deviceid),
            ("serial", "" if serial.lower() in NO_SERIAL else serial),
            ("asset_tag", "" if asset_tag.lower() in NO_SERIAL else asset_tag),
        )
        if v
    }
    attributes = {k: v for k, v in attributes.items() if v not in (None, "")}
    given = [("name", name), *values.items(), *((f"attr:{k}", v) for k, v in attributes.items())]
    return {
        "line": index,
        "where": where,
        "name": name,
        "type": "virtual-machine" if virtual else "server",
        "values": values,
        "attributes": attributes,
        "formulas": [k for k, v in given if isinstance(v, str) and cell_text(v)[1]],
        # The inventory knows more than a type may record: what it doesn't define is
        # left aside instead of refused.
        "strict_attributes": False,
    }


def _address(networks):
    """The machine's main address: an IPv4 address of a real interface that is up,
    preferring one with a gateway; else a global IPv6 address."""
    candidates = []
    for net in networks:
        if not isinstance(net, dict):
            continue
        if net.get("virtualdev") is True or _text(net.get("type")).lower() == "loopback":
            continue
        if _text(net.get("status")).lower() == "down":
            continue
        for key, rank in (("ipaddress", 0), ("ipaddress6", 2)):
            try:
                address = ipaddress.ip_address(_text(net.get(key)))
            except ValueError:
                continue
            if address.is_loopback or address.is_link_local or address.is_unspecified:
                continue
            candidates.append((rank + (0 if net.get("ipgateway") else 1), str(address)))
    return min(candidates)[1] if candidates else ""


def _cores(cpus):
    total = 0
    for cpu in cpus:
        if not isinstance(cpu, dict):
            continue
        cores = _number(cpu.get("core")) or _number(cpu.get("corecount")) or 1
        total += int(cores)
    return total or None


def _memory_gb(memories, hardware):
    """Installed memory (the modules) in GB; else what the system reports."""
    mb = sum(_number(m.get("capacity")) or 0 for m in memories if isinstance(m, dict)) or _number(
        hardware.get("memory")
    )
    if not mb:
        return None
    gb = round(mb / 1024, 1)
    return int(gb) if gb == int(gb) else gb


# --- into the CMDB's terms --------------------------------------------------------------
class Reader:
    """Checks raw items against the CMDB's types, choices and names, and returns them
    in stored form; every problem found is reported at once (up to MAX_ERRORS)."""

    def __init__(self):
        self.errors = []
        self.types = {}
        for t in CIType.objects.prefetch_related("attribute_definitions"):
            self.types[t.key.lower()] = t
            self.types[t.name.lower()] = t
        self.statuses = {}
        for value, label in CIStatus.choices:
            self.statuses[value] = value
            self.statuses[str(label).lower()] = value
        self.criticality = {}
        for value, label in Criticality.choices:
            self.criticality[str(value)] = value
            self.criticality[str(label).lower()] = value

    def error(self, item, column, message):
        self.errors.append(
            _("%(where)s, column “%(column)s”: %(message)s")
            % {"where": item["where"], "column": column, "message": message}
        )

    def finish(self, raw_items):
        teams = {}
        if any("owner" in i["values"] for i in raw_items):
            # Teams are few: all of them, so that a name matches whatever its case.
            teams = {n.lower(): pk for pk, n in Team.objects.values_list("pk", "name")}
        wanted = {i["values"]["location"] for i in raw_items if "location" in i["values"]}
        locations = {}
        for pk, n in ConfigurationItem.objects.filter(
            ci_type__is_location=True, name__in=wanted
        ).values_list("pk", "name"):
            locations.setdefault(n, []).append(pk)
        items = [self.item(raw, teams, locations) for raw in raw_items]
        self.check_doubles(items)
        if self.errors:
            extra = len(self.errors) - MAX_ERRORS
            messages = self.errors[:MAX_ERRORS]
            if extra > 0:
                messages.append(_("… and %(n)s more problems.") % {"n": extra})
            raise DatasetError(messages)
        return items

    def item(self, raw, teams, locations):
        out = {"line": raw["line"], "where": raw["where"], "name": raw["name"], "type": ""}
        out["fields"], out["attributes"] = {}, {}
        if not raw["name"]:
            self.error(raw, "name", _("a name is required."))
        elif len(raw["name"]) > 200:
            self.error(raw, "name", _("longer than 200 characters."))
        ci_type = None
        if raw["type"]:
            ci_type = self.types.get(raw["type"].lower())
            if ci_type is None:
                self.error(
                    raw,
                    "type",
                    _("no CI type “%(type)s”. Types: %(known)s.")
                    % {
                        "type": raw["type"][:50],
                        "known": ", ".join(sorted({t.key for t in self.types.values()})),
                    },
                )
            else:
                out["type"] = ci_type.key
        # A value that starts like a spreadsheet formula would travel from the CMDB
        # into someone's spreadsheet: refused, as the import refuses it.
        formulas = set(raw.get("formulas", ()))
        if "name" in formulas:
            self.error(raw, "name", formula_message())
        values = raw["values"]
        for field, value in values.items():
            if field in ("name", "type"):
                continue
            if field in formulas:
                self.error(raw, field, formula_message())
                continue
            converted = self.field(raw, field, value, teams, locations)
            if converted is not None:
                out["fields"][field] = converted
        definitions = {d.key: d for d in ci_type.attribute_definitions.all()} if ci_type else {}
        for key, value in raw["attributes"].items():
            if value in (None, ""):
                continue
            definition = definitions.get(key)
            if definition is None:
                if raw["strict_attributes"]:
                    self.error(
                        raw,
                        f"attr:{key}",
                        _("%(type)s has no attribute “%(key)s”.")
                        % {"type": ci_type or _("An item without a type"), "key": key},
                    )
                continue
            if definition.kind != AttributeKind.NUMBER and f"attr:{key}" in formulas:
                self.error(raw, f"attr:{key}", formula_message())
                continue
            try:
                out["attributes"][key] = definition.convert(value)
            except ValidationError as exc:
                self.error(raw, f"attr:{key}", " ".join(exc.messages))
        return out

    def field(self, raw, field, value, teams, locations):
        if field in TEXT_FIELDS:
            if len(value) > TEXT_FIELDS[field]:
                self.error(
                    raw, field, _("longer than %(n)s characters.") % {"n": TEXT_FIELDS[field]}
                )
                return None
            return value
        if field == "status":
            found = self.statuses.get(value.lower())
            if found is None:
                self.error(
                    raw,
                    field,
                    _("“%(value)s” is not a status. Statuses: %(known)s.")
                    % {"value": value[:50], "known": ", ".join(CIStatus.values)},
                )
            return found
        if field == "criticality":
            found = self.criticality.get(value.lower())
            if found is None:
                self.error(
                    raw,
                    field,
                    _("“%(value)s” is not a criticality (1 to 4, or its name).")
                    % {"value": value[:50]},
                )
            return found
        if field in DATE_FIELDS:
            try:
                return datetime.date.fromisoformat(value).isoformat()
            except ValueError:
                self.error(
                    raw,
                    field,
                    _("“%(value)s” is not a date (YYYY-MM-DD).") % {"value": value[:50]},
                )
                return None
        if field == "owner":
            found = teams.get(value.lower())
            if found is None:
                self.error(raw, field, _("no team “%(value)s”.") % {"value": value[:100]})
            return found
        if field == "location":
            found = locations.get(value, [])
            if len(found) != 1:
                self.error(
                    raw,
                    field,
                    (
                        _("no location “%(value)s”.")
                        if not found
                        else _("more than one location is called “%(value)s”.")
                    )
                    % {"value": value[:100]},
                )
                return None
            return found[0]
        return None

    def check_doubles(self, items):
        """The same external key, or the same name within a type, twice."""
        for label, key in (
            (_("external key"), lambda i: i["fields"].get("external_key")),
            (_("name and type"), lambda i: (i["type"], i["name"]) if i["type"] else None),
        ):
            first = {}
            for item in items:
                k = key(item)
                if not k:
                    continue
                if k in first:
                    self.errors.append(
                        _("%(where)s: the same %(what)s as %(other)s.")
                        % {"where": item["where"], "what": label, "other": first[k].lower()}
                    )
                else:
                    first[k] = item["where"]
