"""Who is acting: the actor of every write, whatever the entry point.

Each entry point (web middleware, API view, background job, CLI command) opens an
``acting_as`` block; history rows and journal entries read the actor from here, so a
write made deep inside a domain action still knows who made it and through what.
"""

import contextvars
from contextlib import contextmanager
from dataclasses import dataclass


@dataclass(frozen=True)
class Actor:
    """The user (if any) behind a write and the channel it came through."""

    user: object | None
    via: str  # "web", "api", "job:<name>", "cli", "system"

    @property
    def user_id(self):
        user = self.user
        return user.pk if user is not None and getattr(user, "is_authenticated", False) else None

    @property
    def label(self) -> str:
        if self.user_id is not None:
            user = self.user
            full = user.get_full_name() if hasattr(user, "get_full_name") else ""
            return full or str(user.get_username())
        return self.via


SYSTEM = Actor(user=None, via="system")
_current: contextvars.ContextVar[Actor] = contextvars.ContextVar("accord_actor", default=SYSTEM)


def current_actor() -> Actor:
    return _current.get()


@contextmanager
def acting_as(user, via: str):
    token = _current.set(Actor(user=user, via=via))
    try:
        yield _current.get()
    finally:
        _current.reset(token)
