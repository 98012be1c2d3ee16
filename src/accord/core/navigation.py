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

    @property
    def url(self):
        return reverse(self.url_name)


_items: dict[str, MenuItem] = {}


def register(key, label, url_name, order=100, staff_only=False):
    _items[key] = MenuItem(key, _(label), url_name, order, staff_only)


def menu_for(scope):
    if scope is None:
        return []
    return sorted(
        (i for i in _items.values() if not (i.staff_only and scope.is_customer)),
        key=lambda i: i.order,
    )


def absolute_url(path):
    """A page's address as users reach it (``ACCORD_BASE_URL``), for emails."""
    from django.conf import settings

    return f"{settings.BASE_URL}{path}" if path.startswith("/") else path
