"""What every process's reports share: the ``Table`` a report is (title, what it
shows, columns, rows, a total row), the number of months a report covers, checked,
and the calendar months it counts in (the user's time zone, this one included)."""

import datetime
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _

DEFAULT_MONTHS = 12
MAX_MONTHS = 120


@dataclass
class Table:
    key: str
    title: str
    explanation: str
    columns: list
    rows: list = field(default_factory=list)
    total: list | None = None

    @property
    def csv_rows(self):
        return [*self.rows, *([self.total] if self.total else [])]


def check_months(raw):
    """The number of months to report; ValidationError naming the field otherwise."""
    if raw in (None, ""):
        return DEFAULT_MONTHS
    try:
        value = int(str(raw).strip())
    except ValueError:
        value = None
    if value is None or not 1 <= value <= MAX_MONTHS:
        raise ValidationError(
            {"months": _("Months: enter a whole number from 1 to %(max)s.") % {"max": MAX_MONTHS}}
        )
    return value


def month_starts(months, now=None):
    """The first instants of the latest ``months`` calendar months (oldest first), in
    the current time zone."""
    today = timezone.localtime(now or timezone.now())
    year, month = today.year, today.month
    out = []
    for _i in range(months):
        out.append(timezone.make_aware(datetime.datetime(year, month, 1)))
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return out[::-1]
