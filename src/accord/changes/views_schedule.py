"""The forward schedule of changes: a calendar by week or by month (blackout windows
and conflicts marked), its iCalendar feed for calendar programs, and the change
management reports.

Every view reads the changes through ``actions.schedule_window`` (or the reports'
``restrict``), so a user sees only the changes of the customers they serve. Days are
the user's own: a change from 22:00 to 02:00 their time is on two days.

The feed accepts, besides a signed-in session, an API token in the Authorization
header or, because calendar programs subscribe by address alone, as ``?token=`` in
the address: that parameter is read here and nowhere else, and the feed then holds
what the token's user may see.
"""

import datetime
from collections import defaultdict
from dataclasses import dataclass, field
from typing import NamedTuple
from urllib.parse import urlencode, urlsplit

from django import forms
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Q
from django.http import HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views import View

from accord.catalogue.models import Service
from accord.core.exports import stream_csv
from accord.core.forms import key_of
from accord.core.navigation import absolute_url
from accord.core.policy import can, restrict, scope_for
from accord.core.rows import fetch_one
from accord.core.tables import escape
from accord.core.views import StaffOnlyMixin
from accord.users.models import ApiToken, Team, hash_token

from . import actions, ical, reports
from .choices import ConflictKind, Kind, RiskClass, Status
from .models import BlackoutWindow, Change, Conflict

WEEK, MONTH = "week", "month"
VIEWS = (WEEK, MONTH)
# Changes listed in one day of the month view; the rest are behind "n more" (the week).
MONTH_DAY_LIMIT = 6
# A week's day lists every change up to this many (a busy quarter has hundreds a day).
WEEK_DAY_LIMIT = 200
MAX_FEED_DAYS = 400
YEARS = (1970, 2999)  # dates outside are refused rather than overflowing the arithmetic
ONE_DAY = datetime.timedelta(days=1)
CONFLICT_LABELS = dict(ConflictKind.choices)


# --- parameters -------------------------------------------------------------------------
class ScheduleFilterForm(forms.Form):
    """Which changes: by service, team or configuration item (all optional)."""

    service = forms.ModelChoiceField(
        label=gettext_lazy("Service"), queryset=Service.objects.none(), required=False
    )
    team = forms.ModelChoiceField(
        label=gettext_lazy("Team"), queryset=Team.objects.all(), required=False
    )
    ci = forms.CharField(
        label=gettext_lazy("Configuration item"),
        required=False,
        max_length=200,
        help_text=gettext_lazy("Its name or id."),
    )

    def __init__(self, data, user):
        super().__init__(data)
        self.user = user
        self.fields["service"].queryset = restrict(Service.objects.all(), user)
        self.fields["service"].empty_label = _("Every service")
        self.fields["team"].empty_label = _("Every team")

    def clean_ci(self):
        from accord.cmdb.models import ConfigurationItem

        value = (self.cleaned_data.get("ci") or "").strip()
        if not value:
            return []
        cis = restrict(ConfigurationItem.objects.all(), self.user)
        condition = Q(name=value)
        if key_of(value) is not None:
            condition |= Q(pk=key_of(value))
        found = list(cis.filter(condition)[:20])
        if not found:
            raise ValidationError(
                _("No configuration item “%(value)s” that you may see.") % {"value": value[:200]}
            )
        return found

    def window_filters(self):
        data = self.cleaned_data
        return {
            "services": [data["service"]] if data.get("service") else None,
            "teams": [data["team"]] if data.get("team") else None,
            "cis": data.get("ci") or None,
        }

    def query(self):
        """The filters as they were given, for links that keep them."""
        return {k: self.data[k] for k in ("service", "team", "ci") if self.data.get(k)}

    def messages(self):
        """Each error as "<parameter>: <message>"."""
        return [f"{name}: {' '.join(errors)}" for name, errors in self.errors.items()]


def parse_day(raw, name):
    """A calendar date (YYYY-MM-DD); ValidationError naming the parameter."""
    try:
        day = datetime.date.fromisoformat((raw or "").strip())
    except ValueError:
        day = None
    if day is None or not YEARS[0] <= day.year <= YEARS[1]:
        raise ValidationError(
            {
                name: _(
                    "%(name)s: give a date as YYYY-MM-DD (years %(low)s to %(high)s), "
                    "not “%(value)s”."
                )
                % {"name": name, "low": YEARS[0], "high": YEARS[1], "value": str(raw)[:40]}
            }
        )
    return day


def local_midnight(day):
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time.min))


def parse_bound(raw, name, *, end=False):
    """A feed bound: a date (the start of that day in the user's time zone; for the
    end, the start of the next day, so the day is included) or a date and time
    (ISO 8601; without an offset it is in the user's time zone)."""
    text = (raw or "").strip()
    if len(text) <= 10:
        day = parse_day(text, name)
        return local_midnight(day + ONE_DAY if end else day)
    try:
        value = datetime.datetime.fromisoformat(text)
    except ValueError:
        value = None
    if value is None or not YEARS[0] <= value.year <= YEARS[1]:
        raise ValidationError(
            {
                name: _(
                    "%(name)s: give a date (YYYY-MM-DD) or a date and time "
                    "(YYYY-MM-DDTHH:MM, with an offset or in your time zone), not “%(value)s”."
                )
                % {"name": name, "value": text[:40]}
            }
        )
    return value if timezone.is_aware(value) else timezone.make_aware(value)


def quarter_of(day):
    """The first days of the quarter holding ``day`` and of the next one."""
    first = datetime.date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)
    month = first.month + 3
    after = datetime.date(first.year + (month > 12), (month - 1) % 12 + 1, 1)
    return first, after


def feed_window(params):
    """[start, end) of the feed from ``from``/``to`` (default: this quarter)."""
    today = timezone.localdate()
    first, after = quarter_of(today)
    start = parse_bound(params["from"], "from") if params.get("from") else local_midnight(first)
    end = parse_bound(params["to"], "to", end=True) if params.get("to") else None
    if end is None:
        end = local_midnight(after) if not params.get("from") else start + 92 * ONE_DAY
    if end <= start:
        raise ValidationError({"to": _("to: the end must be after the start (from).")})
    if end - start > MAX_FEED_DAYS * ONE_DAY:
        raise ValidationError(
            {"to": _("to: a feed covers at most %(days)s days.") % {"days": MAX_FEED_DAYS}}
        )
    return start, end


# --- the calendar grid ------------------------------------------------------------------
class Slot(NamedTuple):
    """What the grid shows of a change (read as a plain row: a month holds hundreds)."""

    pk: int
    number: str
    short_description: str
    kind: str
    status: str
    planned_start: datetime.datetime
    planned_end: datetime.datetime
    conflict_override: str
    team: str | None


KEYS_PER_QUERY = 5000  # within SQLite's parameter limit


def window_rows(start, end, user, filters, fields, order, **annotations):
    """The changes in [start, end) the user may see, as rows of ``fields`` sorted by
    the fields at the positions ``order``. Their keys first (through
    ``actions.schedule_window``, whose DISTINCT then covers the key alone), then the
    rows by key: index lookups, rather than a DISTINCT over every column read (a
    feed reads each change's description) or a join the planner may make a scan."""
    keys = list(
        actions.schedule_window(start, end, user=user, **filters)
        .order_by()
        .values_list("pk", flat=True)
    )
    rows = []
    for at in range(0, len(keys), KEYS_PER_QUERY):
        rows += (
            Change.objects.filter(pk__any=keys[at : at + KEYS_PER_QUERY])
            .annotate(**annotations)
            .order_by()
            .values_list(*fields)
        )
    rows.sort(key=lambda row: tuple(row[i] for i in order))
    return rows


SLOT_FIELDS = (
    "pk",
    "number",
    "short_description",
    "kind",
    "status",
    "planned_start",
    "planned_end",
    "conflict_override",
    "assignment_team__name",
)


def window_changes(start, end, user, filters):
    rows = window_rows(start, end, user, filters, SLOT_FIELDS, (5, 1))
    return [Slot(*row) for row in rows]


@dataclass
class Entry:
    """A change on one day of the grid."""

    change: Slot
    part: str  # whole, first, middle or last (a change over several days)
    start: datetime.datetime  # local
    end: datetime.datetime
    conflicts: list = field(default_factory=list)
    html: str = ""


class EntryHtml:
    """Each entry's list item as HTML, built here rather than in the template: a
    month shows hundreds, and the template engine (with a translated label looked up
    per use) is slow at that. Labels and the page address are worked out once."""

    def __init__(self, view):
        self.view = view
        self.kinds = {k: str(v) for k, v in Kind.choices} | {Kind.STANDARD: _("Standard")}
        self.statuses = {k: str(v) for k, v in Status.choices}
        self.since, self.until = _("from %(time)s"), _("until %(time)s")
        self.all_day = _("all day (continued)")
        self.conflict, self.accepted = _("Conflict"), _("Conflict accepted")
        marker = 987654321
        self.head, self.tail = reverse("changes:detail", args=[marker]).split(str(marker))

    def time_text(self, entry):
        if entry.part == "whole":
            return f"{entry.start:%H:%M}–{entry.end:%H:%M}"
        if entry.part == "first":
            return self.since % {"time": f"{entry.start:%H:%M}"}
        if entry.part == "last":
            return self.until % {"time": f"{entry.end:%H:%M}"}
        return self.all_day

    def __call__(self, entry):
        change = entry.change
        meta = [self.kinds.get(change.kind, change.kind), self.statuses.get(change.status, "")]
        if self.view == WEEK and change.team:
            meta.append(change.team)
        classes = f"chg kind-{escape(change.kind)}"
        conflict = ""
        if entry.conflicts:
            classes += " has-conflict"
            accepted = bool((change.conflict_override or "").strip())
            badge = "text-bg-warning text-dark" if accepted else "text-bg-danger"
            conflict = (
                f'<div class="chg-conflict"><span class="badge {badge}">'
                '<i class="bi bi-exclamation-triangle-fill" aria-hidden="true"></i> '
                f"{escape(self.accepted if accepted else self.conflict)}</span>"
                '<span class="visually-hidden">: </span> <span class="conflict-kinds">'
                f"{escape('; '.join(entry.conflicts))}</span></div>"
            )
        return (
            f'<li class="{classes}"><a href="{self.head}{change.pk}{self.tail}" '
            f'class="chg-link"><span class="chg-number">{escape(change.number)}</span> '
            f"{escape(change.short_description)}</a>"
            f'<div class="chg-meta"><time datetime="{change.planned_start.isoformat()}">'
            f"{escape(self.time_text(entry))}</time> · {escape(' · '.join(meta))}</div>"
            f"{conflict}</li>"
        )


@dataclass
class Day:
    date: datetime.date
    in_range: bool = True  # false for the neighbouring month's days of a month view
    today: bool = False
    entries: list = field(default_factory=list)
    more: int = 0
    blackouts: list = field(default_factory=list)
    week_url: str = ""

    @property
    def iso(self):
        return self.date.isoformat()


def grid_span(view, anchor):
    """The first and last day shown: the ISO week (Monday first) holding ``anchor``,
    or the whole weeks covering its month."""
    if view == WEEK:
        first = anchor - datetime.timedelta(days=anchor.weekday())
        return first, first + datetime.timedelta(days=6)
    month_first = anchor.replace(day=1)
    next_month = (month_first + 32 * ONE_DAY).replace(day=1)
    first = month_first - datetime.timedelta(days=month_first.weekday())
    last_day = next_month - ONE_DAY
    last = last_day + datetime.timedelta(days=6 - last_day.weekday())
    return first, last


def build_days(view, anchor, changes, blackouts, conflicts):
    first, last = grid_span(view, anchor)
    today = timezone.localdate()
    days = {}
    current = first
    while current <= last:
        in_range = view == WEEK or current.month == anchor.month
        days[current] = Day(current, in_range=in_range, today=current == today)
        current += ONE_DAY
    limit = MONTH_DAY_LIMIT if view == MONTH else WEEK_DAY_LIMIT
    for change in changes:
        start = timezone.localtime(change.planned_start)
        end = timezone.localtime(change.planned_end)
        first_day = start.date()
        # An end at midnight does not reach into that day.
        last_day = (end - datetime.timedelta(microseconds=1)).date()
        day = max(first_day, first)
        while day <= min(last_day, last):
            slot = days[day]
            if len(slot.entries) < limit:
                if first_day == last_day:
                    part = "whole"
                elif day == first_day:
                    part = "first"
                elif day == last_day:
                    part = "last"
                else:
                    part = "middle"
                slot.entries.append(
                    Entry(change, part, start, end, sorted(conflicts.get(change.pk, ())))
                )
            else:
                slot.more += 1
            day += ONE_DAY
    for window in blackouts:
        start = timezone.localtime(window.starts_at).date()
        end = timezone.localtime(window.ends_at - datetime.timedelta(microseconds=1)).date()
        day = max(start, first)
        while day <= min(end, last):
            days[day].blackouts.append(window)
            day += ONE_DAY
    ordered = list(days.values())
    return [ordered[i : i + 7] for i in range(0, len(ordered), 7)]


def conflicts_among(ids):
    """{change id: conflict labels} for the changes ``ids``: their own conflicts, and
    for a change another one overlaps, that overlap (both must be among ``ids``, so
    nothing is said about a change the user may not see)."""
    out = defaultdict(set)
    if not ids:
        return out
    wanted = set(ids)
    labels = {k: str(v) for k, v in CONFLICT_LABELS.items()}
    rows = Conflict.objects.filter(Q(change_id__any=ids) | Q(other_id__any=ids)).values_list(
        "change_id", "other_id", "kind"
    )
    for change_id, other_id, kind in rows:
        label = labels.get(kind, kind)
        if change_id in wanted and (other_id is None or other_id in wanted):
            out[change_id].add(label)
        if other_id in wanted and change_id in wanted:
            out[other_id].add(label)
    return out


def blackouts_between(start, end, user, services=None):
    found = restrict(BlackoutWindow.objects.all(), user).filter(
        starts_at__lt=end, ends_at__gt=start
    )
    if services:
        found = found.filter(Q(services__isnull=True) | Q(services__in=services)).distinct()
    return list(found.prefetch_related("services").order_by("starts_at", "pk"))


class ScheduleView(StaffOnlyMixin, LoginRequiredMixin, View):
    """The forward schedule: ``view`` (week or month), ``date`` (a day it shows;
    today by default), and the filters."""

    template_name = "changes/schedule_calendar.html"

    def get(self, request):
        user = request.user
        if not can(user, "view", Change):
            raise PermissionDenied
        form = ScheduleFilterForm(request.GET, user)
        view = request.GET.get("view") or WEEK
        errors = []
        if view not in VIEWS:
            errors.append(_("view: choose week or month, not “%(v)s”.") % {"v": view[:20]})
            view = WEEK
        anchor = timezone.localdate()
        if request.GET.get("date"):
            try:
                anchor = parse_day(request.GET["date"], "date")
            except ValidationError as exc:
                errors.append(exc.message_dict["date"][0])
        if not form.is_valid():
            errors += form.messages()
        context = {
            "title": _("Forward schedule of changes"),
            "form": form,
            "view": view,
            "anchor": anchor,
            "errors": errors,
        }
        if errors:
            context["weeks"] = []
            return render(request, self.template_name, context, status=400)
        filters = form.window_filters()
        first, last = grid_span(view, anchor)
        start, end = local_midnight(first), local_midnight(last + ONE_DAY)
        changes = window_changes(start, end, user, filters)
        blackouts = blackouts_between(start, end, user, filters["services"])
        conflicts = conflicts_among([c.pk for c in changes])
        weeks = build_days(view, anchor, changes, blackouts, conflicts)
        keep = form.query()
        nav = self.navigation(view, anchor, keep)
        render_entry = EntryHtml(view)
        for week in weeks:
            for day in week:
                day.week_url = nav["link"](view=WEEK, date=day.iso)
                for entry in day.entries:
                    entry.html = mark_safe(render_entry(entry))  # noqa: S308 - escaped above
        context.update(
            weeks=weeks,
            count=len(changes),
            conflicted=sum(1 for c in changes if c.pk in conflicts),
            heading=self.heading(view, anchor, first, last),
            nav=nav,
            feed=self.feed_links(request, keep),
            now=timezone.now(),
        )
        return render(request, self.template_name, context)

    @staticmethod
    def heading(view, anchor, first, last):
        if view == MONTH:
            return date_format(anchor, "F Y")
        return _("Week %(n)s: %(first)s to %(last)s") % {
            "n": first.isocalendar()[1],
            "first": date_format(first, "j F"),
            "last": date_format(last, "j F Y"),
        }

    @staticmethod
    def navigation(view, anchor, keep):
        if view == WEEK:
            previous, following = anchor - 7 * ONE_DAY, anchor + 7 * ONE_DAY
        else:
            previous = (anchor.replace(day=1) - ONE_DAY).replace(day=1)
            following = (anchor.replace(day=1) + 32 * ONE_DAY).replace(day=1)

        def link(**changes):
            params = {**keep, "view": view, **changes}
            return "?" + urlencode({k: v for k, v in params.items() if v})

        out = {
            "previous": link(date=previous.isoformat()),
            "next": link(date=following.isoformat()),
            "today": link(date=""),
            "week": link(view=WEEK, date=anchor.isoformat()),
            "month": link(view=MONTH, date=anchor.isoformat()),
            "link": link,
        }
        if not YEARS[0] <= previous.year:
            out["previous"] = None
        if not following.year <= YEARS[1]:
            out["next"] = None
        return out

    @staticmethod
    def feed_links(request, keep):
        path = reverse("changes:schedule_ics")
        query = urlencode(keep)
        download = path + ("?" + query if query else "")
        subscribe = absolute_url(path) + "?" + urlencode({**keep, "token": "YOUR-TOKEN"})
        return {"download": download, "subscribe": subscribe, "profile": reverse("profile")}


# --- the iCalendar feed -----------------------------------------------------------------
class FeedRefused(Exception):
    def __init__(self, status, message):
        super().__init__(message)
        self.status = status
        self.message = message


def feed_user(request):
    """Who asks for the feed: an API token (header, else ``?token=``), else the
    signed-in session. FeedRefused (401) for a token that does not hold."""
    header = request.headers.get("Authorization", "").split()
    key = None
    if header:
        if header[0].lower() not in ("token", "bearer") or len(header) != 2:
            raise FeedRefused(401, _("Authorization: give “Token <key>”."))
        key = header[1]
    elif "token" in request.GET:
        key = request.GET["token"]
    if key is None:
        user = request.user
        if not user.is_authenticated:
            raise FeedRefused(
                401,
                _(
                    "Sign in, or give an API token: as “Authorization: Token <key>” or, "
                    "for a calendar program, as ?token=<key> in the address."
                ),
            )
        return user
    token = fetch_one(ApiToken, "digest", hash_token(key.strip()), join="user")
    if token is None or not token.user.is_active:
        raise FeedRefused(401, _("token: invalid or revoked API token."))
    if token.expires and token.expires <= timezone.now():
        raise FeedRefused(401, _("token: this API token has expired."))
    return token.user


def _plain(status, message, **headers):
    response = HttpResponse(message + "\n", status=status, content_type="text/plain; charset=utf-8")
    for name, value in headers.items():
        response[name] = value
    return response


class ScheduleFeedView(View):
    """``schedule.ics``: the changes (and blackout windows) of [from, to) the user may
    see, as iCalendar; the same filters as the schedule page."""

    def get(self, request):
        try:
            user = feed_user(request)
        except FeedRefused as exc:
            return _plain(exc.status, exc.message, **{"WWW-Authenticate": "Token"})
        scope = scope_for(user)
        if scope is None or scope.is_customer or not can(user, "view", Change):
            return _plain(403, _("The change schedule is for the provider's staff."))
        # Bounds without an offset, and the day lists, are in the reader's time zone.
        with timezone.override(getattr(user, "time_zone", None) or timezone.get_current_timezone()):
            form = ScheduleFilterForm(request.GET, user)
            try:
                start, end = feed_window(request.GET)
            except ValidationError as exc:
                return _plain(400, " ".join(m for ms in exc.message_dict.values() for m in ms))
            if not form.is_valid():
                return _plain(400, " ".join(form.messages()))
            filters = form.window_filters()
            text = self.render_feed(user, start, end, filters)
        response = HttpResponse(text, content_type="text/calendar; charset=utf-8")
        response["Content-Disposition"] = 'inline; filename="changes.ics"'
        response["Cache-Control"] = "private, no-cache"
        response["Vary"] = "Authorization, Cookie"
        response["X-Content-Type-Options"] = "nosniff"
        return response

    @staticmethod
    def render_feed(user, start, end, filters):
        """The feed's text: changes read as plain rows (a quarter holds thousands),
        their services in one query, labels and addresses worked out once."""
        host = urlsplit(absolute_url("/")).hostname or "accord"
        rows = window_rows(
            start,
            end,
            user,
            filters,
            (
                "pk",
                "number",
                "short_description",
                "description",
                "kind",
                "status",
                "risk_class",
                "assignment_team__name",
                "start_text",
                "end_text",
                "updated_text",
                "version",
            ),
            (8, 1),  # UTC text in this form sorts as the instants do
            start_text=ical.UtcText("planned_start"),
            end_text=ical.UtcText("planned_end"),
            updated_text=ical.UtcText("updated"),
        )
        services = defaultdict(list)
        through = Change.services.through
        for change_id, name in (
            through.objects.filter(change_id__any=[row[0] for row in rows])
            .order_by("service__name")
            .values_list("change_id", "service__name")
        ):
            services[change_id].append(name)
        kinds, statuses = dict(Kind.choices), dict(Status.choices)
        kinds = {k: str(v) for k, v in kinds.items()} | {Kind.STANDARD: _("Standard")}
        statuses = {k: str(v) for k, v in statuses.items()}
        risks = {k: str(v) for k, v in RiskClass.choices}
        # One reverse() for the address pattern; the key is put in by text.
        marker = 987654321
        pattern = absolute_url(reverse("changes:detail", args=[marker]))
        head, tail = pattern.split(str(marker))
        text = ical.ChangeText()
        events = []
        for pk, number, short, body, kind, status, risk, team, start_at, end_at, up, v in rows:
            row = ical.ChangeRow(
                number=number,
                short_description=short,
                description=body,
                kind=kinds.get(kind, kind),
                status=status,
                status_label=statuses.get(status, status),
                risk=risks.get(risk, ""),
                team=team or "",
                services=tuple(services.get(pk, ())),
                start=start_at,
                end=end_at,
                updated=up,
                version=v,
                url=f"{head}{pk}{tail}",
            )
            events.append(ical.change_event(row, host=host, text=text))
        for window in blackouts_between(start, end, user, filters["services"]):
            events.append(
                ical.blackout_event(
                    window, host=host, services=sorted(s.name for s in window.services.all())
                )
            )
        return ical.calendar(events, name=_("Accord changes"))


# --- reports ----------------------------------------------------------------------------
class ReportsView(StaffOnlyMixin, LoginRequiredMixin, View):
    """The change management reports (ISO/IEC 20000 9.2.4) over what the user may see;
    ``?months=`` sets how many months the monthly ones cover, ``?export=<report>``
    gives one as CSV."""

    template_name = "changes/report_list.html"

    def get(self, request):
        user = request.user
        if not can(user, "view", Change):
            raise PermissionDenied
        raw = request.GET.get("months", "")
        try:
            months = reports.check_months(raw)
        except ValidationError as exc:
            return self.refused(request, exc.message_dict["months"][0], raw)
        export = request.GET.get("export")
        if export:
            build = reports.REPORTS.get(export)
            if build is None:
                return self.refused(
                    request,
                    _("export: there is no report “%(name)s”.") % {"name": export[:50]},
                    raw,
                )
            table = build(user, months)
            return stream_csv(
                f"changes-{table.key}.csv",
                table.columns,
                ([str(c) for c in r] for r in table.csv_rows),
            )
        return render(
            request,
            self.template_name,
            {
                "title": _("Change management reports"),
                "tables": reports.all_reports(user, months),
                "months": months,
                "max_months": reports.MAX_MONTHS,
            },
        )

    def refused(self, request, message, months=""):
        return render(
            request,
            self.template_name,
            {
                "title": _("Change management reports"),
                "tables": [],
                "error": message,
                "months": str(months)[:10],
                "max_months": reports.MAX_MONTHS,
            },
            status=400,
        )
