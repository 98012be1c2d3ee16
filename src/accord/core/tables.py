"""Table declarations for list pages and CSV exports.

A Table names its columns; each Column reads a value from a row (attribute path or
callable), may be sortable on a non-null database field, and may link to the row.
"""

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Column:
    name: str
    label: Any
    accessor: Any = None  # "a.b" path or callable(row); defaults to name
    sort: str | None = None  # db field to sort on (non-null), or None
    link: bool = False
    badge: bool = False

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
