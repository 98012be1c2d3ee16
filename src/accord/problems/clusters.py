"""Trend clusters as each user sees them, and raising a problem from one.

A cluster stores its true count and up to ``trends.MEMBER_CAP`` members as [incident
id, customer id] pairs, latest first. A user is shown the part of each cluster made
of the incidents of the customers they serve: counts and scores recomputed for them,
clusters with nothing of theirs left out. The trend page works this out for every
cluster of a run at once (``visible_clusters``; on PostgreSQL in SQL over the JSON),
a cluster's page from its decoded members (``cluster_for``); a test holds the two
together.
"""

import datetime
import hashlib
import json
from dataclasses import dataclass

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone
from django.utils.translation import gettext as _

from accord.core.policy import can, restrict, scope_for
from accord.incidents.choices import Urgency
from accord.incidents.models import Category, Incident

from . import actions
from .choices import ClusterKind, Origin
from .models import Problem, ProblemIncident, TrendCluster, TrendDismissal, TrendRun
from .trends import may_start, may_view


@dataclass
class ClusterView:
    """A cluster as one user sees it: only the incidents of customers they serve."""

    cluster: TrendCluster
    members: list  # [incident id, customer id] the user may see
    count: int
    impact_score: int
    approximate: bool = False  # the count is estimated from the stored members
    score_approximate: bool = False  # the impact score is the user's share of it
    problem: Problem | None = None
    first_seen: datetime.datetime | None = None
    last_seen: datetime.datetime | None = None
    latest_id: int | None = None  # the user's latest and earliest stored members
    earliest_id: int | None = None
    dismissal: TrendDismissal | None = None  # set aside by the problem managers

    def __post_init__(self):
        self.first_seen = self.first_seen or self.cluster.first_seen
        self.last_seen = self.last_seen or self.cluster.last_seen

    @property
    def partial(self):
        """The cluster spans customers the user does not serve."""
        return self.score_approximate

    @property
    def incident_ids(self):
        return [m[0] for m in self.members or []]


def _figures(cluster, visible, stored, latest=None, earliest=None, members=None):
    """The user's figures of a cluster from how many of its stored members they may
    see (None: none). The count is exact unless the cluster was too large to store
    whole and spans customers the user does not serve: then it is estimated from the
    stored members, which hold every customer in proportion. The impact score of a
    cluster that spans such customers is the user's share of it by count (members do
    not carry their impact)."""
    if not visible:
        return None
    if visible == stored:
        # Every customer of the cluster is one the user serves (a capped cluster keeps
        # every customer at least once): the stored figures are theirs.
        return ClusterView(cluster, members, cluster.count, cluster.impact_score)
    share = visible / stored
    capped = cluster.count > stored
    view = ClusterView(
        cluster,
        members,
        round(cluster.count * share) if capped else visible,
        max(1, round(cluster.impact_score * share)),
        approximate=capped,
        score_approximate=True,
    )
    view.latest_id, view.earliest_id = latest, earliest
    return view


def _as_seen(cluster, scope):
    """The user's part of one cluster, from its members (None: nothing of it)."""
    if scope.all_customers:
        members = cluster.members if "members" in cluster.__dict__ else None
        return ClusterView(cluster, members, cluster.count, cluster.impact_score)
    stored = cluster.members or []
    visible = [m for m in stored if m[1] in scope.customer_ids]
    if not visible:
        return None
    return _figures(
        cluster, len(visible), len(stored), visible[0][0], visible[-1][0], members=visible
    )


# How many of each cluster's stored members have one of the customers, how many it
# stores, and the positions of the first and last of those (members are stored latest
# first): worked out by PostgreSQL over its binary JSON, counted per cluster inside
# the lateral join (grouping the joined rows instead would sort every member with its
# cluster's whole JSON beside it). Elsewhere the members' text is read as stored and
# decoded in Python: SQLite's JSON functions, and Django's, re-parse it several times
# over.
PARTS_SQL_POSTGRESQL = """
        SELECT c.id, a.visible, jsonb_array_length(c.members), a.lo, a.hi
        FROM {table} c
        CROSS JOIN LATERAL (
            SELECT COUNT(*) AS visible, MIN(e.ord)::int - 1 AS lo, MAX(e.ord)::int - 1 AS hi
            FROM jsonb_array_elements(c.members) WITH ORDINALITY AS e(v, ord)
            WHERE (e.v ->> 1)::bigint = ANY(%s)
        ) a
        WHERE c.run_id = %s {kind} AND a.visible > 0
"""
# The incident ids at two positions of given clusters' members (one parse each).
IDS_SQL_POSTGRESQL = """
        SELECT p.column1::bigint, json_build_array(
                   (c.members -> (p.column2)::int ->> 0)::bigint,
                   (c.members -> (p.column3)::int ->> 0)::bigint)::text
        FROM (VALUES {values}) p JOIN {table} c ON c.id = (p.column1)::bigint
"""
PARTS_CACHE_SECONDS = 3600


def _visible_parts(run, customer_ids, kind):
    """{cluster id: (visible, stored, latest id, earliest id)} for the clusters with
    members of these customers (the ids of the first and last of them). A finished
    run's members never change: the answer is kept in the cache for an hour."""
    from django.core.cache import cache
    from django.db import connection

    customers = sorted(customer_ids)
    if not customers:
        return {}
    # The run's id and start name it (an id alone could come back after a rollback).
    key = (
        "accord:trend-parts:"
        + hashlib.sha256(
            f"{run.pk}:{run.created.isoformat()}:{kind or ''}:{customers}".encode()
        ).hexdigest()
    )
    found = cache.get(key)
    if found is not None:
        return found
    table = connection.ops.quote_name(TrendCluster._meta.db_table)
    kind_sql = "AND c.kind = %s" if kind else ""
    kinds = [kind] if kind else []
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                PARTS_SQL_POSTGRESQL.format(table=table, kind=kind_sql),
                [customers, run.pk, *kinds],
            )
            rows = cursor.fetchall()
        partial = [(cid, lo, hi) for cid, visible, stored, lo, hi in rows if visible < stored]
        ids = _member_ids(partial)
        found = {
            cid: (visible, stored, *ids.get(cid, (None, None)))
            for cid, visible, stored, _lo, _hi in rows
        }
    else:
        found = {}
        mine = set(customers)
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT c.id, c.members FROM {table} c WHERE c.run_id = %s {kind_sql}",  # noqa: S608
                [run.pk, *kinds],
            )
            for cid, text in cursor.fetchall():
                pairs = json.loads(text) if isinstance(text, str | bytes) else text
                visible = [pair[0] for pair in pairs if pair[1] in mine]
                if visible:
                    found[cid] = (len(visible), len(pairs), visible[0], visible[-1])
    cache.set(key, found, PARTS_CACHE_SECONDS)
    return found


def _member_ids(wanted, batch=500):
    """{cluster id: (id at position a, id at position b)} for (cluster id, a, b)."""
    from django.db import connection

    out = {}
    for start in range(0, len(wanted), batch):
        chunk = wanted[start : start + batch]
        text = IDS_SQL_POSTGRESQL.format(
            table=connection.ops.quote_name(TrendCluster._meta.db_table),
            values=", ".join(["(%s, %s, %s)"] * len(chunk)),
        )
        with connection.cursor() as cursor:
            cursor.execute(text, [v for row in chunk for v in row])
            out.update({cid: tuple(json.loads(pair)) for cid, pair in cursor.fetchall()})
    return out


def own_dates(views):
    """First and last seen of the clusters that span customers the user does not
    serve, from the user's own incidents: the stored members are the latest first,
    so their first and last visible ones are the user's latest and (unless the
    cluster was too large to store whole) earliest. One query for all of them."""
    partial = [v for v in views if v.partial]
    ids = {i for v in partial for i in (v.latest_id, v.earliest_id) if i is not None}
    if not ids:
        return
    created = dict(Incident.objects.filter(pk__in=ids).values_list("pk", "created"))
    for v in partial:
        v.last_seen = created.get(v.latest_id, v.last_seen)
        v.first_seen = created.get(v.earliest_id, v.first_seen)


def latest_run(user, run_id=None):
    """The finished run to show: the one asked for, or the latest finished."""
    if not may_view(user):
        return None
    runs = restrict(TrendRun.objects.filter(state=TrendRun.State.DONE), user)
    if run_id is not None:
        return runs.filter(pk=run_id).first()
    return runs.order_by("-created", "-id").first()


def visible_clusters(run, user, kind=None, *, dismissed=False):
    """The run's clusters as the user may see them, ranked by their count and impact
    score for that user; clusters with nothing the user may see are left out, and so
    are those set aside (``dismissed=True``: only those)."""
    scope = scope_for(user)
    if run is None or scope is None or not scope.is_staff:
        return []
    rows = TrendCluster.objects.filter(run=run)
    if kind:
        rows = rows.filter(kind=kind)
    rows = rows.defer("members")
    set_aside = active_dismissals()
    rows = [c for c in rows if ((c.kind, c.key) in set_aside) == dismissed]
    if scope.all_customers:
        seen = [ClusterView(c, None, c.count, c.impact_score) for c in rows]
    else:
        parts = _visible_parts(run, scope.customer_ids, kind)
        seen = [_figures(c, *parts[c.pk]) for c in rows if c.pk in parts]
    seen = [v for v in seen if v is not None]
    for v in seen:
        v.dismissal = set_aside.get((v.cluster.kind, v.cluster.key))
    problem_ids = {v.cluster.problem_id for v in seen if v.cluster.problem_id}
    problems = {p.pk: p for p in restrict(Problem.objects.filter(pk__in=problem_ids), user)}
    for v in seen:
        v.problem = problems.get(v.cluster.problem_id)
    seen.sort(key=lambda v: (-v.count, -v.impact_score, v.cluster.pk))
    return seen


def cluster_for(user, pk):
    """One cluster as the user sees it, or None (not there, or nothing of it visible)."""
    scope = scope_for(user)
    if scope is None or not scope.is_staff:
        return None
    cluster = TrendCluster.objects.select_related("run").filter(pk=pk).first()
    if cluster is None:
        return None
    view = _as_seen(cluster, scope)
    if view is None:
        return None
    if view.members is None:
        view.members = cluster.members or []
    if cluster.problem_id:
        view.problem = restrict(Problem.objects.filter(pk=cluster.problem_id), user).first()
    view.dismissal = active_dismissals().get((cluster.kind, cluster.key))
    own_dates([view])
    return view


# --- trends set aside ----------------------------------------------------------------------
def active_dismissals(today=None):
    """{(kind, key): dismissal} of the trends set aside today."""
    today = today or timezone.localdate()
    return {
        (d.kind, d.key): d
        for d in TrendDismissal.objects.select_related("dismissed_by")
        if d.active_on(today)
    }


def may_dismiss(user):
    scope = scope_for(user)
    return scope is not None and not scope.read_only and can(user, "add", TrendDismissal)


def dismiss(user, cluster_pk, *, reason, until=None):
    """Set a cluster's trend aside (its kind and what it shares), saying why; later
    runs list its clusters apart until ``until`` (if given) or until restored."""
    if not may_dismiss(user):
        raise PermissionDenied
    view = cluster_for(user, cluster_pk)
    if view is None:
        raise ValidationError({"cluster": _("No such cluster.")})
    reason = (reason or "").strip()
    errors = {}
    if not reason:
        errors["reason"] = _("Say why this trend is set aside.")
    if until is not None and until <= timezone.localdate():
        errors["until"] = _("Give a day after today, or leave it empty.")
    if errors:
        raise ValidationError(errors)
    cluster = view.cluster
    with transaction.atomic():
        dismissal = TrendDismissal.objects.filter(kind=cluster.kind, key=cluster.key).first()
        if dismissal is None:
            dismissal = TrendDismissal(kind=cluster.kind, key=cluster.key)
        dismissal.label = cluster.label[:300]
        dismissal.reason = reason[:2000]
        dismissal.until = until
        dismissal.dismissed_by = user
        dismissal.save()
    return dismissal


def restore(user, dismissal_pk):
    """Bring a trend set aside back among the others."""
    if not may_dismiss(user):
        raise PermissionDenied
    dismissal = TrendDismissal.objects.filter(pk=dismissal_pk).first()
    if dismissal is None:
        raise ValidationError({"dismissal": _("This trend is not set aside.")})
    with transaction.atomic():
        dismissal.delete()
    return dismissal


# --- raising a problem from a cluster -------------------------------------------------
def _title(cluster, count, days):
    if cluster.kind == ClusterKind.SERVICE:
        text = _("Recurring incidents on service %(what)s: %(n)s in %(d)s days")
    elif cluster.kind == ClusterKind.CI:
        text = _("Recurring incidents on %(what)s: %(n)s in %(d)s days")
    elif cluster.kind == ClusterKind.CATEGORY:
        text = _("Recurring incidents in %(what)s: %(n)s in %(d)s days")
    else:
        text = _("Recurring incidents like “%(what)s”: %(n)s in %(d)s days")
        what = cluster.label.split("“", 1)[-1].rstrip("”") if "“" in cluster.label else cluster.key
        return (text % {"what": what, "n": count, "d": days})[:160]
    return (text % {"what": cluster.label, "n": count, "d": days})[:160]


def raise_problem(user, pk):
    """Raise a problem from a cluster in one step: the visible incidents of the cluster
    that still have no problem are linked to it (origin: trend analysis), its impact
    is their average impact and its urgency low (a trend is not an outage); the CI or
    category the cluster shares goes on the problem. The first problem raised from a
    cluster is remembered on it. Returns (problem, linked, skipped)."""
    if not may_start(user):
        raise PermissionDenied(_("You are not allowed to do this."))
    with transaction.atomic():
        locked = TrendCluster.objects.select_for_update().filter(pk=pk)
        if not locked.exists():
            raise ValidationError({"cluster": _("This cluster no longer exists.")})
        view = cluster_for(user, pk)
        if view is None:
            raise ValidationError({"cluster": _("This cluster no longer exists.")})
        cluster = view.cluster
        if view.problem is not None:
            raise ValidationError(
                {
                    "cluster": _("Problem %(number)s has already been raised from this cluster.")
                    % {"number": view.problem.number}
                }
            )
        linked = ProblemIncident.objects.filter(incident_id=OuterRef("pk"))
        incidents = list(
            restrict(Incident.objects.filter(pk__in=view.incident_ids), user)
            .filter(~Exists(linked))
            .select_related("customer", "service")
            .order_by("created", "pk")
        )
        skipped = len(view.members) - len(incidents)
        if not incidents:
            raise ValidationError(
                {"cluster": _("Each incident of this cluster has been linked to a problem since.")}
            )
        impact = round(sum(i.impact for i in incidents) / len(incidents))
        run = cluster.run
        description = _(
            "Raised from the trend analysis of %(when)s (incidents logged from %(since)s to "
            "%(until)s, %(days)s days). %(kind)s: %(label)s. %(n)s incidents (impact score "
            "%(score)s) in this cluster; %(linked)s linked here."
        ) % {
            "when": timezone.localtime(run.created).strftime("%Y-%m-%d %H:%M"),
            "since": timezone.localtime(run.since).strftime("%Y-%m-%d"),
            "until": timezone.localtime(run.until).strftime("%Y-%m-%d"),
            "days": run.window_days,
            "kind": cluster.get_kind_display(),
            "label": cluster.label,
            "n": view.count,
            "score": view.impact_score,
            "linked": len(incidents),
        }
        data = {
            "short_description": _title(cluster, view.count, run.window_days),
            "description": description,
            "impact": impact,
            "urgency": Urgency.LOW,
        }
        if cluster.kind == ClusterKind.CATEGORY and cluster.key.isdigit():
            data["category"] = Category.objects.filter(pk=int(cluster.key)).first()
        problem = actions.create_problem(user, data, incidents=incidents, origin=Origin.TREND)
        if cluster.kind == ClusterKind.CI and cluster.key.isdigit():
            _link_ci(problem, int(cluster.key), user)
        TrendCluster.objects.filter(pk=cluster.pk, problem__isnull=True).update(problem=problem)
    return problem, len(incidents), skipped


def _link_ci(problem, ci_id, user):
    from accord.cmdb.actions import link_record
    from accord.cmdb.models import ConfigurationItem

    ci = restrict(ConfigurationItem.objects.filter(pk=ci_id), user).first()
    if ci is not None:
        link_record(ci, problem, user)
