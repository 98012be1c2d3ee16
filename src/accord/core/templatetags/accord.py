"""Template helpers for tables, badges and record links."""

from django import forms, template
from django.utils.html import escape
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
def split(text):
    return str(text).split()


@register.filter
def field(form, name):
    """A bound field of a form by name (for forms laid out field by field)."""
    return form[name]


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
    if isinstance(widget, forms.Select) and not type(widget).template_name.endswith("radio.html"):
        fast = _select_html(field, widget, attrs)
        if fast is not None:
            return fast
    return field.as_widget(attrs=attrs)


def _select_html(field, widget, attrs):
    """A select built in Python: Django renders each <option> through a template, which
    made the filter panel the slowest part of a queue page. None for grouped choices
    (left to Django)."""
    chosen = set(widget.format_value(field.value()))
    options = []
    for value, label in widget.choices:
        if isinstance(label, list | tuple):
            return None
        value = "" if value is None else str(value)
        mark = " selected" if value in chosen else ""
        options.append(f'<option value="{escape(value)}"{mark}>{escape(label)}</option>')
    extra = {**widget.attrs, **attrs, "name": field.html_name}
    if field.auto_id:
        extra["id"] = field.auto_id
    if widget.allow_multiple_selected:
        extra["multiple"] = True
    if field.field.required and not widget.allow_multiple_selected:
        extra["required"] = True
    if field.field.disabled:
        extra["disabled"] = True
    attr_html = "".join(
        f" {name}" if v is True else f' {name}="{escape(v)}"'
        for name, v in extra.items()
        if v not in (None, False)
    )
    return mark_safe(f"<select{attr_html}>{''.join(options)}</select>")  # noqa: S308
