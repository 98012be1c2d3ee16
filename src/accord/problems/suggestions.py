"""Known errors that may explain an incident: the open ones of the same service, of
the same configuration item, or with similar words, best first.

Score of a known error (higher first; the service and CI read from the database):

* similar words, up to ``WORDS``: the share of the incident's words (its short
  description counting double) found in the known error's search entry, each word
  weighed by how rare it is among known errors, a word in the known error's title
  counting fully and one only in its symptoms, root cause or workaround by half;
* ``CI`` when it names one of the incident's configuration items (CMDB links);
* ``SERVICE`` when it is one of the incident's service's known errors.

A known error that shares neither service nor CI must match at least ``MIN_WORDS``.
Ties go to the workaround that served more incidents, then to the newest.

Why the words are matched in memory and not in the database's full-text index: the
search index holds every record type, and at a million incidents the words of an
ordinary incident ("VPN client keeps disconnecting") occur in tens of thousands of
incidents each; SQLite's FTS5 and PostgreSQL's GIN must walk all of those entries to
find the few thousand known errors among them, which measured 50-200 ms per word.
So each process keeps a word index of the known errors' search entries (the same
title and body ``accord.core.search`` indexes): for 50,000 known errors about 13 MB,
built in about 10 s on a busy two-core machine, a millisecond or two per question.
It stays current through the change log: before answering, a process re-reads the
known errors that changed since it last looked (one indexed query on the change
log's time), so a new or edited known error is suggested by every process at once.
Status, visibility, services and CI links of the final candidates always come from
the database.
"""

import datetime
import logging
import re
import threading
import time
import unicodedata
from dataclasses import dataclass, field

import numpy as np
from django.contrib.contenttypes.models import ContentType
from django.db.models import Exists, F, OuterRef
from django.utils import timezone

from accord.cmdb.models import CILink, ConfigurationItem
from accord.core.models import ObjectChange, SearchEntry
from accord.core.policy import restrict, scope_for

from .choices import KnownErrorStatus
from .models import KnownError, KnownErrorUse

log = logging.getLogger(__name__)

LIMIT = 5
WORDS = 6.0
CI = 3.0
SERVICE = 2.0
MIN_WORDS = 1.5
SHORT_WEIGHT = 2.0
BODY_SHARE = 0.5
MAX_TERMS = 64
# Candidates taken from the word index at a time before the database has its say
# (the index knows status and customers, so few are turned down).
POOL = 10
# The change log is re-read this far behind the last look, for writes whose
# transactions committed after a later one was seen.
WINDOW_SECONDS = 120
# More changed known errors than this since the last look: build anew.
MAX_CHANGES = 2000

# Words that say nothing about what went wrong (English, the source language).
# Rarity weighs the rest, but among a few known errors even "the" looks rare.
STOPWORDS = frozenset(
    """a about after again all also am an and any are as at be been before being but by
    can cannot could did do does doing done every for from get gets got had has have having he
    her him his how i if in into is it its just me my no not now of on once only or our
    out over same she should since so some still such than that the their them then there these
    they this those to too under until up us very was we were what when where which while
    who why will with would yet you your""".split()
)
_WORD = re.compile(r"\w+", re.UNICODE)
_MARKS = re.compile("[\u0300-\u036f]")  # combining accents, once letters are decomposed


def terms_of(text: str) -> list[str]:
    """Words as the search index sees them: lower case, accents removed (SQLite's
    FTS5 ``remove_diacritics``), one letter alone ignored."""
    text = (text or "").lower()
    if not text.isascii():
        text = _MARKS.sub("", unicodedata.normalize("NFKD", text))
    return [t for t in _WORD.findall(text) if len(t) > 1]


def _term_set(text: str) -> frozenset:
    """The words of an indexed text as ``terms_of`` finds them (single letters are
    kept here, but no question ever asks for one)."""
    text = (text or "").lower()
    if not text.isascii():
        text = _MARKS.sub("", unicodedata.normalize("NFKD", text))
    return frozenset(_WORD.findall(text))


@dataclass
class Doc:
    """One known error as the word index knows it."""

    pk: int
    open: bool
    customers: frozenset
    services: frozenset
    title: frozenset
    words: frozenset  # title and body


@dataclass
class WordIndex:
    """The known errors of one process: words (compressed postings), status,
    customers and services, each by position ``i`` (``pks[i]`` is the known error)."""

    pks: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    position: dict = field(default_factory=dict)  # pk -> i
    open: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))
    shared: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))
    by_customer: dict = field(default_factory=dict)  # customer id -> bool array
    by_service: dict = field(default_factory=dict)  # service id -> bool array
    vocabulary: dict = field(default_factory=dict)  # term -> k
    title_start: np.ndarray = field(default_factory=lambda: np.zeros(1, dtype=np.int64))
    title_docs: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int32))
    word_start: np.ndarray = field(default_factory=lambda: np.zeros(1, dtype=np.int64))
    word_docs: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int32))
    # Known errors changed since the postings were built: scored from these instead.
    changed: dict = field(default_factory=dict)  # i -> Doc
    built_at: float = 0.0
    seen_at: object = None  # change log time of the last look
    # Change log rows in the window already applied, as (id, time): an id alone
    # could come again after a rollback.
    seen: set = field(default_factory=set)

    @property
    def size(self):
        return len(self.pks)

    # --- building -------------------------------------------------------------
    @classmethod
    def build(cls, docs):
        index = cls()
        n = len(docs)
        index.pks = np.fromiter((d.pk for d in docs), dtype=np.int64, count=n)
        index.position = {d.pk: i for i, d in enumerate(docs)}
        index.open = np.fromiter((d.open for d in docs), dtype=bool, count=n)
        index.shared = np.fromiter((not d.customers for d in docs), dtype=bool, count=n)
        for i, d in enumerate(docs):
            for c in d.customers:
                index._flags(index.by_customer, c)[i] = True
            for s in d.services:
                index._flags(index.by_service, s)[i] = True
        vocabulary = index.vocabulary
        postings = {}
        for name in ("title", "words"):
            terms, owners = [], []
            for i, d in enumerate(docs):
                ks = [vocabulary.setdefault(t, len(vocabulary)) for t in getattr(d, name)]
                terms.extend(ks)
                owners.extend([i] * len(ks))
            postings[name] = (terms, owners)
        index.title_start, index.title_docs = index._postings(*postings["title"])
        index.word_start, index.word_docs = index._postings(*postings["words"])
        index.built_at = time.monotonic()
        return index

    def _postings(self, terms, owners):
        """Compressed rows: the positions having term k are docs[start[k]:start[k+1]],
        ascending."""
        terms = np.asarray(terms, dtype=np.int32)
        owners = np.asarray(owners, dtype=np.int32)
        order = np.argsort(terms, kind="stable")  # owners stay ascending per term
        start = np.searchsorted(terms[order], np.arange(len(self.vocabulary) + 1))
        return start.astype(np.int64), owners[order]

    def _flags(self, table, key):
        flags = table.get(key)
        if flags is None or len(flags) < self.size:
            grown = np.zeros(self.size, dtype=bool)
            if flags is not None:
                grown[: len(flags)] = flags
            table[key] = flags = grown
        return flags

    def apply(self, docs, gone=()):
        """Known errors changed (or new) since the build, and ones that are gone."""
        for pk in gone:
            i = self.position.get(pk)
            if i is not None:
                self.open[i] = False
        for d in docs:
            i = self.position.get(d.pk)
            if i is None:
                i = self.size
                self.position[d.pk] = i
                self.pks = np.append(self.pks, d.pk)
                self.open = np.append(self.open, False)
                self.shared = np.append(self.shared, False)
            self.open[i] = d.open
            self.shared[i] = not d.customers
            for table, keys in ((self.by_customer, d.customers), (self.by_service, d.services)):
                for key, flags in list(table.items()):
                    if len(flags) < self.size:
                        flags = self._flags(table, key)
                    flags[i] = key in keys
                for key in keys:
                    self._flags(table, key)[i] = True
            self.changed[i] = d

    # --- questions ------------------------------------------------------------
    def _docs_of(self, kind, k):
        start, docs = (
            (self.title_start, self.title_docs)
            if kind == "title"
            else (self.word_start, self.word_docs)
        )
        if k + 1 >= len(start):
            return docs[:0]
        return docs[start[k] : start[k + 1]]

    def word_scores(self, weighted_terms):
        """(scores in [0, WORDS] by position, {term: weight}) for {term: weight of
        the term in the incident}: the weight of the words a known error has, over
        the weight of all the incident's words."""
        n = self.size
        scores = np.zeros(n, dtype=np.float32)
        weights = {}
        changed = list(self.changed.values())
        unknown = 0.0
        for term, weight in weighted_terms.items():
            k = self.vocabulary.get(term)
            docs = self._docs_of("words", k) if k is not None else None
            frequency = len(docs) if docs is not None else 0
            if changed:
                frequency += sum(1 for d in changed if term in d.words)
            if not frequency:
                # A word of the short description that no known error has still
                # counts (as the rarest word would): the incident is about something
                # no known error describes. One of the description's does not.
                if weight >= SHORT_WEIGHT:
                    unknown += weight * float(np.log1p(n))
                continue
            w = weight * float(np.log1p(n / frequency))
            weights[term] = w
            if docs is not None:
                scores[docs] += w * BODY_SHARE
                scores[self._docs_of("title", k)] += w * (1 - BODY_SHARE)
        if self.changed:
            at = np.fromiter(self.changed, dtype=np.int64, count=len(self.changed))
            scores[at] = [self._doc_score(d, weights) for d in changed]
        total = sum(weights.values()) + unknown
        if total:
            scores *= WORDS / total
        return scores, weights

    @staticmethod
    def _doc_score(doc, weights):
        return sum(
            w * (1.0 if t in doc.title else BODY_SHARE)
            for t, w in weights.items()
            if t in doc.words
        )

    def matched_terms(self, i, weights):
        """The incident's words that the known error at ``i`` has, heaviest first."""
        doc = self.changed.get(i)
        found = []
        for term, w in weights.items():
            if doc is not None:
                hit = term in doc.words
            else:
                k = self.vocabulary.get(term)
                hit = k is not None and _contains(self._docs_of("words", k), i)
            if hit:
                found.append((w, term))
        return [t for _w, t in sorted(found, reverse=True)]

    def visible(self, scope):
        if scope.all_customers:
            return np.ones(self.size, dtype=bool)
        mask = self.shared.copy()
        for c in scope.customer_ids:
            flags = self.by_customer.get(c)
            if flags is not None:
                mask[: len(flags)] |= flags
        return mask


def _contains(sorted_array, value):
    j = int(np.searchsorted(sorted_array, value))
    return j < len(sorted_array) and int(sorted_array[j]) == value


# --- the process's index ----------------------------------------------------------
_lock = threading.Lock()
_current: WordIndex | None = None


def forget():
    """Drop this process's index (tests; the next question builds it anew)."""
    global _current
    with _lock:
        _current = None


def _load_docs(pks=None):
    """Doc of every known error (or of ``pks``), from the tables and the search
    entries."""
    ct = ContentType.objects.get_for_model(KnownError)
    rows = KnownError.objects.order_by("pk")
    if pks is not None:
        rows = rows.filter(pk__in=pks)
    status = dict(rows.values_list("pk", "status"))
    wanted = list(status) if pks is not None else None
    customers, services = {}, {}
    through = KnownError.customers.through.objects.all()
    if wanted is not None:
        through = through.filter(knownerror_id__in=wanted)
    for ke, c in through.values_list("knownerror_id", "customer_id").iterator(chunk_size=20000):
        customers.setdefault(ke, set()).add(c)
    through = KnownError.services.through.objects.all()
    if wanted is not None:
        through = through.filter(knownerror_id__in=wanted)
    for ke, s in through.values_list("knownerror_id", "service_id").iterator(chunk_size=20000):
        services.setdefault(ke, set()).add(s)
    entries = SearchEntry.objects.filter(content_type=ct)
    if wanted is not None:
        entries = entries.filter(object_id__in=wanted)
    docs = []
    for pk, title, body in entries.values_list("object_id", "title", "body").iterator(
        chunk_size=5000
    ):
        if pk not in status:
            continue
        title_terms = _term_set(title)
        docs.append(
            Doc(
                pk=pk,
                open=status[pk] == KnownErrorStatus.OPEN,
                customers=frozenset(customers.get(pk, ())),
                services=frozenset(services.get(pk, ())),
                title=title_terms,
                words=title_terms | _term_set(body),
            )
        )
    docs.sort(key=lambda d: d.pk)
    return docs


def _recent_changes(since):
    """The change log's rows for known errors since ``since``. Read through the index
    on the time alone: given the choice, the databases take the one on the record
    type, which holds every change ever made to a known error (``+ 0`` takes that
    choice away)."""
    ct = ContentType.objects.get_for_model(KnownError)
    return (
        ObjectChange.objects.alias(kind=F("content_type_id") + 0)
        .filter(time__gte=since, kind=ct.pk)
        .order_by()
    )


def _changes_since(index):
    """Known errors written since the index last looked (the change log)."""
    since = index.seen_at - datetime.timedelta(seconds=WINDOW_SECONDS)
    rows = list(_recent_changes(since).values_list("pk", "object_id", "time")[: MAX_CHANGES + 1])
    fresh = [(pk, obj, at) for pk, obj, at in rows if (pk, at) not in index.seen]
    return rows, fresh


def current() -> WordIndex:
    """This process's word index, brought up to date with the change log."""
    global _current
    with _lock:
        index = _current
        now = timezone.now()
        if index is None:
            index = _build(now)
        else:
            rows, fresh = _changes_since(index)
            if len(rows) > MAX_CHANGES or len(index.changed) > MAX_CHANGES:
                index = _build(now)
            elif fresh:
                pks = {obj for _pk, obj, _at in fresh}
                docs = _load_docs(pks)
                index.apply(docs, gone=pks - {d.pk for d in docs})
                index.seen |= {(pk, at) for pk, _obj, at in fresh}
            index.seen_at = now
            cutoff = now - datetime.timedelta(seconds=2 * WINDOW_SECONDS)
            if len(index.seen) > MAX_CHANGES:
                index.seen = {(pk, at) for pk, _o, at in rows if at >= cutoff}
        _current = index
        return index


def _build(now):
    t0 = time.perf_counter()
    # The change log first: whatever is written while the tables are read is
    # applied on the next look.
    seen = set(
        _recent_changes(now - datetime.timedelta(seconds=WINDOW_SECONDS)).values_list("pk", "time")
    )
    index = WordIndex.build(_load_docs())
    index.seen_at = now
    index.seen = seen
    log.info(
        "Known error word index: %s known errors in %.1f s", index.size, time.perf_counter() - t0
    )
    return index


# --- suggestions --------------------------------------------------------------------
@dataclass
class Suggestion:
    known_error: KnownError
    score: float
    same_service: bool
    same_cis: list
    words: list  # the incident's words it has, heaviest first
    applied: bool = False
    position: int = -1  # in the word index


def weighted_terms(short_description="", description=""):
    out = {}
    for term in terms_of(description)[: MAX_TERMS * 4]:
        if term not in STOPWORDS:
            out.setdefault(term, 1.0)
    for term in terms_of(short_description):
        if term not in STOPWORDS:
            out[term] = SHORT_WEIGHT
    if len(out) > MAX_TERMS:
        # The short description's words first, then the description's in order.
        keep = sorted(out.items(), key=lambda kv: -kv[1])[:MAX_TERMS]
        out = dict(keep)
    return out


def for_incident(incident, user, limit=LIMIT):
    """Suggestions for an incident the user has opened (its service, the CIs the CMDB
    links to it, its words); those already applied are marked."""
    from accord.incidents.models import Incident

    named = CILink.objects.filter(
        content_type=ContentType.objects.get_for_model(Incident), object_id=incident.pk
    ).values("ci_id")
    return suggest(
        user,
        service_id=incident.service_id,
        ci_ids=named,
        short_description=incident.short_description,
        description=incident.description,
        limit=limit,
        incident=incident,
    )


def suggest(
    user,
    *,
    service_id=None,
    ci_ids=(),
    short_description="",
    description="",
    limit=LIMIT,
    incident=None,
):
    """The open known errors the user may see that match, best first (at most
    ``limit``). ``ci_ids`` is a list of CI ids or a subquery of them; ``incident``
    (when it exists) marks the suggestions already applied to it."""
    scope = scope_for(user)
    if scope is None or scope.is_customer:
        return []
    if isinstance(ci_ids, list | tuple | set):
        ci_ids = [int(c) for c in ci_ids]
        asks_cis = bool(ci_ids)
    else:
        asks_cis = True  # a subquery: answered with the links below
    terms = weighted_terms(short_description, description)
    if not terms and not service_id and not asks_cis:
        return []
    index = current()
    if index.size == 0:
        return []
    scores, weights = index.word_scores(terms)
    # The known errors that name one of the CIs, among the CIs the user may see
    # (those are named as the reason), in one query.
    by_ci, ci_names = {}, {}
    if asks_cis:
        visible = restrict(ConfigurationItem.objects.filter(pk__in=ci_ids), user).values("pk")
        links = CILink.objects.filter(
            content_type=ContentType.objects.get_for_model(KnownError), ci__in=visible
        )
        for ke, ci, name in links.values_list("object_id", "ci_id", "ci__name"):
            by_ci.setdefault(ke, set()).add(ci)
            ci_names[ci] = name
    ci_hit = np.zeros(index.size, dtype=bool)
    for pk in by_ci:
        i = index.position.get(pk)
        if i is not None:
            ci_hit[i] = True
    total = scores.copy()
    related = ci_hit.copy()
    total[ci_hit] += CI
    service = index.by_service.get(int(service_id)) if service_id else None
    if service is not None:
        hit = np.zeros(index.size, dtype=bool)
        hit[: len(service)] = service
        total[hit] += SERVICE
        related |= hit
    eligible = index.open & index.visible(scope) & (related | (scores >= MIN_WORDS))
    candidates = np.flatnonzero(eligible)
    if not len(candidates):
        return []
    # Take the best few, let the database decide (status, visibility, service, CIs
    # as they are now); when it turns many down, take the next few.
    wanted = min(len(candidates), POOL * 20)
    if wanted < len(candidates):
        candidates = candidates[np.argpartition(-total[candidates], wanted - 1)[:wanted]]
    order = candidates[np.argsort(-total[candidates], kind="stable")]
    out = []
    for start in range(0, len(order), POOL):
        chunk = order[start : start + POOL]
        out += _confirm(user, index, chunk, scores, service_id, by_ci, ci_names, incident)
        if len(out) >= limit:
            break
    out.sort(key=lambda s: (-s.score, -s.known_error.use_count, -s.known_error.pk))
    out = out[:limit]
    for s in out:
        if scores[s.position]:
            s.words = index.matched_terms(s.position, weights)[:5]
    return out


def _confirm(user, index, positions, scores, service_id, by_ci, ci_names, incident):
    """The candidates at ``positions`` as the database has them now: open, visible,
    of the service or not, applied to the incident or not."""
    pks = {int(index.pks[i]): int(i) for i in positions}
    rows = restrict(KnownError.objects.filter(pk__in=list(pks), status=KnownErrorStatus.OPEN), user)
    if service_id:
        rows = rows.annotate(
            same_service=Exists(
                KnownError.services.through.objects.filter(
                    knownerror_id=OuterRef("pk"), service_id=service_id
                )
            )
        )
    if incident is not None:
        rows = rows.annotate(
            applied=Exists(
                KnownErrorUse.objects.filter(known_error_id=OuterRef("pk"), incident=incident)
            )
        )
    out = []
    for known in rows:
        i = pks[known.pk]
        words = float(scores[i])
        cis = sorted(ci_names[c] for c in by_ci.get(known.pk, ()))
        same_service = bool(getattr(known, "same_service", False))
        if not same_service and not cis and words < MIN_WORDS:
            continue
        out.append(
            Suggestion(
                known_error=known,
                score=round(words + (SERVICE if same_service else 0) + (CI if cis else 0), 3),
                same_service=same_service,
                same_cis=cis,
                words=[],
                applied=bool(getattr(known, "applied", False)),
                position=i,
            )
        )
    return out
