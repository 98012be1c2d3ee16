"""Table declarations for list pages and CSV exports.

A Table names its columns; each Column reads a value from a row (attribute path or
callable), may be sortable on a non-null database field, and may link to the row.
"""

import datetime
from dataclasses import dataclass
from html import escape as _escape
from typing import Any

from django.urls import reverse
from django.utils import timezone
from django.utils.safestring import mark_safe


def escape(value) -> str:
    # The standard library's escape on a plain str: Django's escape() also checks for
    # lazy strings on every call, which adds up over the hundreds of cells of a page.
    return _escape(str(value), quote=True)


BADGES = {
    "P1 - Critical": "danger",
    "P2 - High": "warning",
    "P3 - Moderate": "info",
    "P4 - Low": "secondary",
    "P5 - Planning": "light",
    "New": "primary",
    "Assigned": "info",
    "In progress": "warning",
    "Pending customer": "secondary",
    "Pending supplier": "secondary",
    "Pending change": "secondary",
    "Resolved": "success",
    "Closed": "dark",
    "Cancelled": "light",
    "Live": "success",
    "Pipeline": "info",
    "Retired": "secondary",
    "Planned": "info",
    "Ordered": "info",
    "In stock": "secondary",
    "Maintenance": "warning",
    "Disposed": "dark",
    # Changes ("Closed" and "Cancelled" are shared with the other records above).
    "Draft": "secondary",
    "Submitted": "info",
    "Assessed": "info",
    "Awaiting approval": "warning",
    "Approved": "info",
    "Rejected": "danger",
    "Scheduled": "primary",
    "Implementing": "primary",
    "Implemented": "success",
    "In review": "warning",
    # Releases ("Planned" and "Cancelled" are shared with the records above).
    "Build": "primary",
    "Test": "primary",
    "Acceptance": "warning",
    "Accepted": "info",
    "Deploying": "primary",
    "Deployed": "success",
    "Reviewed": "dark",
    # Deployments.
    "Done": "success",
    "Failed": "danger",
    "Rolled back": "warning",
}
EMPTY = '<span class="text-body-tertiary">—</span>'


def badge_html(label) -> str:
    colour = BADGES.get(str(label), "secondary")
    text = " text-dark" if colour in ("light", "warning", "info") else ""
    return f'<span class="badge text-bg-{colour}{text}">{escape(label)}</span>'


def cell_html(value, badge=False, url=None) -> str:
    """One table cell's HTML, escaped; built in Python because a list page renders
    hundreds of them and the template engine is slow at that."""
    if value is None or value == "":
        return EMPTY
    if isinstance(value, bool):
        return "✓" if value else "—"
    if isinstance(value, datetime.datetime):
        local = timezone.localtime(value)
        return (
            f'<time datetime="{value.isoformat()}" title="{local:%Y-%m-%d %H:%M}">'
            f"{local:%d %b %H:%M}</time>"
        )
    if badge:
        return badge_html(value)
    if url:
        return f'<a href="{escape(url)}">{escape(value)}</a>'
    return escape(value)


@dataclass(frozen=True)
class Column:
    name: str
    label: Any
    accessor: Any = None  # "a.b" path or callable(row); defaults to name
    sort: str | None = None  # db field to sort on (non-null), or None
    link: bool = False
    badge: bool = False
    html: Any = None  # callable(row) -> the cell's HTML (escaped by it) on pages

    def value(self, row):
        accessor = self.accessor or self.name
        if callable(accessor):
            return accessor(row)
        value = row
        for part in accessor.split("."):
            if value is None:
                return None
            value = getattr(value, part)
            if callable(value) and part.startswith("get_"):
                value = value()
        return value


class Table:
    """Subclasses set ``columns``, ``default_sort`` and ``select_related``."""

    columns: tuple = ()
    default_sort: str = "-id"
    select_related: tuple = ()

    def __init__(self):
        self.by_name = {c.name: c for c in self.columns}

    def sortable(self):
        return {c.name: c.sort for c in self.columns if c.sort}

    def _reader(self, model, column):
        """A fast value reader: choice labels from a dict made once, not per row."""
        accessor = column.accessor or column.name
        if (
            isinstance(accessor, str)
            and accessor.startswith("get_")
            and accessor.endswith("_display")
        ):
            field = model._meta.get_field(accessor[4:-8])
            labels = {k: str(v) for k, v in field.flatchoices}
            attname = field.attname
            return lambda row: labels.get(getattr(row, attname), getattr(row, attname))
        return column.value

    wrap = frozenset({"short_description", "name"})

    def render(self, rows, model):
        """The <tr> elements of a page of rows, as one piece of HTML."""
        url_of = _url_maker(model)
        readers = [
            (self._reader(model, c), c, ' class="wrap"' if c.name in self.wrap else "")
            for c in self.columns
        ]
        out = []
        for row in rows:
            url = url_of(row)
            cells = "".join(
                f"<td{css}>{c.html(row)}</td>"
                if c.html
                else f"<td{css}>{cell_html(read(row), c.badge, url if c.link else None)}</td>"
                for read, c, css in readers
            )
            out.append(f'<tr data-href="{escape(url or "")}">{cells}</tr>')
        return mark_safe("\n".join(out))  # noqa: S308  (every value escaped above)


def _url_maker(model):
    """row -> its page's URL, from one reverse() per page instead of one per row."""
    name = getattr(model, "detail_url_name", None)
    if name is None:
        return lambda row: row.get_absolute_url() if hasattr(row, "get_absolute_url") else None
    marker = 987654321
    pattern = reverse(name, args=[marker]).replace(str(marker), "{}")
    return lambda row: pattern.format(row.pk)
