"""The business calendar engine: business-time arithmetic for SLA clocks.

Pure Python, no Django. A :class:`BusinessCalendar` has

* an IANA time zone (``zoneinfo``);
* weekly working intervals in local wall-clock time, ``{"mon": [("08:00", "12:00"),
  ("13:00", "17:00")], …, "sun": []}`` — several a day, ``"24:00"`` is midnight at the
  end of the day, a missing weekday has no hours; 24×7 is every day
  ``[("00:00", "24:00")]``;
* holidays, each a whole local day: single ``dates``, ``recurring`` (month, day) pairs
  that come back every year (29 February only in leap years) and inclusive date
  ``ranges``.

Rules
-----
Real time.
    Business time is real elapsed time (microsecond precision inside, whole seconds
    outside). Each local bound *D HH:MM* of an interval becomes an instant: **the first
    instant at which the local clock shows D HH:MM or later**. So an ordinary time is
    its one instant; a time that happens twice when the clock is set back is its first
    occurrence (``fold=0``); a time the clock skips when it is set forward is the
    instant of the jump. An interval spanning a change is therefore an hour shorter or
    longer (in Berlin 00:00–24:00 lasts 23 h in March and 25 h in October, 01:00–04:00
    lasts 2 h in March); an interval lying wholly inside the skipped hour is empty.
    ``"24:00"`` is 00:00 of the next day, under the same rule.
Working time.
    An instant is working time when it lies in an interval: start inclusive, end
    exclusive. A day is a working day when its weekday has hours and it is no holiday.
Pauses.
    ``pauses`` are ``(from, to)`` pairs of aware datetimes during which the clock
    stops; ``to=None`` means "until forever". They may overlap each other, lie partly or
    wholly outside working time, or be empty (``to <= from``: ignored); business time
    inside any pause does not count.
``between(start, end, pauses=())``
    The business seconds in ``[start, end)`` outside the pauses, rounded down to whole
    seconds; ``0`` when ``end <= start``.
``add(start, seconds, pauses=())`` with ``seconds > 0``
    **The earliest instant t with** ``between(start, t, pauses) == seconds``. So a
    start outside working time (or inside a pause) counts from the next opening (or the
    pause's end), and a deadline reached exactly at a closing time is that closing
    instant, not the next opening. ``None`` when an open-ended pause stops the clock
    before the deadline is reached (the deadline never comes).
``add(start, -seconds, pauses=())`` (counting backwards, for warnings before a deadline)
    **The earliest instant t <= start with** ``between(t, start, pauses) == seconds``.
    Counting back from ``start``; where the count completes strictly inside working
    time that is the result, and where it completes exactly at an opening (or at the
    end of a pause) the result moves back over the closed (or paused) time before it,
    to the previous closing instant (or the pause's start): 2 business hours before a
    Tuesday 10:00 deadline on 08:00–18:00 hours is Monday 18:00, not Tuesday 08:00.
``add(start, 0, pauses=())``
    ``start`` when the clock runs then (working time, no pause), else the next instant
    it runs: the next opening or the end of the pause (``None`` if that never comes).
``add_working_days(start, days, end_of_day=False)``
    Takes the start's local date and time of day in the calendar's zone, moves to the
    ``days``-th working day after (``days > 0``) or before (``days < 0``) that date,
    skipping non-working days and holidays — ``days == 0`` is the start's own date if it
    is a working day, else the next working day — and keeps the time of day (converted
    by the rule above). If that time is after the day's last closing, the result is
    that closing instant; with ``end_of_day=True`` it is always the day's last closing
    instant. A time before the day's opening is kept as it is.
Inputs and results.
    Inputs are aware datetimes in any zone; naive ones raise :class:`CalendarError`
    (a ``ValueError``). Results are aware datetimes in the calendar's zone, with
    ``fold`` set where the local time occurs twice. Two Python rules to mind with them
    (PEP 495): ``+``/``-`` of a timedelta on an aware datetime is wall-clock arithmetic
    within its zone, and a datetime inside a DST fold never compares equal to one in
    another zone — convert with ``.astimezone(UTC)`` before doing arithmetic or
    comparing across zones (Django stores them in UTC anyway).
No working time.
    A calendar without any hours returns ``0`` from ``between`` and ``False`` from
    ``is_working_time``; ``add`` and ``add_working_days`` raise :class:`CalendarError`
    at once (never an endless loop). A calendar whose every day is a holiday gives up
    after 200 years with the same error.

Speed
-----
Business intervals are kept in UTC microseconds per block of 64 local days: the
interval starts and ends, the cumulative business time at each end, and the block's
total (so a DST change only changes the totals of the blocks it falls in). ``between``
and ``add`` are a bisect in one or two blocks plus the totals of the blocks in between:
a 30-business-day deadline costs what a one-hour one costs, a few microseconds. The
first computation in a block builds it (about a millisecond); blocks are cached on the
calendar object, so build a calendar once per definition and keep it. The object
is never changed after construction other than through that cache, and sharing it
between threads is safe.
"""

from __future__ import annotations

import calendar as _stdcalendar
import re
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = ["WEEKDAYS", "BusinessCalendar", "CalendarError", "holidays_from_package"]

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_FULL_NAMES = {
    "monday": "mon",
    "tuesday": "tue",
    "wednesday": "wed",
    "thursday": "thu",
    "friday": "fri",
    "saturday": "sat",
    "sunday": "sun",
}
_HOLIDAY_KINDS = ("dates", "recurring", "ranges")

_US = 1_000_000  # microseconds per second
_DAY_S = 86_400
_DAY_US = _DAY_S * _US
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
_ONE_US = timedelta(microseconds=1)
_BLOCK_DAYS = 64
_MAX_SCAN_BLOCKS = 200 * 366 // _BLOCK_DAYS + 1  # give up after about 200 years
_MAX_SCAN_DAYS = 200 * 366
_CACHE_LIMIT = 4096  # blocks (about 700 years) kept per calendar
_FOREVER = 1 << 62  # the end of an open-ended pause, in microseconds
_HHMM = re.compile(r"\s*(\d{1,2}):(\d{2})\s*")


class CalendarError(ValueError):
    """A calendar definition or an argument is wrong.

    ``field`` names the part of the definition at fault — ``"timezone"``,
    ``"weekly_hours"`` or ``"holidays"`` — or is ``None`` for a bad argument to a
    computation (a naive datetime, a calendar without working time). ``key`` narrows it
    down where it can: the weekday (``"mon"``) or the holiday kind (``"dates"``,
    ``"recurring"``, ``"ranges"``).
    """

    def __init__(self, message, field=None, key=None):
        super().__init__(message)
        self.message = message
        self.field = field
        self.key = key


# --- parsing and validation -------------------------------------------------------
def _parse_zone(value):
    if isinstance(value, ZoneInfo):
        return value.key, value
    if isinstance(value, tzinfo):
        raise CalendarError(
            f"timezone: give an IANA zone name such as 'Europe/Berlin', not {value!r}",
            "timezone",
        )
    if not isinstance(value, str) or not value.strip():
        raise CalendarError(
            "timezone: an IANA zone name such as 'Europe/Berlin' is required", "timezone"
        )
    name = value.strip()
    try:
        return name, ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise CalendarError(f"timezone: unknown time zone {name!r}", "timezone")


def _format_seconds(seconds):
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h:02d}:{m:02d}" + (f":{s:02d}" if s else "")


def _parse_bound(value, day, number, which):
    """Seconds of the day (0..86400) of an interval bound."""
    where = f"weekly_hours: {day}, interval {number}"
    if isinstance(value, time):
        if value.tzinfo is not None:
            raise CalendarError(
                f"{where}: {which} must be a local time without a zone", "weekly_hours", day
            )
        return value.hour * 3600 + value.minute * 60 + value.second
    if not isinstance(value, str):
        raise CalendarError(
            f"{where}: {which} {value!r} is not a time in HH:MM form", "weekly_hours", day
        )
    match = _HHMM.fullmatch(value)
    if not match:
        raise CalendarError(
            f"{where}: {which} {value!r} is not a time in HH:MM form", "weekly_hours", day
        )
    hours, minutes = int(match.group(1)), int(match.group(2))
    if minutes > 59 or hours > 24 or (hours == 24 and minutes):
        raise CalendarError(
            f"{where}: {which} {value!r} is not a time of day (00:00 to 24:00)",
            "weekly_hours",
            day,
        )
    return hours * 3600 + minutes * 60


def _parse_weekly(weekly_hours):
    """A tuple of seven tuples (Monday first) of sorted (start, end) seconds of the day."""
    days = [() for _ in WEEKDAYS]
    if weekly_hours is None:
        return tuple(days)
    if not isinstance(weekly_hours, Mapping):
        raise CalendarError(
            "weekly_hours: expected a mapping of weekdays ('mon' … 'sun') to lists of "
            "(start, end) intervals",
            "weekly_hours",
        )
    seen = {}
    for raw_key, intervals in weekly_hours.items():
        key = raw_key.strip().lower() if isinstance(raw_key, str) else raw_key
        key = _FULL_NAMES.get(key, key)
        if key not in WEEKDAYS:
            raise CalendarError(
                f"weekly_hours: unknown weekday {raw_key!r} (use {', '.join(WEEKDAYS)})",
                "weekly_hours",
            )
        if key in seen:
            raise CalendarError(
                f"weekly_hours: {key} is given twice ({seen[key]!r} and {raw_key!r})",
                "weekly_hours",
                key,
            )
        seen[key] = raw_key
        if intervals is None:
            continue
        if isinstance(intervals, str | bytes) or not isinstance(intervals, Iterable):
            raise CalendarError(
                f"weekly_hours: {key}: expected a list of (start, end) intervals, "
                f"got {intervals!r}",
                "weekly_hours",
                key,
            )
        parsed = []
        for number, interval in enumerate(intervals, start=1):
            if isinstance(interval, str | bytes) or not isinstance(interval, Iterable):
                raise CalendarError(
                    f"weekly_hours: {key}, interval {number}: expected a (start, end) pair, "
                    f"got {interval!r}",
                    "weekly_hours",
                    key,
                )
            pair = tuple(interval)
            if len(pair) != 2:
                raise CalendarError(
                    f"weekly_hours: {key}, interval {number}: expected a (start, end) pair, "
                    f"got {interval!r}",
                    "weekly_hours",
                    key,
                )
            start = _parse_bound(pair[0], key, number, "start")
            end = _parse_bound(pair[1], key, number, "end")
            label = f"{_format_seconds(start)}–{_format_seconds(end)}"
            if start >= _DAY_S:
                raise CalendarError(
                    f"weekly_hours: {key}, interval {number} ({label}): 24:00 can only end "
                    "an interval",
                    "weekly_hours",
                    key,
                )
            if end == start:
                raise CalendarError(
                    f"weekly_hours: {key}, interval {number} ({label}) is empty",
                    "weekly_hours",
                    key,
                )
            if end < start:
                raise CalendarError(
                    f"weekly_hours: {key}, interval {number} ({label}) ends before it "
                    "starts (an interval cannot run past midnight; split it at 24:00)",
                    "weekly_hours",
                    key,
                )
            parsed.append((start, end, number, label))
        parsed.sort()
        merged = []
        for i, (start, end, number, label) in enumerate(parsed):
            if i and start < parsed[i - 1][1]:
                other = parsed[i - 1]
                first, second = sorted([(other[2], other[3]), (number, label)])
                raise CalendarError(
                    f"weekly_hours: {key}, intervals {first[0]} ({first[1]}) and "
                    f"{second[0]} ({second[1]}) overlap",
                    "weekly_hours",
                    key,
                )
            if merged and start == merged[-1][1]:
                merged[-1] = (merged[-1][0], end)  # touching intervals are one
            else:
                merged.append((start, end))
        days[WEEKDAYS.index(key)] = tuple(merged)
    return tuple(days)


def _parse_date(value, where):
    kind = where.split(" ", 1)[0]
    if isinstance(value, datetime):
        raise CalendarError(
            f"holidays: {where}: {value!r} is a datetime, not a date", "holidays", kind
        )
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise CalendarError(
        f"holidays: {where}: {value!r} is not a date (YYYY-MM-DD)",
        "holidays",
        kind,
    )


def _parse_month_day(value, where):
    pair = None
    if isinstance(value, str):
        match = re.fullmatch(r"\s*(\d{1,2})-(\d{1,2})\s*", value)
        if match:
            pair = (int(match.group(1)), int(match.group(2)))
    elif isinstance(value, Iterable) and not isinstance(value, bytes):
        pair = tuple(value)
    if (
        pair is None
        or len(pair) != 2
        or not all(isinstance(x, int) and not isinstance(x, bool) for x in pair)
    ):
        raise CalendarError(
            f"holidays: {where}: {value!r} is not a (month, day) pair", "holidays", "recurring"
        )
    month, day = pair
    if not 1 <= month <= 12 or not 1 <= day <= _stdcalendar.monthrange(2000, month)[1]:
        raise CalendarError(
            f"holidays: {where}: ({month}, {day}) is not a day of the year "
            "(month 1-12, a day that month has)",
            "holidays",
            "recurring",
        )
    return month, day


def _items(holidays, kind):
    values = holidays.get(kind)
    if values is None:
        return ()
    if isinstance(values, str | bytes) or not isinstance(values, Iterable):
        raise CalendarError(f"holidays: {kind} must be a list, got {values!r}", "holidays", kind)
    return values


def _parse_holidays(holidays):
    """(frozenset of dates, frozenset of (month, day), sorted merged ordinal ranges)."""
    if holidays is None:
        return frozenset(), frozenset(), ()
    if not isinstance(holidays, Mapping):
        raise CalendarError(
            "holidays: expected a mapping with 'dates', 'recurring' and 'ranges'", "holidays"
        )
    unknown = [k for k in holidays if k not in _HOLIDAY_KINDS]
    if unknown:
        raise CalendarError(
            f"holidays: unknown kind {unknown[0]!r} (use {', '.join(_HOLIDAY_KINDS)})",
            "holidays",
        )
    dates = frozenset(
        _parse_date(v, f"dates item {n}") for n, v in enumerate(_items(holidays, "dates"), 1)
    )
    recurring = frozenset(
        _parse_month_day(v, f"recurring item {n}")
        for n, v in enumerate(_items(holidays, "recurring"), 1)
    )
    ranges = []
    for n, value in enumerate(_items(holidays, "ranges"), 1):
        where = f"ranges item {n}"
        pair = (
            tuple(value)
            if isinstance(value, Iterable) and not isinstance(value, str | bytes)
            else ()
        )
        if len(pair) != 2:
            raise CalendarError(
                f"holidays: {where}: expected a (first day, last day) pair, got {value!r}",
                "holidays",
                "ranges",
            )
        first, last = _parse_date(pair[0], where), _parse_date(pair[1], where)
        if last < first:
            raise CalendarError(
                f"holidays: {where}: ends ({last.isoformat()}) before it starts "
                f"({first.isoformat()})",
                "holidays",
                "ranges",
            )
        ranges.append((first.toordinal(), last.toordinal()))
    ranges.sort()
    merged = []
    for first, last in ranges:
        if merged and first <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(merged[-1][1], last))
        else:
            merged.append((first, last))
    return dates, recurring, tuple(merged)


# --- the calendar -----------------------------------------------------------------
class BusinessCalendar:
    """Working hours and holidays in one time zone; see the module docstring."""

    def __init__(self, timezone="UTC", weekly_hours=None, holidays=None):
        self.timezone, self.tzinfo = _parse_zone(timezone)
        self._weekly = _parse_weekly(weekly_hours)
        self._holiday_dates, self._holiday_recurring, self._holiday_ranges = _parse_holidays(
            holidays
        )
        self._range_firsts = [first for first, _ in self._holiday_ranges]
        self._has_hours = any(self._weekly)
        self._blocks = {}

    def __repr__(self):
        hours = sum(end - start for day in self._weekly for start, end in day) / 3600
        return f"<BusinessCalendar {self.timezone} {hours:g} h/week>"

    # -- definition, normalized ----------------------------------------------------
    @property
    def weekly_hours(self):
        """The weekly hours as ``{"mon": [("08:00", "12:00"), …], …}`` (touching
        intervals joined)."""
        return {
            key: [(_format_seconds(s), _format_seconds(e)) for s, e in day]
            for key, day in zip(WEEKDAYS, self._weekly, strict=True)
        }

    @property
    def weekly_seconds(self):
        """Nominal business seconds in a week (no holidays, no DST change)."""
        return sum(end - start for day in self._weekly for start, end in day)

    def is_holiday(self, day):
        """True if the local date ``day`` is a holiday of any kind."""
        if day in self._holiday_dates or (day.month, day.day) in self._holiday_recurring:
            return True
        ordinal = day.toordinal()
        i = bisect_right(self._range_firsts, ordinal) - 1
        return i >= 0 and ordinal <= self._holiday_ranges[i][1]

    # -- conversions ---------------------------------------------------------------
    @staticmethod
    def _to_us(value):
        try:
            return (value - _EPOCH) // _ONE_US
        except TypeError:
            if isinstance(value, datetime):
                raise CalendarError(
                    f"a naive datetime ({value.isoformat()}) has no time zone; pass an aware "
                    "datetime (e.g. with tzinfo=UTC)"
                )
            raise CalendarError(f"expected an aware datetime, got {value!r}")

    def _from_us(self, us):
        seconds, micro = divmod(us, _US)
        result = datetime.fromtimestamp(seconds, self.tzinfo)
        return result.replace(microsecond=micro) if micro else result

    def _local_to_us(self, naive):
        """UTC microseconds of the first instant the local clock shows ``naive`` or later."""
        tz = self.tzinfo
        first = (naive.replace(tzinfo=tz) - _EPOCH) // _ONE_US
        second = (naive.replace(tzinfo=tz, fold=1) - _EPOCH) // _ONE_US
        if first <= second:
            return first  # an ordinary time, or the first of two occurrences
        # The clock skips ``naive``: find the jump, a whole second in (second, first].
        lo, hi = second // _US, -(-first // _US)
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if datetime.fromtimestamp(mid, tz).replace(tzinfo=None) >= naive:
                hi = mid
            else:
                lo = mid
        return hi * _US

    def _bound_us(self, day, seconds):
        return self._local_to_us(datetime(day.year, day.month, day.day) + timedelta(0, seconds))

    def _midnight(self, ordinal):
        """UTC µs of local midnight starting the date ``ordinal``, read with fold=0 and
        with fold=1 (equal unless midnight is skipped or repeated)."""
        tz = self.tzinfo
        try:
            naive = datetime.fromordinal(ordinal)
        except (ValueError, OverflowError):
            raise CalendarError("the computation runs outside the supported dates (years 1-9999)")
        return (
            (naive.replace(tzinfo=tz) - _EPOCH) // _ONE_US,
            (naive.replace(tzinfo=tz, fold=1) - _EPOCH) // _ONE_US,
        )

    def _compute_day(self, ordinal, midnight=None, next_midnight=None):
        day = _date_from_ordinal(ordinal)
        hours = self._weekly[day.weekday()]
        if not hours or self.is_holiday(day):
            return ()
        if midnight is None:
            midnight, next_midnight = self._midnight(ordinal), self._midnight(ordinal + 1)
        base = midnight[0]
        if (
            base == midnight[1]
            and next_midnight[0] == next_midnight[1]
            and next_midnight[0] - base == _DAY_US
        ):
            # An ordinary 24-hour day (the fast path while building blocks).
            return tuple((base + start * _US, base + end * _US) for start, end in hours)
        out = []
        for start, end in hours:
            s, e = self._bound_us(day, start), self._bound_us(day, end)
            if e > s:  # an interval inside a skipped hour is empty
                out.append((s, e))
        return tuple(out)

    def _block(self, k):
        """Block ``k``: the local dates with ordinals ``64k … 64k+63``, as a tuple
        (first instant, end instant, interval starts, interval ends, cumulative business
        µs at each end, total business µs)."""
        block = self._blocks.get(k)
        if block is None:
            block = self._build_block(k)
            if len(self._blocks) >= _CACHE_LIMIT:
                self._blocks.clear()
            self._blocks[k] = block
        return block

    def _build_block(self, k):
        first = k * _BLOCK_DAYS
        midnights = [None] * (_BLOCK_DAYS + 1)

        def midnight(i):
            if midnights[i] is None:
                midnights[i] = self._midnight(first + i)
            return midnights[i]

        bounds = []
        for i in (0, _BLOCK_DAYS):
            fold0, fold1 = midnight(i)
            bounds.append(
                fold0 if fold0 <= fold1 else self._bound_us(date.fromordinal(first + i), 0)
            )
        begin, end = bounds
        starts, ends = [], []
        weekly, is_holiday = self._weekly, self.is_holiday
        for i in range(_BLOCK_DAYS):
            day = date.fromordinal(first + i)
            if not weekly[day.weekday()] or is_holiday(day):
                continue
            for s, e in self._compute_day(first + i, midnight(i), midnight(i + 1)):
                if ends and s <= ends[-1]:
                    ends[-1] = max(ends[-1], e)  # touching (24x7, or across midnight)
                else:
                    starts.append(s)
                    ends.append(e)
        cumulative, total = [], 0
        for s, e in zip(starts, ends, strict=True):
            total += e - s
            cumulative.append(total)
        return begin, end, starts, ends, cumulative, total

    def _locate(self, t):
        """(k, block) of the block that holds instant ``t`` (UTC µs)."""
        k = (t // _DAY_US + _EPOCH_ORDINAL) // _BLOCK_DAYS
        block = self._blocks.get(k) or self._block(k)
        while t < block[0]:
            k -= 1
            block = self._block(k)
        while t >= block[1]:
            k += 1
            block = self._block(k)
        return k, block

    # -- business time without pauses ----------------------------------------------
    def _business(self, a, b):
        """Business µs in [a, b) for a <= b, pauses ignored."""
        ka, block_a = self._locate(a)
        starts = block_a[2]
        i = bisect_right(starts, a) - 1
        if i < 0:
            before_a = 0
        else:
            end = block_a[3][i]
            before_a = block_a[4][i] - (end - a if a < end else 0)
        if b < block_a[1]:
            block_b = block_a
            total = -before_a
        else:
            kb, block_b = self._locate(b)
            total = block_a[5] - before_a
            for k in range(ka + 1, kb):
                total += self._block(k)[5]
        i = bisect_right(block_b[2], b) - 1
        if i >= 0:
            end = block_b[3][i]
            total += block_b[4][i] - (end - b if b < end else 0)
        return total

    def _forward(self, t, r):
        """The earliest instant x with business µs in [t, x) == r > 0, pauses ignored."""
        k, block = self._locate(t)
        i = bisect_right(block[2], t) - 1
        target = r
        if i >= 0:
            end = block[3][i]
            target += block[4][i] - (end - t if t < end else 0)
        scanned = 0
        while target > block[5]:
            target -= block[5]
            k += 1
            scanned += 1
            if scanned > _MAX_SCAN_BLOCKS:
                raise CalendarError("the calendar has no working time in the next 200 years")
            block = self._block(k)
        cumulative = block[4]
        i = bisect_left(cumulative, target)
        return block[3][i] - (cumulative[i] - target)

    def _backward(self, t, r):
        """The earliest instant x with business µs in [x, t) == r >= 0, pauses ignored."""
        k, block = self._locate(t)
        i = bisect_right(block[2], t) - 1
        target = -r
        if i >= 0:
            end = block[3][i]
            target += block[4][i] - (end - t if t < end else 0)
        scanned = 0
        while target <= 0:
            k -= 1
            scanned += 1
            if scanned > _MAX_SCAN_BLOCKS:
                raise CalendarError("the calendar has no working time in the last 200 years")
            block = self._block(k)
            target += block[5]
        cumulative = block[4]
        i = bisect_left(cumulative, target)
        return block[3][i] - (cumulative[i] - target)

    def _next_open(self, t):
        """``t`` if it is working time, else the next opening."""
        k, block = self._locate(t)
        starts = block[2]
        i = bisect_right(starts, t) - 1
        if i >= 0 and t < block[3][i]:
            return t
        i += 1
        scanned = 0
        while i >= len(starts):
            k += 1
            scanned += 1
            if scanned > _MAX_SCAN_BLOCKS:
                raise CalendarError("the calendar has no working time in the next 200 years")
            block = self._block(k)
            starts = block[2]
            i = 0
        return starts[i]

    # -- pauses --------------------------------------------------------------------
    def _merge_pauses(self, pauses):
        """Sorted, disjoint (from, to) µs pairs; ``to`` of an open pause is _FOREVER."""
        if not isinstance(pauses, list | tuple):
            pauses = list(pauses)
        spans = []
        try:
            for start, end in pauses:
                s = (start - _EPOCH) // _ONE_US
                e = _FOREVER if end is None else (end - _EPOCH) // _ONE_US
                if e > s:
                    spans.append((s, e))
        except (TypeError, ValueError):
            spans = self._checked_pauses(pauses)  # raises with a message that says why
        if len(spans) < 2:
            return spans
        spans.sort()
        merged = [spans[0]]
        for s, e in spans:
            last_s, last_e = merged[-1]
            if s <= last_e:
                if e > last_e:
                    merged[-1] = (last_s, e)
            else:
                merged.append((s, e))
        return merged

    def _checked_pauses(self, pauses):
        spans = []
        for n, pause in enumerate(pauses, start=1):
            try:
                start, end = pause
            except (TypeError, ValueError):
                raise CalendarError(f"pause {n}: expected a (from, to) pair, got {pause!r}")
            if start is None:
                raise CalendarError(f"pause {n}: the start is required (only `to` may be None)")
            s = self._to_us(start)
            e = _FOREVER if end is None else self._to_us(end)
            if e > s:
                spans.append((s, e))
        return spans

    def _add_forward(self, t, r, pauses):
        for ps, pe in pauses:
            if pe <= t:
                continue
            if ps > t:
                available = self._business(t, ps)
                if available >= r:
                    return self._forward(t, r)
                r -= available
            if pe >= _FOREVER:
                return None
            t = pe
        return self._forward(t, r)

    def _add_backward(self, t, r, pauses):
        for ps, pe in reversed(pauses):
            if ps >= t:
                continue
            if pe < t:
                available = self._business(pe, t)
                if available > r:
                    return self._backward(t, r)
                r -= available
            t = ps
        return self._backward(t, r)

    def _next_running(self, t, pauses):
        while True:
            t = self._next_open(t)
            for ps, pe in pauses:
                if ps <= t < pe:
                    if pe >= _FOREVER:
                        return None
                    t = pe
                    break
            else:
                return t

    # -- public API ----------------------------------------------------------------
    def add(self, start, seconds, pauses=()):
        """The deadline ``seconds`` business seconds after ``start`` (before it, for
        negative ``seconds``), as an aware datetime in the calendar's zone; ``None`` if
        an open-ended pause stops the clock for good first. See the module docstring."""
        t = self._to_us(start)
        if type(seconds) is int:
            r = seconds * _US
        elif isinstance(seconds, timedelta):
            r = seconds // _ONE_US
        else:
            try:
                r = round(seconds * _US)
            except (TypeError, ValueError, OverflowError):
                raise CalendarError(f"seconds must be a number, got {seconds!r}")
        if not self._has_hours:
            raise CalendarError("the calendar has no working hours, so no deadline can be set")
        merged = self._merge_pauses(pauses) if pauses else ()
        if r > 0:
            result = self._add_forward(t, r, merged) if merged else self._forward(t, r)
        elif r < 0:
            result = self._add_backward(t, -r, merged) if merged else self._backward(t, -r)
        else:
            result = self._next_running(t, merged)
        if result is None:
            return None
        seconds_, micro = divmod(result, _US)
        out = datetime.fromtimestamp(seconds_, self.tzinfo)
        return out.replace(microsecond=micro) if micro else out

    def between(self, start, end, pauses=()):
        """Whole business seconds in ``[start, end)`` outside ``pauses``; 0 if
        ``end <= start``."""
        a = self._to_us(start)
        b = self._to_us(end)
        if b <= a or not self._has_hours:
            return 0
        total = self._business(a, b)
        if pauses:
            for ps, pe in self._merge_pauses(pauses):
                lo = ps if ps > a else a
                hi = pe if pe < b else b
                if lo < hi:
                    total -= self._business(lo, hi)
        return total // _US

    def is_working_time(self, at):
        """True if ``at`` lies in a working interval (start inclusive, end exclusive)."""
        t = self._to_us(at)
        if not self._has_hours:
            return False
        _, block = self._locate(t)
        i = bisect_right(block[2], t) - 1
        return i >= 0 and t < block[3][i]

    def is_working_day(self, day):
        """True if the local date ``day`` has working hours and is no holiday (an aware
        datetime stands for its local date in the calendar's zone)."""
        if isinstance(day, datetime):
            day = self._from_us(self._to_us(day)).date()
        elif not isinstance(day, date):
            raise CalendarError(f"expected a date, got {day!r}")
        return bool(self._weekly[day.weekday()]) and not self.is_holiday(day)

    def add_working_days(self, start, days, end_of_day=False):
        """``days`` working days after (before, if negative) ``start``, keeping its
        local time of day, clamped to that day's last closing; with ``end_of_day`` the
        day's last closing instant. See the module docstring."""
        local = self._from_us(self._to_us(start))
        if not self._has_hours:
            raise CalendarError("the calendar has no working hours, so it has no working days")
        if not isinstance(days, int) or isinstance(days, bool):
            raise CalendarError(f"days must be a whole number, got {days!r}")
        day = local.date()
        step = 1 if days >= 0 else -1
        remaining = abs(days)
        scanned = 0
        if days == 0:
            remaining, day = 1, day - timedelta(days=1)
        while remaining:
            day += timedelta(days=step)
            scanned += 1
            if scanned > _MAX_SCAN_DAYS:
                raise CalendarError("the calendar has no working days within 200 years")
            if self._weekly[day.weekday()] and not self.is_holiday(day):
                remaining -= 1
        closing = self._bound_us(day, self._weekly[day.weekday()][-1][1])
        if end_of_day:
            return self._from_us(closing)
        kept = self._local_to_us(datetime.combine(day, local.time()))
        return self._from_us(min(kept, closing))


def _date_from_ordinal(ordinal):
    try:
        return date.fromordinal(ordinal)
    except (ValueError, OverflowError):
        raise CalendarError("the computation runs outside the supported dates (years 1-9999)")


def holidays_from_package(country, years, subdiv=None, **options):
    """The public holidays of ``country`` (ISO 3166 code such as ``"DE"``; optional
    ``subdiv`` such as ``"BY"``) in ``years`` (an int or an iterable of ints), as a
    sorted list of dates, from the ``holidays`` package. ``options`` go to
    ``holidays.country_holidays`` (e.g. ``observed=False``, ``categories=…``).

    Raises :class:`CalendarError` (field ``"holidays"``) for an unknown country or
    subdivision."""
    import holidays as holidays_package

    year_list = [years] if isinstance(years, int) else sorted(set(years))
    if not year_list:
        return []
    country = str(country).strip().upper()
    subdiv = str(subdiv).strip().upper() if subdiv else None
    try:
        table = holidays_package.country_holidays(
            country, subdiv=subdiv, years=year_list, **options
        )
    except (NotImplementedError, ValueError, KeyError) as exc:
        if country not in holidays_package.list_supported_countries():
            message = f"holidays: no public holidays are known for the country {country!r}"
        elif subdiv:
            message = f"holidays: {country} has no subdivision {subdiv!r}"
        else:
            message = f"holidays: {exc}"
        raise CalendarError(message, "holidays")
    wanted = set(year_list)
    return sorted(day for day in table if day.year in wanted)
