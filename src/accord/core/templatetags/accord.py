"""Template helpers for tables, badges and record links."""

from django import template
from django.utils.safestring import mark_safe

from accord.core.tables import badge_html
from accord.core.views import record_url

register = template.Library()


@register.simple_tag
def badge(label):
    return mark_safe(badge_html(label))  # noqa: S308  (escaped in badge_html)


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
