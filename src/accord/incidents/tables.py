"""Queue tables of incidents and service requests."""

from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accord.core.tables import EMPTY, Column, Table, escape

from .models import NO_DEADLINE


def _span(seconds):
    minutes = int(seconds) // 60
    days, minutes = divmod(minutes, 1440)
    hours, minutes = divmod(minutes, 60)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes:02d}m"
    return f"{minutes}m"


def due_value(row):
    """The earliest running SLA deadline (for exports), or None."""
    return row.sla_due if row.sla_due != NO_DEADLINE and row.is_open else None


def due_html(row):
    """Due in / overdue, at a glance; the exact time on hover."""
    due = due_value(row)
    if due is None:
        if row.sla_breached:
            return '<span class="badge text-bg-danger">' + escape(_("breached")) + "</span>"
        return EMPTY
    left = (due - timezone.now()).total_seconds()
    local = timezone.localtime(due)
    when = f'<time datetime="{due.isoformat()}" title="{local:%Y-%m-%d %H:%M}">'
    if left < 0:
        return (
            f'{when}<span class="badge text-bg-danger">'
            f"{escape(_('overdue'))} {_span(-left)}</span></time>"
        )
    css = "text-warning-emphasis fw-semibold" if left < 3600 else ""
    return f'{when}<span class="{css}">{escape(_("in"))} {_span(left)}</span></time>'


class TicketTable(Table):
    columns = (
        Column("number", _("Number"), sort="number", link=True),
        Column(
            "priority", _("Priority"), accessor="get_priority_display", sort="priority", badge=True
        ),
        Column("short_description", _("Short description"), link=True),
        Column("customer", _("Customer")),
        Column("service", _("Service")),
        Column("status", _("Status"), accessor="get_status_display", badge=True),
        Column("assignment_team", _("Team")),
        Column("assignee", _("Assigned to")),
        Column("due", _("Due"), accessor=due_value, sort="sla_due", html=due_html),
        Column("updated", _("Updated"), sort="updated"),
        Column("created", _("Created"), sort="created"),
    )
    default_sort = "priority"
    select_related = ("customer", "service", "assignment_team", "assignee")


class CustomerTicketTable(TicketTable):
    """What a customer user's list shows: their records, without internal assignment."""

    columns = tuple(
        c for c in TicketTable.columns if c.name not in ("customer", "assignment_team", "assignee")
    )
    select_related = ("service",)
