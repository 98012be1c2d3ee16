"""The change and release lists' tables (page and CSV export)."""

from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accord.core.tables import EMPTY, Column, Table, escape

RISK_COLOURS = {"low": "success", "medium": "warning", "high": "danger"}


def _time(value):
    local = timezone.localtime(value)
    return f'<time datetime="{value.isoformat()}">{local:%Y-%m-%d %H:%M}</time>'


def slot_text(row):
    if row.planned_start is None:
        return ""
    start = timezone.localtime(row.planned_start)
    if row.planned_end is None:
        return f"{start:%Y-%m-%d %H:%M}"
    end = timezone.localtime(row.planned_end)
    same_day = start.date() == end.date()
    return (
        f"{start:%Y-%m-%d %H:%M} – {end:%H:%M}"
        if same_day
        else f"{start:%Y-%m-%d %H:%M} – {end:%Y-%m-%d %H:%M}"
    )


def slot_html(row):
    """The planned slot: start – end (the end's date only when it differs)."""
    if row.planned_start is None:
        return EMPTY
    if row.planned_end is None:
        return _time(row.planned_start)
    end = timezone.localtime(row.planned_end)
    if timezone.localtime(row.planned_start).date() == end.date():
        tail = f'<time datetime="{row.planned_end.isoformat()}">{end:%H:%M}</time>'
    else:
        tail = _time(row.planned_end)
    return f"{_time(row.planned_start)} – {tail}"


def risk_text(row):
    if not row.risk_class:
        return ""
    label = row.get_risk_class_display()
    return f"{label} ({row.risk_score})" if row.risk_score is not None else str(label)


def risk_html(row):
    if not row.risk_class:
        return EMPTY
    colour = RISK_COLOURS.get(row.risk_class, "secondary")
    text = " text-dark" if colour == "warning" else ""
    return f'<span class="badge text-bg-{colour}{text}">{escape(risk_text(row))}</span>'


class ChangeTable(Table):
    columns = (
        Column("number", _("Number"), sort="number", link=True),
        Column("short_description", _("Short description"), link=True),
        Column("kind", _("Kind"), accessor="get_kind_display"),
        Column("status", _("Status"), accessor="get_status_display", badge=True),
        Column("risk", _("Risk"), accessor=risk_text, html=risk_html),
        Column("planned", _("Planned"), accessor=slot_text, html=slot_html),
        Column("assignment_team", _("Team")),
        Column("updated", _("Updated"), sort="updated"),
    )
    default_sort = "-number"
    select_related = ("assignment_team",)


def _services_text(row):
    return ", ".join(s.name for s in row.services.all())


def _services_html(row):
    names = _services_text(row)
    return escape(names) if names else EMPTY


class ReleaseTable(Table):
    """The release list (its services come prefetched, one query per page)."""

    columns = (
        Column("number", _("Number"), sort="number", link=True),
        Column("short_description", _("Name"), link=True),
        Column("release_version", _("Version")),
        Column("kind", _("Kind"), accessor="get_kind_display"),
        Column("status", _("Status"), accessor="get_status_display", badge=True),
        Column("services", _("Services"), accessor=_services_text, html=_services_html),
        Column("manager", _("Release manager")),
        Column("deployed_at", _("Deployed")),
        Column("updated", _("Updated"), sort="updated"),
    )
    default_sort = "-number"
    select_related = ("manager",)
