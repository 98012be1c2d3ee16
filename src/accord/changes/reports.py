"""Change management reports (ISO/IEC 20000 9.2.4): changes implemented per month by
kind and outcome with the success rate and the share of emergency changes, changes
followed by incidents on the CIs they touched, lead time, and the backlog of open
changes by status and age.

Each report is a ``Table`` built from the changes (and incidents) the user may see
(``restrict``). Months are calendar months in the user's time zone, the latest
``months`` of them, this one included; a change counts in the month its
implementation finished (``actual_end``).
"""

import datetime
import statistics
from collections import defaultdict
from dataclasses import dataclass

from django.contrib.contenttypes.models import ContentType
from django.db.models import Case, Count, IntegerField, Value, When
from django.db.models.functions import TruncMonth
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accord.core.policy import restrict
from accord.core.reports import MAX_MONTHS, Table, check_months, month_starts
from accord.incidents.models import Incident

from .choices import OPEN_STATUSES, Kind, Outcome
from .models import Change, ChangeSettings

__all__ = ["MAX_MONTHS", "REPORTS", "all_reports", "check_months"]

LIST_LIMIT = 50  # changes followed by incidents listed on the page (the CSV has all)
AGE_BANDS = [
    (7, gettext_lazy("Under a week")),
    (30, gettext_lazy("1 week to 1 month")),
    (90, gettext_lazy("1 to 3 months")),
    (None, gettext_lazy("Over 3 months")),
]
NONE = "—"


@dataclass
class Link:
    """A cell that links to a record's page (its text alone in the CSV)."""

    text: str
    url: str

    def __str__(self):
        return self.text


def caused_incident_days():
    return ChangeSettings.get().caused_incident_days


def _label(value):
    return timezone.localtime(value).strftime("%Y-%m")


def _percent(part, whole):
    return f"{100 * part / whole:.1f}%" if whole else NONE


def _days(delta):
    return round(delta.total_seconds() / 86400, 1)


def _mean(spans):
    return _days(sum(spans, datetime.timedelta(0)) / len(spans)) if spans else NONE


def _implemented(user, since):
    return restrict(Change.objects.filter(actual_end__gte=since), user)


# --- the reports ------------------------------------------------------------------------
def by_month(user, months=12, now=None):
    starts = month_starts(months, now)
    labels = [_label(s) for s in starts]
    counts = defaultdict(int)  # (month, kind or outcome) -> n
    rows = (
        _implemented(user, starts[0])
        .annotate(month=TruncMonth("actual_end"))
        .values_list("month", "kind", "outcome")
        .annotate(n=Count("pk"))
        .order_by()
    )
    for month, kind, outcome, n in rows:
        label = _label(month)
        counts[(label, kind)] += n
        counts[(label, outcome or "")] += n
        counts[(label, "all")] += n
    kinds, outcomes = list(Kind), list(Outcome)
    table = Table(
        "by_month",
        _("Changes implemented per month, by kind and outcome"),
        _(
            "Changes whose implementation finished in each month. Success rate: successful "
            "changes among those with an outcome; emergency share: emergency changes among "
            "all implemented."
        ),
        [
            _("Month"),
            *[_("Standard") if k == Kind.STANDARD else str(k.label) for k in kinds],
            *[str(o.label) for o in outcomes],
            _("Total"),
            _("Success rate"),
            _("Emergency share"),
        ],
    )

    def cells(get):
        decided = sum(get(o.value) for o in outcomes)
        total = get("all")
        return [
            *[get(k.value) for k in kinds],
            *[get(o.value) for o in outcomes],
            total,
            _percent(get(Outcome.SUCCESSFUL.value), decided),
            _percent(get(Kind.EMERGENCY.value), total),
        ]

    for label in labels:
        table.rows.append([label, *cells(lambda key, label=label: counts[(label, key)])])
    table.total = [
        _("Total"),
        *cells(lambda key: sum(counts[(label, key)] for label in labels)),
    ]
    return table


def _caused(user, months, now):
    """[(change row, [incident rows])] for the changes implemented in the months, with
    the incidents that count against each (see ``caused_incidents``)."""
    from accord.cmdb.models import CILink

    starts = month_starts(months, now)
    days = datetime.timedelta(days=caused_incident_days())
    changes = _implemented(user, starts[0])
    found = list(
        changes.values_list(
            "pk", "number", "short_description", "kind", "outcome", "actual_start", "actual_end"
        ).order_by("-actual_end", "-pk")
    )
    if not found:
        return []
    change_ct = ContentType.objects.get_for_model(Change)
    cis_of = defaultdict(set)
    for change_id, ci_id in CILink.objects.filter(
        content_type=change_ct, object_id__in=changes.values("pk")
    ).values_list("object_id", "ci_id"):
        cis_of[change_id].add(ci_id)
    incidents_on = defaultdict(list)  # ci -> [(created, pk, number)]
    if cis_of:
        earliest = min((row[5] or row[6]) for row in found)
        latest = max(row[6] for row in found) + days
        visible = restrict(Incident.objects.filter(created__gte=earliest, created__lt=latest), user)
        ci_ids = sorted(set().union(*cis_of.values()))
        links = CILink.objects.filter(
            content_type=ContentType.objects.get_for_model(Incident),
            ci_id__any=ci_ids,
            object_id__in=visible.values("pk"),
        ).values_list("ci_id", "object_id")
        pairs = list(links)
        info = dict(
            (pk, (created, number))
            for pk, created, number in Incident.objects.filter(
                pk__any=sorted({p[1] for p in pairs})
            ).values_list("pk", "created", "number")
        )
        for ci_id, incident_id in pairs:
            created, number = info[incident_id]
            incidents_on[ci_id].append((created, incident_id, number))
    out = []
    for row in found:
        _pk, _number, _text, _kind, _outcome, started, finished = row
        since, until = started or finished, finished + days
        hit = {}
        for ci in cis_of.get(row[0], ()):
            for created, incident_id, number in incidents_on.get(ci, ()):
                if since <= created < until:
                    hit[incident_id] = (created, number)
        out.append((row, sorted(hit.values())))
    return out


def _rule(days):
    return _(
        "A change counts as having caused an incident when an incident naming one of the "
        "configuration items the change touched was logged between the start of its "
        "implementation and %(days)s days after it finished (the number of days is a "
        "change setting)."
    ) % {"days": days}


def caused_incidents(user, months=12, now=None):
    starts = month_starts(months, now)
    labels = [_label(s) for s in starts]
    implemented, caused, incidents = defaultdict(int), defaultdict(int), defaultdict(set)
    for row, hits in _caused(user, months, now):
        label = _label(row[6])
        implemented[label] += 1
        if hits:
            caused[label] += 1
            incidents[label].update(number for _created, number in hits)
    table = Table(
        "caused_incidents",
        _("Changes followed by incidents"),
        _rule(caused_incident_days()),
        [
            _("Month"),
            _("Changes implemented"),
            _("Followed by incidents"),
            _("Share"),
            _("Incidents"),
        ],
    )
    for label in labels:
        table.rows.append(
            [
                label,
                implemented[label],
                caused[label],
                _percent(caused[label], implemented[label]),
                len(incidents[label]),
            ]
        )
    every = sum(implemented.values())
    hit = sum(caused.values())
    table.total = [
        _("Total"),
        every,
        hit,
        _percent(hit, every),
        len(set().union(*incidents.values())) if incidents else 0,
    ]
    return table


def caused_incident_list(user, months=12, now=None, *, limit=None):
    rows = [(row, hits) for row, hits in _caused(user, months, now) if hits]
    kinds, outcomes = dict(Kind.choices), dict(Outcome.choices)
    table = Table(
        "caused_incident_list",
        _("Which changes were followed by incidents"),
        _(
            "The changes counted in “Changes followed by incidents”, latest first, with the "
            "incidents that count against each."
        ),
        [
            _("Change"),
            _("Short description"),
            _("Kind"),
            _("Outcome"),
            _("Finished"),
            _("Incidents"),
        ],
    )
    for (pk, number, text, kind, outcome, _started, finished), hits in rows[:limit]:
        table.rows.append(
            [
                Link(number, reverse("changes:detail", args=[pk])),
                text,
                str(kinds.get(kind, kind)),
                str(outcomes.get(outcome, outcome or NONE)),
                timezone.localtime(finished).strftime("%Y-%m-%d %H:%M"),
                ", ".join(number for _created, number in hits),
            ]
        )
    table.shown, table.found, table.wide = len(table.rows), len(rows), True
    return table


def lead_time(user, months=12, now=None):
    starts = month_starts(months, now)
    labels = [_label(s) for s in starts]
    spans = defaultdict(list)  # (month, kind or "all" or "closed") -> [timedelta]
    rows = (
        _implemented(user, starts[0])
        .filter(submitted_at__isnull=False)
        .values_list("kind", "submitted_at", "actual_end", "closed_at")
    )
    for kind, submitted, finished, closed in rows.iterator(chunk_size=2000):
        label = _label(finished)
        span = max(finished - submitted, datetime.timedelta(0))
        spans[(label, "all")].append(span)
        spans[(label, kind)].append(span)
        if closed is not None:
            spans[(label, "closed")].append(max(closed - submitted, datetime.timedelta(0)))
    kinds = list(Kind)
    table = Table(
        "lead_time",
        _("Lead time"),
        _(
            "Days from a change's submission to the end of its implementation, for the "
            "changes implemented in each month: mean and median, the mean for each kind, "
            "and the mean to closing (after the review) for those already closed."
        ),
        [
            _("Month"),
            _("Changes"),
            _("Mean (days)"),
            _("Median (days)"),
            *[
                _("%(kind)s (mean)")
                % {"kind": _("Standard") if k == Kind.STANDARD else str(k.label)}
                for k in kinds
            ],
            _("To closed (mean days)"),
        ],
    )

    def cells(get):
        every = get("all")
        return [
            len(every),
            _mean(every),
            _days(statistics.median(every)) if every else NONE,
            *[_mean(get(k.value)) for k in kinds],
            _mean(get("closed")),
        ]

    for label in labels:
        table.rows.append([label, *cells(lambda key, label=label: spans[(label, key)])])
    table.total = [
        _("All %(n)s months") % {"n": months},
        *cells(lambda key: [s for label in labels for s in spans[(label, key)]]),
    ]
    return table


def backlog(user, now=None):
    now = now or timezone.now()
    whens = [
        When(created__gt=now - datetime.timedelta(days=days), then=Value(index))
        for index, (days, _label) in enumerate(AGE_BANDS)
        if days is not None
    ]
    band = Case(*whens, default=Value(len(AGE_BANDS) - 1), output_field=IntegerField())
    counts = defaultdict(int)
    rows = (
        restrict(Change.objects.filter(is_open=True), user)
        .annotate(band=band)
        .values_list("status", "band")
        .annotate(n=Count("pk"))
        .order_by()
    )
    for status, index, n in rows:
        counts[(status, index)] += n
    table = Table(
        "backlog",
        _("Backlog: open changes by status and age"),
        _("Changes not yet closed, rejected or cancelled, by how long ago they were raised."),
        [_("Status"), *[str(label) for _days, label in AGE_BANDS], _("Total")],
    )
    totals = [0] * (len(AGE_BANDS) + 1)
    for status in OPEN_STATUSES:
        cells = [counts[(status.value, i)] for i in range(len(AGE_BANDS))]
        cells.append(sum(cells))
        totals = [a + b for a, b in zip(totals, cells, strict=True)]
        table.rows.append([str(status.label), *cells])
    table.total = [_("Total"), *totals]
    return table


def all_reports(user, months=12, now=None):
    return [
        by_month(user, months, now),
        caused_incidents(user, months, now),
        backlog(user, now),
        lead_time(user, months, now),
        caused_incident_list(user, months, now, limit=LIST_LIMIT),
    ]


REPORTS = {
    "by_month": by_month,
    "caused_incidents": caused_incidents,
    "caused_incident_list": caused_incident_list,
    "lead_time": lead_time,
    "backlog": lambda user, months: backlog(user),
}
