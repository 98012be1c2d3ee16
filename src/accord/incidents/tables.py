"""Queue tables of incidents and service requests."""

from django.utils.translation import gettext_lazy as _

from accord.core.tables import Column, Table


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
