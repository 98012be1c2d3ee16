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
