"""The calendar form: a time zone, one line of hours per weekday and one holiday per
line, each checked with a message that names the day or the line."""

import datetime
import re
import zoneinfo

from django import forms
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accord.core.forms import RecordForm

from .engine import WEEKDAYS, BusinessCalendar, CalendarError
from .models import Calendar

DAY_LABELS = dict(
    zip(
        WEEKDAYS,
        [
            gettext_lazy("Monday"),
            gettext_lazy("Tuesday"),
            gettext_lazy("Wednesday"),
            gettext_lazy("Thursday"),
            gettext_lazy("Friday"),
            gettext_lazy("Saturday"),
            gettext_lazy("Sunday"),
        ],
        strict=True,
    )
)
_INTERVAL = re.compile(r"^\s*(\d{1,2}:\d{2})\s*[-–]\s*(\d{1,2}:\d{2})\s*$")
_RANGE = re.compile(r"^(\d{4}-\d{2}-\d{2})\s*\.\.\s*(\d{4}-\d{2}-\d{2})(?:\s+(.*))?$")
_DATE = re.compile(r"^(\d{4}-\d{2}-\d{2})(?:\s+(.*))?$")
_RECURRING = re.compile(r"^(\d{2})-(\d{2})(?:\s+(.*))?$")
_YEARS = re.compile(r"^\s*(\d{4})\s*(?:[-–]\s*(\d{4}))?\s*$")


def zone_choices():
    return [(z, z) for z in sorted(zoneinfo.available_timezones())]


def hours_text(intervals):
    return ", ".join(f"{a}-{b}" for a, b in intervals)


def holidays_text(holidays):
    h = holidays or {}
    names = h.get("names", {})
    lines = []
    for d in h.get("dates", []):
        lines.append(f"{d} {names.get(d, '')}".strip())
    for m, d in h.get("recurring", []):
        key = f"{m:02d}-{d:02d}"
        lines.append(f"{key} {names.get(key, '')}".strip())
    for a, b in h.get("ranges", []):
        key = f"{a}..{b}"
        lines.append(f"{key} {names.get(key, '')}".strip())
    return "\n".join(sorted(lines))


def parse_holidays(text):
    """The holidays textarea -> the stored JSON; ValidationError naming the line."""
    out = {"dates": [], "recurring": [], "ranges": [], "names": {}}
    for number, raw in enumerate((text or "").splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        try:
            if m := _RANGE.match(line):
                a, b = (datetime.date.fromisoformat(x) for x in m.group(1, 2))
                if b < a:
                    raise ValueError(_("the range ends before it starts"))
                key, name = f"{a}..{b}", m.group(3)
                out["ranges"].append([a.isoformat(), b.isoformat()])
            elif m := _DATE.match(line):
                day = datetime.date.fromisoformat(m.group(1))
                key, name = day.isoformat(), m.group(2)
                out["dates"].append(key)
            elif m := _RECURRING.match(line):
                month, day = int(m.group(1)), int(m.group(2))
                datetime.date(2024, month, day)  # a leap year: 02-29 is a valid day
                key, name = f"{month:02d}-{day:02d}", m.group(3)
                out["recurring"].append([month, day])
            else:
                raise ValueError(
                    _(
                        "write a date (2026-12-24), a day every year (12-25) or a range "
                        "(2026-08-03..2026-08-14), then an optional name"
                    )
                )
        except ValueError as exc:
            raise forms.ValidationError(
                _("Line %(n)s (%(line)s): %(error)s") % {"n": number, "line": line, "error": exc}
            ) from exc
        if name:
            out["names"][key] = name.strip()[:100]
    return out


class CalendarForm(RecordForm):
    time_zone = forms.ChoiceField(label=gettext_lazy("Time zone"), choices=zone_choices)
    holidays_text = forms.CharField(
        label=gettext_lazy("Holidays"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 8, "class": "font-monospace"}),
        help_text=gettext_lazy(
            "One per line: a date (2026-12-24 Christmas Eve), a day every year "
            "(12-25 Christmas Day) or a range (2026-08-03..2026-08-14 Summer shutdown)."
        ),
    )
    import_country = forms.CharField(
        label=gettext_lazy("Add public holidays of country"),
        required=False,
        max_length=3,
        help_text=gettext_lazy("ISO code such as DE, GB, US; added to the list above."),
    )
    import_subdivision = forms.CharField(
        label=gettext_lazy("Region"),
        required=False,
        max_length=10,
        help_text=gettext_lazy("Optional, such as BY for Bavaria."),
    )
    import_years = forms.CharField(
        label=gettext_lazy("Years"),
        required=False,
        max_length=9,
        help_text=gettext_lazy("A year or a span: 2026 or 2026-2028."),
    )

    class Meta:
        model = Calendar
        fields = ["name", "description", "time_zone"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        hours = self.instance.weekly_hours or {}
        for day in WEEKDAYS:
            self.fields[f"hours_{day}"] = forms.CharField(
                label=DAY_LABELS[day],
                required=False,
                max_length=200,
                initial=hours_text(hours.get(day, [])),
                help_text=_("Closed") if day == "sun" else "",
            )
        self.fields["hours_sun"].help_text = gettext_lazy(
            "Working hours per day, such as 08:00-12:00, 13:00-17:00; 24:00 is midnight "
            "at the end of the day; empty means closed."
        )
        self.fields["holidays_text"].initial = holidays_text(self.instance.holidays)
        self.order_fields(
            ["name", "description", "time_zone"]
            + [f"hours_{d}" for d in WEEKDAYS]
            + ["holidays_text", "import_country", "import_subdivision", "import_years"]
        )

    def _clean_day(self, day):
        value = self.cleaned_data.get(f"hours_{day}", "")
        intervals = []
        for part in filter(None, (p.strip() for p in value.split(","))):
            m = _INTERVAL.match(part)
            if not m:
                self.add_error(
                    f"hours_{day}",
                    _("%(part)s is not an interval like 08:00-12:00.") % {"part": part},
                )
                return None
            intervals.append([m.group(1), m.group(2)])
        return intervals

    def clean(self):
        data = super().clean()
        weekly = {day: self._clean_day(day) for day in WEEKDAYS}
        try:
            holidays = parse_holidays(data.get("holidays_text", ""))
        except forms.ValidationError as exc:
            self.add_error("holidays_text", exc)
            holidays = None
        self._import_holidays(data, holidays)
        if self.errors or holidays is None or any(v is None for v in weekly.values()):
            return data
        try:
            BusinessCalendar(
                timezone=data.get("time_zone", "UTC"),
                weekly_hours={d: [tuple(i) for i in v] for d, v in weekly.items()},
                holidays=None,
            )
        except CalendarError as exc:
            target = f"hours_{exc.key}" if exc.field == "weekly_hours" and exc.key else None
            if exc.field == "timezone":
                target = "time_zone"
            self.add_error(target, exc.message)
            return data
        self.instance.weekly_hours = weekly
        self.instance.holidays = holidays
        return data

    def _import_holidays(self, data, holidays):
        country = (data.get("import_country") or "").strip().upper()
        years_text = (data.get("import_years") or "").strip()
        if not country and not years_text:
            return
        if not country:
            self.add_error("import_country", _("Name the country whose holidays to add."))
            return
        m = _YEARS.match(years_text)
        if not m:
            self.add_error("import_years", _("Give a year or a span such as 2026-2028."))
            return
        first, last = int(m.group(1)), int(m.group(2) or m.group(1))
        if last < first or last - first > 20:
            self.add_error("import_years", _("Give a span of at most 20 years, first to last."))
            return
        import holidays as holidays_package

        try:
            table = holidays_package.country_holidays(
                country,
                subdiv=(data.get("import_subdivision") or "").strip().upper() or None,
                years=range(first, last + 1),
            )
        except NotImplementedError:
            self.add_error(
                "import_country", _("No public holidays known for %(c)s.") % {"c": country}
            )
            return
        except ValueError as exc:
            self.add_error("import_subdivision", str(exc))
            return
        if holidays is None:
            return
        for day, name in sorted(table.items()):
            key = day.isoformat()
            if key not in holidays["dates"]:
                holidays["dates"].append(key)
                holidays["names"][key] = str(name)[:100]
