"""A business calendar as stored: the definition the engine computes with.

The weekly hours and holidays are kept as JSON in the engine's own shape, so what an
administrator saved is exactly what the clocks use; saving validates it through the
engine. ``calendar()`` gives the engine object, kept per process for each version.
"""

import datetime

from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _

from accord.core.policy import OWNER_EDITED
from accord.core.records import DetailPage, Record

from .engine import WEEKDAYS, BusinessCalendar, CalendarError

DEFAULT_HOURS = {day: [["08:00", "18:00"]] if day in WEEKDAYS[:5] else [] for day in WEEKDAYS}
EMPTY_HOLIDAYS = {"dates": [], "recurring": [], "ranges": [], "names": {}}

_engines: dict = {}


def _default_hours():
    return {day: [list(i) for i in hours] for day, hours in DEFAULT_HOURS.items()}


def _empty_holidays():
    return {key: type(value)() for key, value in EMPTY_HOLIDAYS.items()}


class Calendar(DetailPage, Record):
    """Working hours and holidays in one time zone."""

    name = models.CharField(_("name"), max_length=100, unique=True)
    description = models.TextField(_("description"), blank=True, max_length=2000)
    time_zone = models.CharField(_("time zone"), max_length=64, default="UTC")
    weekly_hours = models.JSONField(_("weekly hours"), default=_default_hours)
    # {"dates": ["2026-12-24"], "recurring": [[12, 25]], "ranges": [["2026-08-03",
    # "2026-08-14"]], "names": {"2026-12-24": "Christmas Eve", "12-25": "Christmas"}}
    holidays = models.JSONField(_("holidays"), default=_empty_holidays)

    permissions = OWNER_EDITED

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name

    detail_url_name = "calendars:calendar_detail"

    def engine_holidays(self):
        h = self.holidays or {}
        return {
            "dates": [datetime.date.fromisoformat(d) for d in h.get("dates", [])],
            "recurring": [tuple(md) for md in h.get("recurring", [])],
            "ranges": [
                (datetime.date.fromisoformat(a), datetime.date.fromisoformat(b))
                for a, b in h.get("ranges", [])
            ],
        }

    def build(self) -> BusinessCalendar:
        return BusinessCalendar(
            timezone=self.time_zone,
            weekly_hours={d: [tuple(i) for i in v] for d, v in (self.weekly_hours or {}).items()},
            holidays=self.engine_holidays(),
        )

    def calendar(self) -> BusinessCalendar:
        """The engine for this calendar (kept per process for each version)."""
        key = (self.pk, self.version, self.updated)
        engine = _engines.get(key)
        if engine is None:
            engine = self.build()
            if len(_engines) > 200:
                _engines.clear()
            _engines[key] = engine
        return engine

    def clean(self):
        try:
            self.build()
        except CalendarError as exc:
            field = {"timezone": "time_zone"}.get(exc.field, exc.field) or "__all__"
            raise ValidationError({field: exc.message}) from exc
        except (TypeError, ValueError) as exc:
            raise ValidationError({"holidays": str(exc)}) from exc

    def holiday_rows(self):
        """(when, name) for display, in date order."""
        h = self.holidays or {}
        names = h.get("names", {})
        rows = [(d, names.get(d, "")) for d in h.get("dates", [])]
        rows += [
            (f"{m:02d}-{d:02d} (every year)", names.get(f"{m:02d}-{d:02d}", ""))
            for m, d in h.get("recurring", [])
        ]
        rows += [(f"{a}..{b}", names.get(f"{a}..{b}", "")) for a, b in h.get("ranges", [])]
        return sorted(rows)
