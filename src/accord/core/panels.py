"""Sections other apps add to a record's page: ``register(Base, func)`` where
``func(record, user)`` returns a dict with ``template`` (and the template's own
values) or None when it has nothing to show for that record."""

_panels: list = []


def register(base, func):
    _panels.append((base, func))


def panels_for(record, user):
    out = []
    for base, func in _panels:
        if isinstance(record, base):
            panel = func(record, user)
            if panel:
                out.append(panel)
    return out


# Additions to the form that creates a record of a model, e.g. the known errors
# suggested while an incident is logged: ``register_form(Model, func)`` where
# ``func(user)`` returns a dict with ``template`` (included after the form), or None.
_form_additions: list = []


def register_form(base, func):
    _form_additions.append((base, func))


def form_additions_for(model, user):
    out = []
    for base, func in _form_additions:
        if issubclass(model, base):
            addition = func(user)
            if addition:
                out.append(addition)
    return out
