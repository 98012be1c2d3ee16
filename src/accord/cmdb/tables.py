"""The CI list's table (page and CSV export)."""

from django.utils.translation import gettext_lazy as _

from accord.core.tables import Column, Table


class CITable(Table):
    columns = (
        Column("name", _("Name"), sort="name", link=True),
        Column("ci_type", _("Type"), accessor="ci_type.name"),
        Column("status", _("Status"), accessor="get_status_display", sort="status", badge=True),
        Column("criticality", _("Criticality"), accessor="get_criticality_display"),
        Column("owner", _("Owner")),
        Column("location", _("Location")),
        Column("serial", _("Serial number")),
        Column("updated", _("Updated"), sort="updated"),
    )
    default_sort = "name"
    select_related = ("ci_type", "owner", "location")
