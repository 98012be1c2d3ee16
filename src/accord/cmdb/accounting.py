"""Configuration status accounting (ISO/IEC 20000 9.1): how many CIs there are of
each type, status, owner team and location; the CIs that need attention (no owner, no
service, warranty or retire-by date passed); and the changes to live CIs that named
no authorising change. Everything within the user's scope: the counts come from one
GROUP BY query each over the CIs the user may see."""

import datetime
from dataclasses import dataclass

from django.db.models import Count, Exists, OuterRef, Q
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accord.core.policy import restrict, scope_for

from .choices import CIStatus
from .models import ConfigurationItem, LiveChange

LIST_LENGTH = 100
# A retired or disposed CI needs no owner, service or warranty any more.
OUT_OF_SERVICE = (CIStatus.RETIRED, CIStatus.DISPOSED)


@dataclass(frozen=True)
class CountRow:
    label: str
    count: int
    query: str  # the CI list's query string for these CIs, "" when it has no filter


def visible_cis(user):
    return restrict(ConfigurationItem.objects.all(), user)


def _by_type(qs):
    rows = qs.values("ci_type_id", "ci_type__name").annotate(n=Count("pk")).order_by()
    out = [
        CountRow(r["ci_type__name"], r["n"], urlencode({"ci_type": r["ci_type_id"]})) for r in rows
    ]
    return sorted(out, key=lambda r: r.label.lower())


def _by_status(qs):
    counts = dict(qs.values_list("status").annotate(n=Count("pk")).order_by())
    return [
        CountRow(str(status.label), counts[status.value], urlencode({"status": status.value}))
        for status in CIStatus
        if counts.get(status.value)
    ]


def _by_owner(qs):
    rows = qs.values("owner_id", "owner__name").annotate(n=Count("pk")).order_by()
    out, nobody = [], None
    for r in rows:
        if r["owner_id"] is None:
            nobody = CountRow(_("No owner"), r["n"], urlencode({"no_owner": "true"}))
        else:
            out.append(CountRow(r["owner__name"], r["n"], urlencode({"owner": r["owner_id"]})))
    out.sort(key=lambda r: r.label.lower())
    return out + ([nobody] if nobody else [])


def _by_location(qs, user):
    rows = list(qs.values("location_id", "location__name").annotate(n=Count("pk")).order_by())
    ids = [r["location_id"] for r in rows if r["location_id"] is not None]
    # A location is itself a CI: name only those the user may see.
    seen = set(visible_cis(user).filter(pk__in=ids).values_list("pk", flat=True))
    out, hidden, nowhere = [], 0, None
    for r in rows:
        if r["location_id"] is None:
            nowhere = CountRow(_("No location"), r["n"], "")
        elif r["location_id"] in seen:
            out.append(
                CountRow(r["location__name"], r["n"], urlencode({"location": r["location_id"]}))
            )
        else:
            hidden += r["n"]
    out.sort(key=lambda r: r.label.lower())
    if hidden:
        out.append(CountRow(_("A location you do not see"), hidden, ""))
    return out + ([nowhere] if nowhere else [])


GROUPS = {
    # key: (title, what the rows are)
    "by_type": (gettext_lazy("By type"), gettext_lazy("Type")),
    "by_status": (gettext_lazy("By status"), gettext_lazy("Status")),
    "by_owner": (gettext_lazy("By owner team"), gettext_lazy("Owner team")),
    "by_location": (gettext_lazy("By location"), gettext_lazy("Location")),
}


def counts(user, key):
    """[CountRow] for one of GROUPS, within what ``user`` may see."""
    qs = visible_cis(user)
    if key == "by_type":
        return _by_type(qs)
    if key == "by_status":
        return _by_status(qs)
    if key == "by_owner":
        return _by_owner(qs)
    if key == "by_location":
        return _by_location(qs, user)
    raise KeyError(key)


# --- CIs that need attention -------------------------------------------------------
def _no_service():
    through = ConfigurationItem.services.through
    return ~Exists(through.objects.filter(configurationitem_id=OuterRef("pk")))


LISTS = {
    # key: (title, explanation, order)
    "no_owner": (
        gettext_lazy("No owner"),
        gettext_lazy("CIs in service or on the way with no owner team."),
        ("name", "pk"),
    ),
    "no_service": (
        gettext_lazy("No service"),
        gettext_lazy("CIs in service or on the way that support no service."),
        ("name", "pk"),
    ),
    "warranty_expired": (
        gettext_lazy("Past their warranty end"),
        gettext_lazy("CIs in service or on the way whose warranty has ended."),
        ("warranty_end", "name", "pk"),
    ),
    "retire_overdue": (
        gettext_lazy("Past their retire-by date"),
        gettext_lazy("CIs not yet retired whose retire-by date has passed."),
        ("retire_by", "name", "pk"),
    ),
}


def attention(user, key, today=None):
    """The CIs of one of LISTS the user may see, in the list's order."""
    today = today or timezone.localdate()
    condition = {
        "no_owner": Q(owner__isnull=True),
        "no_service": Q(_no_service()),
        "warranty_expired": Q(warranty_end__lt=today),
        "retire_overdue": Q(retire_by__lt=today),
    }[key]
    return (
        visible_cis(user)
        .exclude(status__in=OUT_OF_SERVICE)
        .filter(condition)
        .order_by(*LISTS[key][2])
    )


LIST_COLUMNS = (
    ("pk", gettext_lazy("CI id")),
    ("name", gettext_lazy("Name")),
    ("ci_type__name", gettext_lazy("Type")),
    ("status", gettext_lazy("Status")),
    ("owner__name", gettext_lazy("Owner")),
    ("location__name", gettext_lazy("Location")),
    ("warranty_end", gettext_lazy("Warranty end")),
    ("retire_by", gettext_lazy("Retire by")),
)


def list_rows(qs):
    """CSV rows of a list, read a chunk at a time."""
    statuses = {s.value: str(s.label) for s in CIStatus}
    status_at = [name for name, _label in LIST_COLUMNS].index("status")
    for row in qs.values_list(*(name for name, _label in LIST_COLUMNS)).iterator(chunk_size=2000):
        row = list(row)
        row[status_at] = statuses.get(row[status_at], row[status_at])
        yield row


# --- changes without an authorising change -------------------------------------------
def unauthorised_changes(user, *, date_from=None, date_to=None, owner=None):
    """Changes to live CIs that named no authorising change, newest first, on the CIs
    the user may see; dates in the user's time zone, both ends included."""
    qs = LiveChange.objects.filter(change_reference="")
    scope = scope_for(user)
    if scope is None:
        return qs.none()
    if not scope.all_customers:
        qs = qs.filter(ci_id__in=visible_cis(user).values("pk"))
    tz = timezone.get_current_timezone()
    if date_from is not None:
        qs = qs.filter(at__gte=datetime.datetime.combine(date_from, datetime.time(), tz))
    if date_to is not None:
        end = date_to + datetime.timedelta(days=1)
        qs = qs.filter(at__lt=datetime.datetime.combine(end, datetime.time(), tz))
    if owner is not None:
        qs = qs.filter(ci__owner=owner)
    return qs.select_related("ci", "ci__ci_type", "ci__owner").order_by("-at", "-pk")


CHANGE_COLUMNS = (
    gettext_lazy("When"),
    gettext_lazy("CI id"),
    gettext_lazy("CI"),
    gettext_lazy("Type"),
    gettext_lazy("Owner"),
    gettext_lazy("What changed"),
    gettext_lazy("By"),
)


def change_rows(qs):
    rows = qs.values_list(
        "at", "ci_id", "ci__name", "ci__ci_type__name", "ci__owner__name", "summary", "actor"
    ).iterator(chunk_size=2000)
    for at, *rest in rows:
        yield [timezone.localtime(at).strftime("%Y-%m-%d %H:%M"), *rest]
