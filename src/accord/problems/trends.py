"""Trend analysis (ISO/IEC 20000 8.3.10): clusters of incidents that have no problem yet.

A run looks at the incidents logged in its window (``since`` to ``until``; cancelled
ones and those already linked to a problem left out) and groups them four ways:

* the same service;
* the same configuration item (the CIs the incidents name, through CMDB links);
* the same category;
* similar short descriptions: each description's *word signature*. It is lower-cased
  and cut into words; numbers, punctuation, one-letter words and common words ("the",
  "not", "working", "error"…) are dropped, so are words with a digit in them (codes,
  ids), and a plural "s" is taken off. A word found in fewer incidents of the window
  than the smallest cluster cannot be shared by a cluster, so it is dropped too. Of
  the words left, the three found in the fewest incidents (the most specific; ties
  alphabetically) make the signature, e.g. "client disconnecting vpn". Incidents with
  the same signature form a cluster.

A group of at least ``min_count`` incidents is a cluster. Clusters are ranked by their
count, then their impact score: the sum over their incidents of 4 minus the impact
(a high-impact incident weighs 3, a medium one 2, a low one 1).

The work is done in one streaming read of the window (values only, no model
instances) and in numpy arrays: it takes seconds for a million incidents. Each run
keeps, per kind, the 200 largest clusters and each customer's 50 largest (so a small
customer's trends are not pushed out by a large one's). A cluster stores its true
count and at most 2,000 members as [incident id, customer id] pairs, the most recent
of each customer, each customer in proportion to its share of the cluster (and
every customer at least once); the page shows each user the part of each cluster
they may see (``clusters``).
"""

import datetime
import logging
import re
from array import array
from collections import Counter
from dataclasses import dataclass, field

import numpy as np
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import InterfaceError, OperationalError, transaction
from django.db.models import Exists, FloatField, Func, OuterRef
from django.utils import timezone
from django.utils.translation import gettext as _
from huey.contrib.djhuey import HUEY

from accord.catalogue.models import Service
from accord.core.policy import can, scope_for
from accord.incidents.choices import Status as IncidentStatus
from accord.incidents.models import Category, Incident

from .choices import ClusterKind
from .models import Problem, ProblemIncident, TrendCluster, TrendRun

log = logging.getLogger(__name__)

DEFAULT_WINDOW_DAYS = 90
DEFAULT_MIN_COUNT = 3
MAX_WINDOW_DAYS = 3650
MIN_COUNT_RANGE = (2, 1000)
MEMBER_CAP = 2000
TOP_PER_KIND = 200
TOP_PER_CUSTOMER = 50
SIGNATURE_WORDS = 3
CHUNK = 5000
PROGRESS_EVERY = 20000
# Distinct descriptions remembered while reading (their words are worked out once).
DESCRIPTION_CACHE = 200_000
# A queued or running run older than this is taken to have died with its worker.
STALE_RUN = datetime.timedelta(hours=2)
# A scheduled run is skipped when another one started less than this long ago.
SCHEDULE_GAP = datetime.timedelta(hours=20)
KEEP_RUNS = 30

WORD = re.compile(r"[^\W_]+")
STOP_WORDS = frozenset(
    """
    a about after again all also am an and any are as at be been before being but by
    can cannot could did do does doing done during each for from get gets getting got
    had has have having he her here him his how i if in into is it its itself just me
    more most my no nor not now of off on once only or other our out over own same she
    should so some still such than that the their them then there these they this those
    through to too under until up us very was we were what when where which while who
    why will with won would you your yours always every never often sometimes
    anymore cant couldnt didnt doesnt dont isnt wont
    again issue issues problem problems error errors fail fails failed failing failure
    work works worked working broken please help urgent user users since today
    """.split()
)


def words(text):
    """The significant words of a short description, as a sorted tuple."""
    out = set()
    for word in WORD.findall((text or "").lower()):
        if len(word) < 2 or word in STOP_WORDS or not word.isalpha():
            continue  # numbers and words with digits in them (codes, ids) too
        if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
            word = word[:-1]
        if word not in STOP_WORDS:
            out.add(word)
    return tuple(sorted(out))


def impact_weight(impact):
    """What one incident adds to a cluster's impact score: high 3, medium 2, low 1."""
    return 4 - int(impact)


# --- starting runs --------------------------------------------------------------------
def check_settings(window_days, min_count):
    """The run's settings as numbers; ValidationError naming the field otherwise."""
    errors = {}
    values = {}
    for name, raw, low, high, message in (
        (
            "window_days",
            window_days,
            1,
            MAX_WINDOW_DAYS,
            _("Window (days): enter a whole number of days from 1 to %(high)s."),
        ),
        (
            "min_count",
            min_count,
            *MIN_COUNT_RANGE,
            _("Smallest cluster: enter a whole number of incidents from %(low)s to %(high)s."),
        ),
    ):
        try:
            value = int(str(raw).strip())
        except (TypeError, ValueError):
            value = None
        if value is None or not low <= value <= high:
            errors[name] = message % {"low": low, "high": high}
        values[name] = value
    if errors:
        raise ValidationError(errors)
    return values["window_days"], values["min_count"]


def may_start(user):
    """Who may start a run (and raise problems from its clusters)."""
    scope = scope_for(user)
    return scope is not None and not scope.read_only and can(user, "add", Problem)


def may_view(user):
    scope = scope_for(user)
    return scope is not None and scope.is_staff and can(user, "view", Problem)


def active_run(now=None):
    """The queued or running run, unless it has been at it so long it must have died."""
    now = now or timezone.now()
    return (
        TrendRun.objects.filter(
            state__in=[TrendRun.State.QUEUED, TrendRun.State.RUNNING], created__gte=now - STALE_RUN
        )
        .order_by("-created", "-id")
        .first()
    )


def start_run(user, *, window_days=DEFAULT_WINDOW_DAYS, min_count=DEFAULT_MIN_COUNT, now=None):
    """Record a run and queue it for the worker (after commit). Refused while another
    run is queued or running."""
    if user is not None and not may_start(user):
        raise PermissionDenied(_("You are not allowed to do this."))
    window_days, min_count = check_settings(window_days, min_count)
    now = now or timezone.now()
    if active_run(now) is not None:
        raise ValidationError(_("A trend run is already queued or running; wait for it to finish."))
    run = TrendRun.objects.create(
        requested_by=user,
        window_days=window_days,
        min_count=min_count,
        since=now - datetime.timedelta(days=window_days),
        until=now,
        created=now,
    )
    from .tasks import trend_job

    transaction.on_commit(lambda: trend_job(run.pk))
    return run


def scheduled_run(now=None):
    """The nightly run: the default window and cluster size, run here and now. Skipped
    while another run works or when a scheduled one ran recently (so a job that fires
    twice runs once)."""
    now = now or timezone.now()
    if active_run(now) is not None:
        return None
    if TrendRun.objects.filter(requested_by=None, created__gte=now - SCHEDULE_GAP).exists():
        return None
    run = TrendRun.objects.create(
        window_days=DEFAULT_WINDOW_DAYS,
        min_count=DEFAULT_MIN_COUNT,
        since=now - datetime.timedelta(days=DEFAULT_WINDOW_DAYS),
        until=now,
        created=now,
    )
    return run_trends(run.pk)


# --- progress (in the job queue's store, so the read is never interrupted by a write) ---
def _progress_key(run_id):
    return f"accord:trend-progress:{run_id}"


def publish_progress(run_id, scanned):
    try:
        HUEY.put(_progress_key(run_id), scanned)
    except Exception:  # noqa: BLE001 - progress is a courtesy; the run goes on
        log.warning("could not publish the progress of trend run %s", run_id, exc_info=True)


def progress(run):
    """Incidents read so far: live while the run works."""
    if run.state == TrendRun.State.RUNNING:
        try:
            live = HUEY.get(_progress_key(run.pk), peek=True)
        except Exception:  # noqa: BLE001 - fall back to the figure on the row
            live = None
        if live:
            return int(live)
    return run.incidents_scanned


def _forget_progress(run_id):
    try:
        HUEY.delete(_progress_key(run_id))
    except Exception:  # noqa: BLE001
        log.warning("could not clear the progress of trend run %s", run_id, exc_info=True)


# --- running --------------------------------------------------------------------------
def run_trends(run_id, *, last_try=True):
    """The worker's job: analyse a queued run and store its clusters. Safe to repeat:
    only a queued run is claimed (by one worker), and its clusters are written in one
    transaction with its end state."""
    claimed = TrendRun.objects.filter(pk=run_id, state=TrendRun.State.QUEUED).update(
        state=TrendRun.State.RUNNING, started_at=timezone.now(), incidents_scanned=0, error=""
    )
    run = TrendRun.objects.filter(pk=run_id).first()
    if not claimed or run is None:
        return run
    try:
        result = analyse(
            run.since,
            run.until,
            run.min_count,
            progress=lambda n: publish_progress(run.pk, n),
        )
        save(run, result)
    except (OperationalError, InterfaceError):
        if not last_try:
            TrendRun.objects.filter(pk=run_id).update(state=TrendRun.State.QUEUED)
            raise  # the database was busy or away: the worker tries again
        log.exception("trend run %s failed", run_id)
        _failed(run_id, _("The database could not be read; start the run again."))
    except Exception as exc:  # noqa: BLE001 - the run says it failed; the log says why
        log.exception("trend run %s failed", run_id)
        _failed(run_id, _("The analysis stopped on an unexpected error: %(e)s") % {"e": exc})
    finally:
        _forget_progress(run_id)
    prune()
    run.refresh_from_db()
    return run


def _failed(run_id, message):
    TrendRun.objects.filter(pk=run_id).update(
        state=TrendRun.State.FAILED, error=message[:2000], finished_at=timezone.now()
    )


def prune():
    """Keep the latest runs; older ones go with their clusters (the problems raised
    from them stay, with their incidents)."""
    keep = list(
        TrendRun.objects.order_by("-created", "-id").values_list("pk", flat=True)[:KEEP_RUNS]
    )
    if len(keep) == KEEP_RUNS:
        TrendRun.objects.exclude(pk__in=keep).exclude(
            state__in=[TrendRun.State.QUEUED, TrendRun.State.RUNNING]
        ).delete()


def window_incidents(since, until):
    """The incidents a run looks at: logged in the window, not cancelled, no problem."""
    linked = ProblemIncident.objects.filter(incident_id=OuterRef("pk"))
    return (
        Incident.objects.filter(created__gte=since, created__lt=until)
        .exclude(status=IncidentStatus.CANCELLED)
        .filter(~Exists(linked))
    )


class EpochSeconds(Func):
    """A timestamp as seconds since 1970 (a float) computed by the database: turning a
    million timestamps into Python datetimes costs more than the rest of the read."""

    output_field = FloatField()

    def as_sql(self, compiler, connection, **extra):
        return super().as_sql(
            compiler, connection, template="CAST(EXTRACT(EPOCH FROM %(expressions)s) AS float8)"
        )

    def as_sqlite(self, compiler, connection, **extra):
        # Django keeps UTC text on SQLite; julianday reads it (microseconds included).
        return super().as_sql(
            compiler,
            connection,
            template="((julianday(%(expressions)s) - 2440587.5) * 86400.0)",
        )


@dataclass
class Found:
    """One cluster as the analysis found it (before it is stored)."""

    kind: str
    value: object  # service, category or CI id; the signature for text
    count: int
    impact_score: int
    first_seen: float
    last_seen: float
    members: np.ndarray  # incident positions, most recent first
    per_customer: dict = field(default_factory=dict)  # customer id -> count


@dataclass
class Analysis:
    scanned: int
    clusters: list  # of (Found, label, members as pairs)
    found_per_kind: dict


class _Window:
    """The window's incidents as columns (numpy arrays), read in one pass."""

    def __init__(self, since, until, progress=None):
        ids, customers = array("q"), array("q")
        services, categories = array("q"), array("q")
        impacts, created, texts = array("b"), array("d"), array("q")
        token_index, self.tokens, self.examples = {}, [], []
        cache = {}
        rows = (
            window_incidents(since, until)
            .order_by()
            .annotate(at=EpochSeconds("created"))
            .values_list(
                "pk",
                "customer_id",
                "service_id",
                "category_id",
                "impact",
                "at",
                "short_description",
            )
        )
        n = 0
        for pk, customer, service, category, impact, at, text in rows.iterator(chunk_size=CHUNK):
            ids.append(pk)
            customers.append(customer)
            services.append(-1 if service is None else service)
            categories.append(-1 if category is None else category)
            impacts.append(impact)
            created.append(at)
            slot = cache.get(text)
            if slot is None:
                toks = words(text)
                slot = token_index.get(toks)
                if slot is None:
                    slot = token_index[toks] = len(self.tokens)
                    self.tokens.append(toks)
                    self.examples.append(text)
                if len(cache) >= DESCRIPTION_CACHE:
                    cache.clear()
                cache[text] = slot
            texts.append(slot)
            n += 1
            if progress is not None and n % PROGRESS_EVERY == 0:
                progress(n)
        self.size = n
        self.ids = np.frombuffer(ids, dtype=np.int64) if n else np.zeros(0, np.int64)
        self.customers = np.frombuffer(customers, dtype=np.int64) if n else np.zeros(0, np.int64)
        self.services = np.frombuffer(services, dtype=np.int64) if n else np.zeros(0, np.int64)
        self.categories = np.frombuffer(categories, dtype=np.int64) if n else np.zeros(0, np.int64)
        self.weights = 4 - np.frombuffer(impacts, dtype=np.int8).astype(np.int64) if n else None
        self.created = np.frombuffer(created, dtype=np.float64) if n else np.zeros(0)
        self.texts = np.frombuffer(texts, dtype=np.int64) if n else np.zeros(0, np.int64)

    def positions(self, incident_ids):
        """The positions of these incident ids in the window (-1: not in it)."""
        order = np.argsort(self.ids, kind="stable")
        ordered = self.ids[order]
        at = np.searchsorted(ordered, incident_ids)
        at = np.minimum(at, len(ordered) - 1)
        found = ordered[at] == incident_ids
        return np.where(found, order[at], -1)


def _ci_links(window):
    """(CI id, incident position) of the CMDB links of the window's incidents: one
    range read of the links index, kept to the window's incidents."""
    from django.contrib.contenttypes.models import ContentType

    from accord.cmdb.models import CILink

    if not window.size:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    ct = ContentType.objects.get_for_model(Incident)
    cis, objects = array("q"), array("q")
    rows = (
        CILink.objects.filter(
            content_type=ct,
            object_id__gte=int(window.ids.min()),
            object_id__lte=int(window.ids.max()),
        )
        .order_by()
        .values_list("ci_id", "object_id")
    )
    for ci, obj in rows.iterator(chunk_size=CHUNK):
        cis.append(ci)
        objects.append(obj)
    if not len(cis):
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    cis = np.frombuffer(cis, dtype=np.int64)
    at = window.positions(np.frombuffer(objects, dtype=np.int64))
    keep = at >= 0
    return cis[keep], at[keep]


def _signatures(window, min_count):
    """The signature of each incident (an index into the returned list; -1: none)."""
    if not window.size:
        return np.zeros(0, np.int64), []
    per_tokens = np.bincount(window.texts, minlength=len(window.tokens))
    seen_in = Counter()
    for slot, toks in enumerate(window.tokens):
        count = int(per_tokens[slot])
        for word in toks:
            seen_in[word] += count
    names, index = [], {}
    of_tokens = np.full(len(window.tokens), -1, dtype=np.int64)
    for slot, toks in enumerate(window.tokens):
        usable = sorted((seen_in[w], w) for w in toks if seen_in[w] >= min_count)
        if not usable:
            continue
        signature = " ".join(sorted(w for _n, w in usable[:SIGNATURE_WORDS]))[:200]
        at = index.get(signature)
        if at is None:
            at = index[signature] = len(names)
            names.append(signature)
        of_tokens[slot] = at
    return of_tokens[window.texts], names


def _group(kind, keys, members, window, min_count):
    """The clusters of one kind: ``keys[i]`` groups incident position ``members[i]``."""
    keep = keys >= 0
    keys, members = keys[keep], members[keep]
    if not len(keys):
        return []
    values, dense = np.unique(keys, return_inverse=True)
    counts = np.bincount(dense)
    big = counts[dense] >= min_count
    dense, members = dense[big], members[big]
    if not len(dense):
        return []
    # By cluster, most recent first within each.
    order = np.lexsort((-window.created[members], dense))
    dense, members = dense[order], members[order]
    starts = np.flatnonzero(np.r_[True, dense[1:] != dense[:-1]])
    ends = np.r_[starts[1:], len(dense)]
    weights = np.bincount(dense, weights=window.weights[members])
    out = []
    for start, end in zip(starts.tolist(), ends.tolist(), strict=True):
        seg = members[start:end]
        key = int(dense[start])
        owners, per = np.unique(window.customers[seg], return_counts=True)
        out.append(
            Found(
                kind=kind,
                value=values[key].item(),
                count=end - start,
                impact_score=int(weights[key]),
                first_seen=float(window.created[seg[-1]]),
                last_seen=float(window.created[seg[0]]),
                members=seg,
                per_customer=dict(zip(owners.tolist(), per.tolist(), strict=True)),
            )
        )
    return out


def _select(found):
    """The clusters kept of one kind: the largest overall and each customer's largest."""
    ranked = sorted(found, key=lambda f: (-f.count, -f.impact_score, str(f.value)))
    keep = {id(f): f for f in ranked[:TOP_PER_KIND]}
    by_customer = {}
    for f in ranked[TOP_PER_KIND:]:
        for customer, n in f.per_customer.items():
            by_customer.setdefault(customer, []).append((n, f.impact_score, f))
    for entries in by_customer.values():
        entries.sort(key=lambda e: (-e[0], -e[1]))
        for _n, _score, f in entries[:TOP_PER_CUSTOMER]:
            keep[id(f)] = f
    return [f for f in ranked if id(f) in keep]


def quotas(per_customer, cap):
    """How many members of each customer a capped cluster keeps: in proportion to the
    customer's share, at least one each, at most ``cap`` in all (when there are more
    customers than that, the largest ``cap`` customers keep one each)."""
    total = sum(per_customer.values())
    if total <= cap:
        return dict(per_customer)
    largest = sorted(per_customer, key=lambda c: (-per_customer[c], c))
    if len(largest) >= cap:
        return dict.fromkeys(largest[:cap], 1)
    out = {c: max(1, per_customer[c] * cap // total) for c in largest}
    excess = sum(out.values()) - cap
    for c in largest:
        if excess <= 0:
            break
        cut = min(excess, out[c] - 1)
        out[c] -= cut
        excess -= cut
    return out


def _member_pairs(f, window):
    seg = f.members
    if f.count > MEMBER_CAP:
        owners = window.customers[seg]
        parts = [seg[owners == c][:n] for c, n in quotas(f.per_customer, MEMBER_CAP).items()]
        seg = np.concatenate(parts)
        seg = seg[np.argsort(-window.created[seg], kind="stable")]
    return [[int(i), int(c)] for i, c in zip(window.ids[seg], window.customers[seg], strict=True)]


def _labels(kind, chosen, window, signatures):
    ids = [f.value for f in chosen]
    if kind == ClusterKind.SERVICE:
        names = dict(Service.objects.filter(pk__in=ids).values_list("pk", "name"))
    elif kind == ClusterKind.CATEGORY:
        names = dict(Category.objects.filter(pk__in=ids).values_list("pk", "path"))
    elif kind == ClusterKind.CI:
        from accord.cmdb.models import ConfigurationItem

        names = dict(ConfigurationItem.objects.filter(pk__in=ids).values_list("pk", "name"))
    else:
        names = {}
    out = []
    for f in chosen:
        if kind == ClusterKind.TEXT:
            common = Counter(window.texts[f.members].tolist()).most_common(1)[0][0]
            example = window.examples[common]
            label = f"{f.value} — {_('e.g.')} “{example}”"
        else:
            label = names.get(f.value, f"#{f.value}")
        out.append(label[:300])
    return out


def analyse(since, until, min_count, progress=None):
    """Find the clusters of the window; returns an Analysis."""
    window = _Window(since, until, progress)
    if progress is not None:
        progress(window.size)
    everyone = np.arange(window.size, dtype=np.int64)
    text_keys, signature_names = _signatures(window, min_count)
    ci_keys, ci_members = _ci_links(window)
    groups = {
        ClusterKind.SERVICE: (window.services, everyone),
        ClusterKind.CI: (ci_keys, ci_members),
        ClusterKind.CATEGORY: (window.categories, everyone),
        ClusterKind.TEXT: (text_keys, everyone),
    }
    clusters, found_per_kind = [], {}
    for kind, (keys, members) in groups.items():
        found = _group(kind, keys, members, window, min_count)
        if kind == ClusterKind.TEXT:
            for f in found:
                f.value = signature_names[f.value]
        found_per_kind[str(kind)] = len(found)
        chosen = _select(found)
        for f, label in zip(chosen, _labels(kind, chosen, window, signature_names), strict=True):
            clusters.append((f, label, _member_pairs(f, window)))
    return Analysis(scanned=window.size, clusters=clusters, found_per_kind=found_per_kind)


def _instant(seconds):
    return datetime.datetime.fromtimestamp(seconds, datetime.UTC)


def save(run, analysis):
    """Store a run's clusters and mark it done, in one transaction."""
    rows = [
        TrendCluster(
            run=run,
            kind=f.kind,
            key=str(f.value)[:200],
            label=label,
            count=f.count,
            impact_score=f.impact_score,
            first_seen=_instant(f.first_seen),
            last_seen=_instant(f.last_seen),
            members=members,
        )
        for f, label, members in analysis.clusters
    ]
    with transaction.atomic():
        TrendCluster.objects.filter(run=run).delete()
        TrendCluster.objects.bulk_create(rows, batch_size=100)
        TrendRun.objects.filter(pk=run.pk).update(
            state=TrendRun.State.DONE,
            finished_at=timezone.now(),
            incidents_scanned=analysis.scanned,
        )
