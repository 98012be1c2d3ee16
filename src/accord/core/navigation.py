"""The main menu: apps register their entries in ``AppConfig.ready()``."""

from dataclasses import dataclass

from django.urls import reverse
from django.utils.translation import gettext_lazy as _


@dataclass(frozen=True)
class MenuItem:
    key: str
    label: str
    url_name: str
    order: int
    staff_only: bool = False
    group: str = ""

    @property
    def url(self):
        return reverse(self.url_name)


@dataclass(frozen=True)
class MenuGroup:
    """Entries shown together under one heading (a drop-down in the menu bar)."""

    key: str
    label: str
    items: tuple

    @property
    def order(self):
        return self.items[0].order


_items: dict[str, MenuItem] = {}
_groups: dict[str, str] = {}


def register(key, label, url_name, order=100, staff_only=False, group=""):
    """An entry of the main menu; ``group`` names a heading made with ``register_group``
    that gathers it with related entries."""
    _items[key] = MenuItem(key, _(label), url_name, order, staff_only, group)


def register_group(key, label):
    _groups[key] = _(label)


def menu_for(scope):
    if scope is None:
        return []
    return sorted(
        (i for i in _items.values() if not (i.staff_only and scope.is_customer)),
        key=lambda i: i.order,
    )


def menu_bar(menu):
    """The menu as the bar shows it: entries, and groups of entries in the place of
    their first one. A group with a single entry the user may see is that entry."""
    grouped, bar = {}, []
    for item in menu:
        if item.group and item.group in _groups:
            if item.group not in grouped:
                grouped[item.group] = []
                bar.append(item.group)
            grouped[item.group].append(item)
        else:
            bar.append(item)
    out = []
    for entry in bar:
        if isinstance(entry, MenuItem):
            out.append(entry)
        elif len(grouped[entry]) == 1:
            out.append(grouped[entry][0])
        else:
            out.append(MenuGroup(entry, _groups[entry], tuple(grouped[entry])))
    return out


def absolute_url(path):
    """A page's address as users reach it (``ACCORD_BASE_URL``), for emails."""
    from django.conf import settings

    return f"{settings.BASE_URL}{path}" if path.startswith("/") else path
