"""The calendar list."""

from django.utils.translation import gettext_lazy as _

from accord.core.tables import Column, Table


def _hours(cal):
    seconds = sum(
        (int(b[:2]) * 60 + int(b[3:])) * 60 - (int(a[:2]) * 60 + int(a[3:])) * 60
        for day in (cal.weekly_hours or {}).values()
        for a, b in day
    )
    return f"{seconds / 3600:g} h"


class CalendarTable(Table):
    columns = (
        Column("name", _("Name"), sort="name", link=True),
        Column("time_zone", _("Time zone"), sort="time_zone"),
        Column("hours", _("Hours a week"), accessor=_hours),
        Column("holidays", _("Holidays"), accessor=lambda c: len(c.holiday_rows())),
    )
    default_sort = "name"
