"""The agreement list."""

from django.utils.translation import gettext_lazy as _

from accord.core.tables import Column, Table


class AgreementTable(Table):
    columns = (
        Column("name", _("Name"), sort="name", link=True),
        Column("kind", _("Kind"), accessor="get_kind_display", sort="kind"),
        Column("customer", _("Customer")),
        Column("status", _("Status"), accessor="get_status_display", sort="status", badge=True),
        Column("calendar", _("Calendar")),
        Column("valid_from", _("Valid from"), sort="valid_from"),
        Column("valid_to", _("Valid to")),
        Column("review_date", _("Next review")),
    )
    default_sort = "name"
    select_related = ("customer", "calendar")
