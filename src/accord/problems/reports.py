"""Problem management reports: open problems by age and priority, known errors by
service, incidents served by known errors per month, problems resolved per month,
and the time from logging a problem to knowing its root cause.

Each report is a ``Table`` (title, what it shows, columns, rows, a total row) built
from the records the user may see (``restrict``); counts come from GROUP BY queries.
Months are calendar months in the user's time zone, the latest ``months`` of them,
this one included.
"""

import datetime
import statistics

from django.db.models import Case, Count, Exists, IntegerField, OuterRef, Q, Value, When
from django.db.models.functions import TruncMonth
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accord.core.policy import restrict
from accord.core.reports import DEFAULT_MONTHS, Table, month_starts
from accord.core.reports import MAX_MONTHS as MAX_MONTHS
from accord.core.reports import check_months as check_months
from accord.incidents.choices import Priority
from accord.incidents.models import Incident

from .choices import KnownErrorStatus
from .models import KnownError, KnownErrorUse, Problem

# (upper bound in days, label): a problem logged less than that long ago.
AGE_BANDS = [
    (7, gettext_lazy("Under a week")),
    (30, gettext_lazy("1 week to 1 month")),
    (90, gettext_lazy("1 to 3 months")),
    (180, gettext_lazy("3 to 6 months")),
    (365, gettext_lazy("6 to 12 months")),
    (None, gettext_lazy("Over a year")),
]


def _month_label(start):
    return start.strftime("%Y-%m")


def _by_month(pairs, starts):
    """{month label: n} from (month start, n) pairs, every month of ``starts`` present."""
    counts = {_month_label(s): 0 for s in starts}
    for month, n in pairs:
        if month is None:
            continue
        label = _month_label(timezone.localtime(month))
        if label in counts:
            counts[label] += n
    return counts


# --- the reports ------------------------------------------------------------------------
def open_by_age(user, now=None):
    now = now or timezone.now()
    whens = []
    for index, (days, _label) in enumerate(AGE_BANDS):
        if days is not None:
            whens.append(When(created__gt=now - datetime.timedelta(days=days), then=Value(index)))
    band = Case(*whens, default=Value(len(AGE_BANDS) - 1), output_field=IntegerField())
    counts = {}
    rows = (
        restrict(Problem.objects.filter(is_open=True), user)
        .annotate(band=band)
        .values_list("band", "priority")
        .annotate(n=Count("pk"))
        .order_by()
    )
    for b, priority, n in rows:
        counts[(b, priority)] = counts.get((b, priority), 0) + n
    priorities = list(Priority)
    table = Table(
        "open_by_age",
        _("Open problems by age and priority"),
        _("Problems not yet closed, cancelled or accepted, by how long ago they were logged."),
        [_("Age"), *[f"P{p.value}" for p in priorities], _("Total")],
    )
    totals = [0] * (len(priorities) + 1)
    for index, (_days, label) in enumerate(AGE_BANDS):
        cells = [counts.get((index, p.value), 0) for p in priorities]
        cells.append(sum(cells))
        totals = [a + b for a, b in zip(totals, cells, strict=True)]
        table.rows.append([str(label), *cells])
    table.total = [_("Total"), *totals]
    return table


def known_errors_by_service(user):
    statuses = list(KnownErrorStatus)
    visible = restrict(KnownError.objects.all(), user)
    rows = (
        visible.values_list("services__id", "services__name", "status")
        .annotate(n=Count("pk", distinct=True))
        .order_by()
    )
    per_service = {}
    for service_id, name, status, n in rows:
        entry = per_service.setdefault(service_id, {"name": name, "counts": {}})
        entry["counts"][status] = entry["counts"].get(status, 0) + n
    table = Table(
        "known_errors_by_service",
        _("Known errors by service"),
        _(
            "A known error that names several services is counted under each; the total "
            "counts each known error once."
        ),
        [_("Service"), *[str(s.label) for s in statuses], _("Total")],
    )
    named = sorted(
        (e for k, e in per_service.items() if k is not None), key=lambda e: e["name"].lower()
    )
    if None in per_service:
        named.append({"name": _("No service"), "counts": per_service[None]["counts"]})
    for entry in named:
        cells = [entry["counts"].get(s.value, 0) for s in statuses]
        table.rows.append([entry["name"], *cells, sum(cells)])
    totals = dict(visible.values_list("status").annotate(n=Count("pk")).order_by())
    cells = [totals.get(s.value, 0) for s in statuses]
    table.total = [_("All known errors"), *cells, sum(cells)]
    return table


def workaround_uses_by_month(user, months=DEFAULT_MONTHS, now=None):
    starts = month_starts(months, now)
    # A use counts when the user may see both its incident and its known error (one
    # index seek each per use).
    uses = KnownErrorUse.objects.filter(
        Exists(restrict(Incident.objects.filter(pk=OuterRef("incident_id")), user)),
        Exists(restrict(KnownError.objects.filter(pk=OuterRef("known_error_id")), user)),
        applied_at__gte=starts[0],
    )
    applied = _by_month(
        uses.annotate(month=TruncMonth("applied_at"))
        .values_list("month")
        .annotate(n=Count("pk"))
        .order_by(),
        starts,
    )
    incidents = _by_month(
        uses.annotate(month=TruncMonth("applied_at"))
        .values_list("month")
        .annotate(n=Count("incident", distinct=True))
        .order_by(),
        starts,
    )
    table = Table(
        "workarounds_by_month",
        _("Incidents served by known errors, per month"),
        _(
            "Workarounds of known errors applied to incidents, by the month they were "
            "applied; an incident helped by two known errors counts once as an incident."
        ),
        [_("Month"), _("Workarounds applied"), _("Incidents")],
    )
    for label in applied:
        table.rows.append([label, applied[label], incidents[label]])
    table.total = [
        _("Total"),
        sum(applied.values()),
        uses.values("incident").distinct().count(),
    ]
    return table


def resolved_by_month(user, months=DEFAULT_MONTHS, now=None):
    starts = month_starts(months, now)
    resolved = restrict(Problem.objects.filter(resolved_at__gte=starts[0]), user)
    counts = _by_month(
        resolved.annotate(month=TruncMonth("resolved_at"))
        .values_list("month")
        .annotate(n=Count("pk"))
        .order_by(),
        starts,
    )
    table = Table(
        "resolved_by_month",
        _("Problems resolved per month"),
        _(
            "Problems fixed by a change, by the month they were resolved (a problem reopened "
            "since counts when it is resolved again)."
        ),
        [_("Month"), _("Problems resolved")],
        rows=[[label, n] for label, n in counts.items()],
    )
    table.total = [_("Total"), sum(counts.values())]
    return table


def _days(delta):
    return round(delta.total_seconds() / 86400, 1)


def time_to_root_cause(user, months=DEFAULT_MONTHS, now=None):
    starts = month_starts(months, now)
    found = restrict(
        Problem.objects.filter(root_cause_at__gte=starts[0]).filter(~Q(root_cause_at=None)), user
    ).values_list("created", "root_cause_at")
    per_month = {_month_label(s): [] for s in starts}
    for created, known in found.iterator(chunk_size=2000):
        label = _month_label(timezone.localtime(known))
        if label in per_month:
            per_month[label].append(max(known - created, datetime.timedelta(0)))
    table = Table(
        "time_to_root_cause",
        _("Time from problem logged to root cause known"),
        _(
            "Problems whose root cause became known in each month: how many, and the mean "
            "and median time in days from logging the problem to knowing its cause."
        ),
        [_("Month"), _("Problems"), _("Mean (days)"), _("Median (days)")],
    )

    def cells(spans):
        if not spans:
            return [0, "—", "—"]
        mean = sum(spans, datetime.timedelta(0)) / len(spans)
        return [len(spans), _days(mean), _days(statistics.median(spans))]

    for label, spans in per_month.items():
        table.rows.append([label, *cells(spans)])
    every = [s for spans in per_month.values() for s in spans]
    table.total = [_("All %(n)s months") % {"n": months}, *cells(every)]
    return table


def all_reports(user, months=DEFAULT_MONTHS, now=None):
    return [
        open_by_age(user, now),
        known_errors_by_service(user),
        workaround_uses_by_month(user, months, now),
        resolved_by_month(user, months, now),
        time_to_root_cause(user, months, now),
    ]


REPORTS = {
    "open_by_age": lambda user, months: open_by_age(user),
    "known_errors_by_service": lambda user, months: known_errors_by_service(user),
    "workarounds_by_month": workaround_uses_by_month,
    "resolved_by_month": resolved_by_month,
    "time_to_root_cause": time_to_root_cause,
}
