"""Template helpers for tables, badges and record links."""

import datetime

from django import template
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import mark_safe

from accord.core.views import record_url

register = template.Library()

BADGES = {
    "P1 - Critical": "danger",
    "P2 - High": "warning",
    "P3 - Moderate": "info",
    "P4 - Low": "secondary",
    "P5 - Planning": "light",
    "New": "primary",
    "Assigned": "info",
    "In progress": "warning",
    "Pending customer": "secondary",
    "Pending supplier": "secondary",
    "Pending change": "secondary",
    "Resolved": "success",
    "Closed": "dark",
    "Cancelled": "light",
    "Live": "success",
    "Pipeline": "info",
    "Retired": "secondary",
}


@register.simple_tag
def cell(column, row):
    value = column.value(row)
    if value is None or value == "":
        return mark_safe('<span class="text-body-tertiary">—</span>')  # noqa: S308
    if isinstance(value, bool):
        return "✓" if value else "—"
    if isinstance(value, datetime.datetime):
        local = timezone.localtime(value)
        return format_html(
            '<time datetime="{}" title="{}">{}</time>',
            value.isoformat(),
            local.strftime("%Y-%m-%d %H:%M"),
            local.strftime("%d %b %H:%M"),
        )
    if column.badge:
        return badge(value)
    if column.link and hasattr(row, "get_absolute_url"):
        return format_html('<a href="{}">{}</a>', row.get_absolute_url(), value)
    return str(value)


@register.simple_tag
def badge(label):
    colour = BADGES.get(str(label), "secondary")
    text = "text-dark" if colour in ("light", "warning", "info") else ""
    return format_html('<span class="badge text-bg-{} {}">{}</span>', colour, text, label)


@register.filter
def search_url(entry):
    return record_url(entry)


@register.filter
def verbose_type(entry):
    return entry.content_type.model_class()._meta.verbose_name.capitalize()


@register.filter
def get_item(mapping, key):
    return mapping.get(key)


@register.filter
def bs(field, size=""):
    """Render a form field's widget with Bootstrap's classes."""
    widget = field.field.widget
    kind = getattr(widget, "input_type", None)
    if kind in ("checkbox", "radio"):
        css = "form-check-input"
    elif widget.__class__.__name__ in ("Select", "SelectMultiple", "NullBooleanSelect"):
        css = "form-select"
    else:
        css = "form-control"
    if size:
        css += (
            f" {css.split('-')[0]}-{css.split('-')[1]}-{size}"
            if kind not in ("checkbox", "radio")
            else ""
        )
    attrs = {"class": css}
    if field.errors:
        attrs["class"] += " is-invalid"
        attrs["aria-describedby"] = f"{field.auto_id}_errors"
    return field.as_widget(attrs=attrs)
