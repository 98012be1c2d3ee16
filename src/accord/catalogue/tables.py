"""The service catalogue table."""

from django.utils.translation import gettext_lazy as _

from accord.core.tables import Column, Table


class ServiceTable(Table):
    columns = (
        Column("name", _("Name"), sort="name", link=True),
        Column("status", _("Status"), accessor="get_status_display", sort="status", badge=True),
        Column("owner", _("Owner")),
        Column("support_team", _("Support team")),
        Column("service_hours", _("Service hours")),
    )
    default_sort = "name"
    select_related = ("owner", "support_team", "service_hours")
