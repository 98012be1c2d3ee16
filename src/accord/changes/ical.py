"""The forward schedule as an iCalendar feed (RFC 5545): one VEVENT per change, and
one per blackout window, written here as text.

The rules the text keeps (RFC 5545 3.1 and 3.3.11): lines end with CRLF; a line
longer than 75 octets is folded (CRLF and one space), never inside a UTF-8 character;
in TEXT values backslash, semicolon and comma are escaped and a line break becomes
``\\n``; times are UTC with a trailing Z. Each event has a UID that stays the same
(the change's number at the installation's host name), a DTSTAMP (when the change
was last revised, as for a calendar without METHOD) and a SEQUENCE that grows with
every revision, so calendar programs update the event they already have.
"""

import datetime
from typing import NamedTuple

from django.db.models import CharField, Func
from django.utils.translation import gettext as _

from .choices import Status

PRODID = "-//Accord//Change schedule//EN"
LIMIT = 75  # octets per line, the line break not counted
DESCRIPTION_LIMIT = 2000  # characters of a change's description carried into the feed
# The statuses of an event (RFC 5545 3.8.1.11): a change not yet approved may still move.
TENTATIVE = frozenset({Status.DRAFT, Status.SUBMITTED, Status.ASSESSED, Status.AWAITING_APPROVAL})


def escape_text(value) -> str:
    """A TEXT value (RFC 5545 3.3.11): \\ ; , escaped, any line break as \\n."""
    text = str(value or "")
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    # Chained replace() runs in C; str.translate with a mapping steps per character.
    return text.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,").replace("\n", "\\n")


def fold(line: str) -> str:
    """A content line folded into parts of at most 75 octets, each further part
    starting with one space (which counts in its 75); no UTF-8 character is split."""
    if len(line) <= LIMIT // 4 or (line.isascii() and len(line) <= LIMIT):
        return line
    if line.isascii():
        parts = [line[:LIMIT]]
        parts += [line[i : i + LIMIT - 1] for i in range(LIMIT, len(line), LIMIT - 1)]
        return "\r\n ".join(parts)
    data = line.encode()
    if len(data) <= LIMIT:
        return line
    parts, start, room = [], 0, LIMIT
    while start < len(data):
        cut = min(start + room, len(data))
        # Back up off UTF-8 continuation bytes (10xxxxxx) to a character's start.
        while cut < len(data) and data[cut] & 0xC0 == 0x80:
            cut -= 1
        parts.append(data[start:cut].decode())
        start, room = cut, LIMIT - 1
    return "\r\n ".join(parts)


def utc(value: datetime.datetime) -> str:
    """A DATE-TIME in UTC form (RFC 5545 3.3.5, form #2)."""
    if value.utcoffset():
        value = value.astimezone(datetime.UTC)
    text = value.isoformat()  # YYYY-MM-DDTHH:MM:SS[.ffffff][+00:00], quick in C
    return f"{text[0:4]}{text[5:7]}{text[8:10]}T{text[11:13]}{text[14:16]}{text[17:19]}Z"


def _instant(value):
    return value if isinstance(value, str) else utc(value)


class UtcText(Func):
    """A timestamp column read as iCalendar's UTC DATE-TIME text, formatted by the
    database: for a feed of thousands of events, converting each value to a Python
    datetime and back to text is most of the time spent."""

    output_field = CharField()

    def as_sqlite(self, compiler, connection, **extra):
        # Stored as UTC text ("YYYY-MM-DD HH:MM:SS[.ffffff]"); "%%" is one "%" here.
        return self.as_sql(
            compiler, connection, template="strftime('%%Y%%m%%dT%%H%%M%%SZ', %(expressions)s)"
        )

    def as_postgresql(self, compiler, connection, **extra):
        return self.as_sql(
            compiler,
            connection,
            template="""to_char(%(expressions)s AT TIME ZONE 'UTC', 'YYYYMMDD"T"HH24MISS"Z"')""",
        )


def _lines(name, value):
    return fold(f"{name}:{value}")


class ChangeRow(NamedTuple):
    """What the feed says of one change (labels already translated)."""

    number: str
    short_description: str
    description: str
    kind: str  # its label
    status: str
    status_label: str
    risk: str  # its label, or ""
    team: str
    services: tuple
    # Instants: datetimes, or already in iCalendar's UTC form (``UtcText``).
    start: datetime.datetime | str
    end: datetime.datetime | str
    updated: datetime.datetime | str
    version: int
    url: str  # the absolute address of its page


class ChangeText:
    """The translated sentences of a change's description, looked up once per feed
    (a few thousand events would otherwise ask gettext a few times each)."""

    def __init__(self):
        self.heading = _("%(kind)s change, %(status)s.")
        self.risk = _("Risk: %(risk)s.")
        self.team = _("Team: %(team)s.")
        self.services = _("Services: %(services)s.")


def change_event(row: ChangeRow, *, host, text: ChangeText | None = None):
    """The VEVENT of one change."""
    text = text or ChangeText()
    details = [text.heading % {"kind": row.kind, "status": row.status_label}]
    if row.risk:
        details.append(text.risk % {"risk": row.risk})
    if row.team:
        details.append(text.team % {"team": row.team})
    if row.services:
        details.append(text.services % {"services": ", ".join(row.services)})
    body = (row.description or "").strip()
    if len(body) > DESCRIPTION_LIMIT:
        body = body[:DESCRIPTION_LIMIT].rstrip() + "…"
    description = "\n".join(details) + ("\n\n" + body if body else "") + "\n\n" + row.url
    stamp = _instant(row.updated)
    return [
        "BEGIN:VEVENT",
        f"UID:{row.number}@{host}",
        f"DTSTAMP:{stamp}",
        f"LAST-MODIFIED:{stamp}",
        f"SEQUENCE:{max(0, row.version - 1)}",
        f"DTSTART:{_instant(row.start)}",
        f"DTEND:{_instant(row.end)}",
        _lines("SUMMARY", escape_text(f"{row.number} {row.short_description}")),
        _lines("DESCRIPTION", escape_text(description)),
        _lines("URL", row.url),
        "STATUS:" + ("TENTATIVE" if row.status in TENTATIVE else "CONFIRMED"),
        _lines("CATEGORIES", escape_text(row.kind)),
        "TRANSP:OPAQUE",
        "END:VEVENT",
    ]


def blackout_event(window, *, host, services=()):
    """A blackout window as an all-blocking, free-time event (it takes no one's time)."""
    details = [_("Blackout window: no change may be implemented.")]
    details.append(
        _("Services: %(services)s.") % {"services": ", ".join(services)}
        if services
        else _("Holds for every service.")
    )
    if window.reason:
        details.append(window.reason)
    stamp = utc(window.updated)
    return [
        "BEGIN:VEVENT",
        f"UID:blackout-{window.pk}@{host}",
        f"DTSTAMP:{stamp}",
        f"LAST-MODIFIED:{stamp}",
        f"SEQUENCE:{max(0, window.version - 1)}",
        f"DTSTART:{utc(window.starts_at)}",
        f"DTEND:{utc(window.ends_at)}",
        _lines("SUMMARY", escape_text(_("Blackout: %(name)s") % {"name": window.name})),
        _lines("DESCRIPTION", escape_text("\n".join(details))),
        _lines("CATEGORIES", escape_text(_("Blackout window"))),
        "TRANSP:TRANSPARENT",
        "END:VEVENT",
    ]


def calendar(events, *, name, refresh_minutes=60) -> str:
    """The VCALENDAR around the events' lines, as one string with CRLF line ends."""
    head = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        f"PRODID:{PRODID}",
        "CALSCALE:GREGORIAN",
        _lines("NAME", escape_text(name)),
        _lines("X-WR-CALNAME", escape_text(name)),
        f"REFRESH-INTERVAL;VALUE=DURATION:PT{refresh_minutes}M",
        f"X-PUBLISHED-TTL:PT{refresh_minutes}M",
    ]
    lines = head
    for event in events:
        lines.extend(event)
    lines.append("END:VCALENDAR")
    return "\r\n".join(lines) + "\r\n"
