"""Helpers for the test suites of every app."""


def form_data(form):
    """What the browser would post back for an unbound form, as plain strings."""
    data = {}
    for name in form.fields:
        value = form[name].value()
        data[name] = "" if value is None else value
    return data
