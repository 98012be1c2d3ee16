"""The problem list's table (page and CSV export)."""

from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accord.core.tables import EMPTY, Column, Table, escape


def target_html(row):
    """The target date; past it (and still open) it is flagged as overdue."""
    if row.target_date is None:
        return EMPTY
    text = f'<time datetime="{row.target_date.isoformat()}">{row.target_date:%Y-%m-%d}</time>'
    if row.is_open and row.target_date < timezone.localdate():
        return f'{text} <span class="badge text-bg-danger">{escape(_("overdue"))}</span>'
    return text


class ProblemTable(Table):
    columns = (
        Column("number", _("Number"), sort="number", link=True),
        Column("short_description", _("Short description"), link=True),
        Column("status", _("Status"), accessor="get_status_display", badge=True),
        Column(
            "priority", _("Priority"), accessor="get_priority_display", sort="priority", badge=True
        ),
        Column("owner", _("Problem owner")),
        Column("assignment_team", _("Team")),
        Column("target_date", _("Target date"), html=target_html),
        Column("updated", _("Updated"), sort="updated"),
    )
    default_sort = "priority"
    select_related = ("owner", "assignment_team")
