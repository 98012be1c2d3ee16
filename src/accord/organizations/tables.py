"""The customer table."""

from django.utils.translation import gettext_lazy as _

from accord.core.tables import Column, Table


class CustomerTable(Table):
    columns = (
        Column("name", _("Name"), sort="name", link=True),
        Column("code", _("Code"), sort="code"),
        Column("active", _("Active")),
    )
    default_sort = "name"
