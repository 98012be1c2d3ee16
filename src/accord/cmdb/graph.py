"""Impact analysis over the CMDB's relationships.

Each process keeps the graph in memory (rustworkx) as "a failure of u affects v"
edges: a relationship contributes edges by its type's impact flow (``depends on``:
a failure of the target affects the source; ``part of``: of the source, the target;
``connects to``: both; ``backed up by``: none). Downstream of a CI is what its
failure affects; upstream is what it relies on.

The copy stays current through GraphEvent rows that every change writes (signals
below): before answering, a process applies the events it has not seen (one indexed
query), and reloads everything on a ``reload`` event (a bulk import, an edited
relationship type, the nightly pruning of old events). Events whose transactions
commit out of id order are caught by re-reading a window of recent ids.
"""

import heapq
import logging
import threading
import time
from dataclasses import dataclass, field

import numpy as np
import rustworkx as rx
from django.db import connection
from django.db.models import signals
from django.utils.translation import gettext as _

from accord.core.policy import scope_for

from .choices import ImpactFlow
from .models import CIType, ConfigurationItem, GraphEvent, Relationship, RelationshipType

log = logging.getLogger(__name__)

WINDOW = 500  # ids re-read behind the newest applied one
MAX_PENDING = 5000  # more events than this: reload instead


@dataclass(slots=True)
class Node:
    ci_id: int
    name: str
    type_id: int
    status: str
    customers: frozenset
    services: tuple


@dataclass
class ImpactGraph:
    graph: rx.PyDiGraph = field(default_factory=lambda: rx.PyDiGraph(multigraph=False))
    rgraph: rx.PyDiGraph = field(default_factory=lambda: rx.PyDiGraph(multigraph=False))
    index: dict = field(default_factory=dict)  # ci id -> node index
    nodes: dict = field(default_factory=dict)  # node index -> Node
    flows: dict = field(default_factory=dict)  # relationship type id -> (name, reverse, flow)
    # For answering in set operations rather than a Python step per CI reached:
    sort_keys: dict = field(default_factory=dict)  # node index -> "name\0id" for ordering
    shared: set = field(default_factory=set)  # node indices of CIs with no customer
    by_customer: dict = field(default_factory=dict)  # customer id -> node indices
    by_service: dict = field(default_factory=dict)  # service id -> node indices
    generation: int = 0  # bumped on every change; keys the visible-set cache
    shape: int = 0  # bumped when CIs or edges come or go; keys the adjacency arrays
    _visible_cache: dict = field(default_factory=dict)
    _csr: tuple | None = None
    _depth_cache: dict = field(default_factory=dict)
    _services: tuple | None = None
    applied: set = field(default_factory=set)  # recent event ids applied
    last: int = 0
    key: tuple = ()

    # --- building -----------------------------------------------------------
    def load(self):
        self.graph = rx.PyDiGraph(multigraph=False)
        self.rgraph = rx.PyDiGraph(multigraph=False)  # the same edges reversed
        self.index, self.nodes, self.applied = {}, {}, set()
        self.sort_keys, self.shared, self.by_customer, self.by_service = {}, set(), {}, {}
        self._changed()
        self.shape += 1
        self.last = GraphEvent.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
        # What the rows read below already reflect; later events are applied on top.
        self.applied = set(
            GraphEvent.objects.filter(pk__gt=self.last - WINDOW).values_list("pk", flat=True)
        )
        self.flows = {
            pk: (name, reverse, flow)
            for pk, name, reverse, flow in RelationshipType.objects.values_list(
                "pk", "name", "reverse_name", "impact"
            )
        }
        customers, services = _m2m_maps()
        rows = list(ConfigurationItem.objects.values_list("pk", "name", "ci_type_id", "status"))
        pks = [row[0] for row in rows]
        indices = self.graph.add_nodes_from(pks)
        if list(self.rgraph.add_nodes_from(pks)) != list(indices):
            raise RuntimeError("impact graph indices out of step")
        self.index = dict(zip(pks, indices, strict=True))
        nodes, sort_keys, shared = self.nodes, self.sort_keys, self.shared
        by_customer, by_service = self.by_customer, self.by_service
        for (pk, name, type_id, status), idx in zip(rows, indices, strict=True):
            mine, used = customers.get(pk, ()), services.get(pk, ())
            nodes[idx] = Node(pk, name, type_id, status, frozenset(mine), tuple(used))
            sort_keys[idx] = f"{name.lower()}\0{pk:020d}"
            if mine:
                for c in mine:
                    by_customer.setdefault(c, set()).add(idx)
            else:
                shared.add(idx)
            for service in used:
                by_service.setdefault(service, set()).add(idx)
        del rows
        # Edges with a count per (relationship type, direction): several relationships
        # can make one edge, and removing one of them must not remove the edge.
        flows = {pk: flow for pk, (_n, _r, flow) in self.flows.items()}
        index = self.index
        edges = {}
        links = Relationship.objects.values_list("source_id", "target_id", "rel_type_id")
        for source, target, rel in links.iterator(chunk_size=20000):
            s, t, flow = index.get(source), index.get(target), flows.get(rel)
            if s is None or t is None:
                continue
            if flow == ImpactFlow.TO_SOURCE or flow == ImpactFlow.BOTH:
                counts = edges.get((t, s))
                if counts is None:
                    edges[(t, s)] = {(rel, False): 1}
                else:
                    counts[(rel, False)] = counts.get((rel, False), 0) + 1
            if flow == ImpactFlow.TO_TARGET or flow == ImpactFlow.BOTH:
                counts = edges.get((s, t))
                if counts is None:
                    edges[(s, t)] = {(rel, True): 1}
                else:
                    counts[(rel, True)] = counts.get((rel, True), 0) + 1
        self.graph.extend_from_weighted_edge_list([(u, v, w) for (u, v), w in edges.items()])
        self.rgraph.extend_from_weighted_edge_list([(v, u, w) for (u, v), w in edges.items()])

    def _put(self, pk, name, type_id, status, customers, services):
        node = Node(pk, name, type_id, status, frozenset(customers), tuple(services))
        idx = self.index.get(pk)
        if idx is None:
            idx = self.graph.add_node(pk)
            if self.rgraph.add_node(pk) != idx:  # both graphs get the same operations
                raise RuntimeError("impact graph indices out of step")
            self.index[pk] = idx
            self.shape += 1
        else:
            self._unfile(idx)
        self.nodes[idx] = node
        self.sort_keys[idx] = f"{name.lower()}\0{pk:020d}"
        if node.customers:
            for c in node.customers:
                self.by_customer.setdefault(c, set()).add(idx)
        else:
            self.shared.add(idx)
        for s in node.services:
            self.by_service.setdefault(s, set()).add(idx)

    def _unfile(self, idx):
        old = self.nodes.get(idx)
        if old is None:
            return
        self.shared.discard(idx)
        for c in old.customers:
            self.by_customer.get(c, set()).discard(idx)
        for s in old.services:
            self.by_service.get(s, set()).discard(idx)

    def _changed(self):
        self.generation += 1
        self._visible_cache = {}

    def visible_set(self, scope):
        """Node indices of the CIs the scope may see (None: all of them)."""
        if scope.all_customers:
            return None
        key = (scope.is_customer, scope.customer_ids)
        found = self._visible_cache.get(key)
        if found is None:
            found = set() if scope.is_customer else set(self.shared)
            for c in scope.customer_ids:
                found |= self.by_customer.get(c, set())
            if len(self._visible_cache) > 50:
                self._visible_cache = {}
            self._visible_cache[key] = found
        return found

    def _edges(self, source, target, rel_type_id):
        """The edges (u, v, key) a relationship contributes: a failure of u affects v;
        the key is (relationship type, whether u is the relationship's source), which
        an edge keeps a count of (several relationships can make one edge)."""
        s, t = self.index.get(source), self.index.get(target)
        if s is None or t is None:
            return []
        flow = self.flows.get(rel_type_id, (None, None, ImpactFlow.NONE))[2]
        forward, backward = (s, t, (rel_type_id, True)), (t, s, (rel_type_id, False))
        return {
            ImpactFlow.TO_SOURCE: [backward],
            ImpactFlow.TO_TARGET: [forward],
            ImpactFlow.BOTH: [backward, forward],
        }.get(flow, [])

    # --- keeping current ----------------------------------------------------------
    def refresh(self):
        events = list(
            GraphEvent.objects.filter(pk__gt=max(0, self.last - WINDOW))
            .order_by("pk")
            .values_list("pk", "op", "ci_id", "source_id", "target_id", "rel_type_id")[
                : MAX_PENDING + WINDOW
            ]
        )
        fresh = [e for e in events if e[0] not in self.applied]
        if len(events) >= MAX_PENDING + WINDOW or any(e[1] == GraphEvent.RELOAD for e in fresh):
            self.load()
            return
        if fresh:
            self._changed()
        changed_cis = [e[2] for e in fresh if e[1] == GraphEvent.CI]
        if changed_cis:
            self._reload_cis(changed_cis)
        for _pk, op, _ci, source, target, rel in fresh:
            if op == GraphEvent.LINK_ADDED:
                self._link(source, target, rel, +1)
            elif op == GraphEvent.LINK_REMOVED:
                self._link(source, target, rel, -1)
        for e in fresh:
            self.applied.add(e[0])
            self.last = max(self.last, e[0])
        if len(self.applied) > 4 * WINDOW:
            self.applied = {i for i in self.applied if i > self.last - WINDOW}

    def _reload_cis(self, ids):
        ids = sorted(set(ids))
        customers, services = _m2m_maps(ids)
        found = {}
        for pk, name, type_id, status in ConfigurationItem.objects.filter(pk__any=ids).values_list(
            "pk", "name", "ci_type_id", "status"
        ):
            found[pk] = True
            self._put(pk, name, type_id, status, customers.get(pk, ()), services.get(pk, ()))
        for pk in ids:
            if pk not in found and pk in self.index:
                idx = self.index.pop(pk)
                self._unfile(idx)
                self.nodes.pop(idx, None)
                self.sort_keys.pop(idx, None)
                self.graph.remove_node(idx)
                self.rgraph.remove_node(idx)
                self.shape += 1

    def _link(self, source, target, rel, delta):
        for u, v, key in self._edges(source, target, rel):
            data = self.graph.get_edge_data(u, v) if self.graph.has_edge(u, v) else None
            if data is None:
                if delta > 0:
                    data = {key: 1}  # one dict, shared by both graphs
                    self.graph.add_edge(u, v, data)
                    self.rgraph.add_edge(v, u, data)
                    self.shape += 1
                continue
            data[key] = data.get(key, 0) + delta
            if data[key] <= 0:
                del data[key]
            if not data:
                self.graph.remove_edge(u, v)
                self.rgraph.remove_edge(v, u)
                self.shape += 1

    # --- questions ------------------------------------------------------------------
    # The searches run over compressed adjacency arrays (numpy), rebuilt from the
    # graph when its shape has changed: a breadth-first search that reaches 90% of
    # 100,000 CIs is a few vectorised steps per level rather than a Python (or
    # rustworkx) step per CI, and what is done with the result is array arithmetic.
    def _arrays(self):
        """(size, down, up): each direction as (indptr, indices) over node indices."""
        if self._csr is None or self._csr[0] != self.shape:
            size = max(self.graph.node_indices(), default=-1) + 1
            edges = np.array(self.graph.edge_list(), dtype=np.int64).reshape(-1, 2)
            down = _adjacency(edges[:, 0], edges[:, 1], size)
            up = _adjacency(edges[:, 1], edges[:, 0], size)
            self._csr = (self.shape, size, down, up)
            self._depth_cache.clear()
        return self._csr[1:]

    def search(self, ci_ids, direction="down", max_depth=None):
        """The breadth-first search from the given CIs, as a Reach (arrays callers
        must not change); None when none of the CIs is in the graph. The last few
        answers are kept until the graph's shape changes."""
        sources = tuple(sorted({self.index[c] for c in ci_ids if c in self.index}))
        if not sources:
            return None
        size, down, up = self._arrays()
        key = (sources, direction, max_depth)
        found = self._depth_cache.get(key)
        if found is None:
            indptr, indices = down if direction == "down" else up
            found = _bfs(indptr, indices, np.array(sources, dtype=np.int64), size, max_depth)
            if len(self._depth_cache) >= DEPTH_CACHE:
                self._depth_cache.pop(next(iter(self._depth_cache)))
            self._depth_cache[key] = found
        return found

    def path(self, idx, depth, direction="down", parents=None):
        """One shortest path (node indices) from a source to ``idx``, source first.
        ``parents`` remembers each step taken, for the next path of the same answer
        (paths of one page share most of their steps)."""
        _size, down, up = self._arrays()
        indptr, indices = up if direction == "down" else down  # the way back
        parents = {} if parents is None else parents
        chain, current, level = [idx], idx, depth.item(idx)
        while level > 0:
            step = parents.get(current)
            if step is None:
                step = -1
                back = indices[indptr.item(current) : indptr.item(current + 1)].tolist()
                for candidate in back:
                    if depth.item(candidate) == level - 1:
                        step = candidate
                        break
                parents[current] = step
            if step < 0:
                break
            chain.append(step)
            current = step
            level -= 1
        return chain[::-1]

    def visible_mask(self, scope):
        """A boolean array over node indices of the CIs the scope may see (None: all)."""
        found = self.visible_set(scope)
        if found is None:
            return None
        size = self._arrays()[0]
        key = ("mask", scope.is_customer, scope.customer_ids)
        mask = self._visible_cache.get(key)
        if mask is None or len(mask) != size:
            mask = np.zeros(size, dtype=bool)
            mask[np.fromiter(found, dtype=np.int64, count=len(found))] = True
            self._visible_cache[key] = mask
        return mask

    def service_nodes(self):
        """Service id -> array of the node indices of the CIs that support it."""
        if self._services is None or self._services[0] != self.generation:
            arrays = {
                sid: np.fromiter(members, dtype=np.int64, count=len(members))
                for sid, members in self.by_service.items()
                if members
            }
            self._services = (self.generation, arrays)
        return self._services[1]

    def relation_between(self, u, v, direction="down"):
        """The relationship names behind the step u → v of a path."""
        graph = self.graph if direction == "down" else self.rgraph
        if not graph.has_edge(u, v):
            return ""
        names = set()
        for rel, forward in graph.get_edge_data(u, v):
            name, reverse, _flow = self.flows.get(rel, ("", "", ""))
            # Read along the step: "u <name> v" when u is the relationship's source.
            names.add(name if forward == (direction == "down") else reverse)
        return ", ".join(sorted(names))


DEPTH_CACHE = 8  # searches kept per process (an array of 4 bytes per CI each)


def _adjacency(heads, tails, size):
    """Compressed rows: the tails of node i's edges are indices[indptr[i]:indptr[i+1]]."""
    order = np.argsort(heads, kind="stable")
    indptr = np.zeros(size + 1, dtype=np.int64)
    np.cumsum(np.bincount(heads, minlength=size), out=indptr[1:])
    return indptr, tails[order]


@dataclass(frozen=True)
class Reach:
    """A breadth-first search's answer: ``depth`` is every node's distance (-1: not
    reached); ``order`` the nodes reached, level by level (the sources first), and
    level d is ``order[starts[d]:starts[d + 1]]``. Work on an answer is in
    proportion to what it reached, not to the size of the graph."""

    depth: np.ndarray
    order: np.ndarray
    starts: tuple

    @property
    def levels(self):
        return len(self.starts) - 1


def _bfs(indptr, indices, sources, size, max_depth):
    """Distances from the sources by levels: each level gathers the neighbours of the
    whole frontier at once."""
    depth = np.full(size, -1, dtype=np.int32)
    depth[sources] = 0
    slot = np.empty(size, dtype=np.int64)  # for dropping repeats without sorting
    frontier, level, found_levels = sources, 0, [sources]
    while frontier.size and (max_depth is None or level < max_depth):
        starts = indptr[frontier]
        counts = indptr[frontier + 1] - starts
        total = int(counts.sum())
        if not total:
            break
        # Positions of every neighbour of the frontier in ``indices``.
        positions = np.repeat(starts - (np.cumsum(counts) - counts), counts)
        positions += np.arange(total)
        found = indices[positions]
        found = found[depth[found] < 0]
        if not found.size:
            break
        # A node found several times keeps one of its positions (whichever write
        # lands last); the others are dropped.
        position = np.arange(found.size)
        slot[found] = position
        found = found[slot[found] == position]
        level += 1
        depth[found] = level
        frontier = found
        found_levels.append(found)
    order = np.concatenate(found_levels)
    starts = (0, *np.cumsum([len(f) for f in found_levels]).tolist())
    for array in (depth, order):
        array.flags.writeable = False
    return Reach(depth, order, starts)


_state = {"graph": None, "checked": 0.0, "dirty": False}
_lock = threading.Lock()


def _m2m_maps(ids=None):
    customers, services = {}, {}
    through = ConfigurationItem.customers.through
    rows = (
        through.objects.all()
        if ids is None
        else through.objects.filter(configurationitem_id__any=ids)
    )
    for ci, customer in rows.values_list("configurationitem_id", "customer_id").iterator(
        chunk_size=20000
    ):
        customers.setdefault(ci, []).append(customer)
    through = ConfigurationItem.services.through
    rows = (
        through.objects.all()
        if ids is None
        else through.objects.filter(configurationitem_id__any=ids)
    )
    for ci, service in rows.values_list("configurationitem_id", "service_id").iterator(
        chunk_size=20000
    ):
        services.setdefault(ci, []).append(service)
    return customers, services


CHECK_EVERY = 0.5  # seconds between looks at the events others wrote


def current() -> ImpactGraph:
    """This process's graph, brought up to date: at once after a change made in this
    process, and within half a second of one made in another."""
    key = (connection.alias, connection.settings_dict["NAME"])
    now = time.monotonic()
    with _lock:
        graph = _state["graph"]
        if graph is None or graph.key != key:
            graph = ImpactGraph()
            graph.key = key
            graph.load()
            _state["graph"] = graph
            _state["checked"], _state["dirty"] = now, False
        elif _state["dirty"] or now - _state["checked"] >= CHECK_EVERY:
            _state["checked"], _state["dirty"] = now, False
            graph.refresh()
        return graph


def preload():
    """Load the graph ahead of the first request that needs it (a web process's
    warm-up); nothing to do when the CMDB's tables are not there yet."""
    from django.db import DatabaseError

    try:
        current()
    except DatabaseError:
        log.warning("The impact graph was not preloaded: the database is not ready.")


def forget():
    _state["graph"] = None
    _catalogue_state["stamp"] = None


# --- impact, as users may see it -------------------------------------------------------
@dataclass
class Impact:
    direction: str
    total: int
    depth: int
    items: list  # the page: dicts with id, name, type_id, status, depth, path
    services: list  # Service objects reached (visible to the user)
    customers: list
    agreements: list
    hidden: int  # reached CIs the user may not see (counted, never named)


def may_see(user, ci_id):
    """Whether the user may see the CI, answered from the graph (no query); None
    when the graph does not know the CI (yet): ask the database then."""
    node_index = current().index.get(ci_id)
    if node_index is None:
        return None
    scope = scope_for(user)
    return scope is not None and _visible(scope, current().nodes[node_index])


def _visible(scope, node):
    if scope.all_customers:
        return True
    if scope.is_customer:
        return bool(node.customers & scope.customer_ids)
    return not node.customers or bool(node.customers & scope.customer_ids)


def impact(user, ci_ids, *, direction="down", max_depth=None, offset=0, limit=50):
    """What a failure of the given CIs affects (``down``) or what they rely on
    (``up``), as far as ``max_depth``: the user's page of reached CIs ordered by
    distance then name, each with one path that explains it, and (downstream) the
    services, their customers and the SLAs that cover them. The work per CI reached
    is done in array operations; Python touches only the page."""
    scope = scope_for(user)
    g = current()
    reach = g.search(ci_ids, direction, max_depth)
    if reach is None:
        return Impact(direction, 0, 0, [], [], [], [], 0)
    depth, order, starts = reach.depth, reach.order, reach.starts
    visible = g.visible_mask(scope)
    seen = None if visible is None else visible[order]  # per node of ``order``
    # Level by level, the CIs the user may see (level 0, the CIs asked about, is
    # not listed); the others are counted as hidden.
    shown, hidden = [], 0
    for level in range(1, reach.levels):
        members = order[starts[level] : starts[level + 1]]
        if seen is not None:
            allowed = members[seen[starts[level] : starts[level + 1]]]
            hidden += len(members) - len(allowed)
            members = allowed
        shown.append(members)
    # The page: by distance, then name; only the levels the page reaches are sorted.
    page, skipped = [], 0
    for level, members in enumerate(shown, start=1):
        count = len(members)
        if len(page) >= limit:
            break
        if not count:
            continue
        if skipped + count <= offset:
            skipped += count
            continue
        start = max(0, offset - skipped)
        wanted = start + (limit - len(page))
        first = heapq.nsmallest(wanted, members.tolist(), key=g.sort_keys.__getitem__)
        page += [(level, idx) for idx in first[start:]]
        skipped += count
    nodes, hidden_name, steps, parents = g.nodes, _("(hidden)"), {}, {}
    items = []
    for level, idx in page:
        path = []
        for i in g.path(idx, depth, direction, parents):
            node = nodes[i]
            seen = _visible(scope, node)
            if path:
                via = steps.get((path[-1][0], i))
                if via is None:
                    via = steps[(path[-1][0], i)] = g.relation_between(path[-1][0], i, direction)
            else:
                via = ""
            path.append(
                (
                    i,
                    {
                        "id": node.ci_id if seen else None,
                        "name": node.name if seen else hidden_name,
                        "via": via,
                    },
                )
            )
        node = nodes[idx]
        items.append(
            {
                "id": node.ci_id,
                "name": node.name,
                "type_id": node.type_id,
                "status": node.status,
                "depth": level,
                "path": [step for _i, step in path],
            }
        )
    services, customers, agreements = [], [], []
    if direction == "down":
        touched = np.zeros(len(depth), dtype=bool)
        touched[order if seen is None else order[seen]] = True
        catalogue = _catalogue()
        customer_ids = set()
        for sid, members in g.service_nodes().items():
            row = catalogue["services"].get(sid)
            if row is None or not _service_visible(scope, row) or not touched[members].any():
                continue
            services.append(Ref(sid, row[0], "catalogue:service_detail"))
            customer_ids |= row[2]
        services.sort(key=lambda r: r.name.lower())
        names = catalogue["customers"]
        customers = sorted(
            (
                Ref(c, names[c], "organizations:customer_detail")
                for c in customer_ids
                if c in names and (scope.all_customers or c in scope.customer_ids)
            ),
            key=lambda r: r.name.lower(),
        )
        agreements = _covering(services, {c.pk for c in customers})
    return Impact(
        direction=direction,
        total=sum(len(members) for members in shown),
        depth=reach.levels - 1,
        items=items,
        services=services,
        customers=customers,
        agreements=agreements,
        hidden=hidden,
    )


@dataclass(frozen=True)
class Ref:
    """A service or customer an impact reaches, enough to name and link it."""

    pk: int
    name: str
    url_name: str

    def __str__(self):
        return self.name

    def get_absolute_url(self):
        from django.urls import reverse

        return reverse(self.url_name, args=[self.pk])


_catalogue_state = {"stamp": None, "value": None, "checked": 0.0, "db": None}


def _catalogue():
    """Services (name, status, customers served) and customer names, kept per
    process while neither table changes (their row counts and versions say so:
    every edit through Accord, many-to-many sets included, bumps a version),
    looked at once a second at most."""
    from django.db.models import Count, Max, Sum

    from accord.catalogue.models import Service
    from accord.organizations.models import Customer

    now = time.monotonic()
    if (
        _catalogue_state["stamp"] is not None
        and _catalogue_state["db"] == connection.settings_dict["NAME"]
        and now - _catalogue_state["checked"] < 1.0
    ):
        return _catalogue_state["value"]
    _catalogue_state["checked"] = now
    _catalogue_state["db"] = connection.settings_dict["NAME"]
    stamp = (
        connection.settings_dict["NAME"],
        tuple(
            Service.objects.aggregate(n=Count("pk"), v=Sum("version"), u=Max("updated")).values()
        ),
        tuple(
            Customer.objects.aggregate(n=Count("pk"), v=Sum("version"), u=Max("updated")).values()
        ),
    )
    if _catalogue_state["stamp"] != stamp:
        served = {}
        for sid, cid in Service.customers.through.objects.values_list("service_id", "customer_id"):
            served.setdefault(sid, set()).add(cid)
        _catalogue_state["value"] = {
            "services": {
                pk: (name, status, frozenset(served.get(pk, ())))
                for pk, name, status in Service.objects.values_list("pk", "name", "status")
            },
            "customers": dict(Customer.objects.values_list("pk", "name")),
            "types": dict(CIType.objects.values_list("pk", "key")),
        }
        _catalogue_state["stamp"] = stamp
    return _catalogue_state["value"]


def type_keys():
    """CI type id -> key (for answers that name types)."""
    return _catalogue()["types"]


def _service_visible(scope, row):
    """As Service.scope_allows: staff see the catalogue; a customer user the live
    services their organisation uses."""
    from accord.catalogue.choices import ServiceStatus

    if not scope.is_customer:
        return True
    return row[1] == ServiceStatus.LIVE and bool(row[2] & scope.customer_ids)


def _covering(services, customer_ids):
    """The agreed SLAs, valid today, of those customers that cover those services."""
    from django.utils import timezone

    from accord.slas.choices import AgreementKind
    from accord.slas.clocks import all_agreements

    today = timezone.localdate()
    service_ids = {s.pk for s in services}
    out = []
    for agreement in all_agreements():
        if (
            agreement.kind != AgreementKind.SLA
            or agreement.customer_id not in customer_ids
            or not agreement.is_valid_on(today)
        ):
            continue
        covered = {s.pk for s in agreement.services.all()}
        if (covered & service_ids) or (not covered and service_ids):
            out.append(agreement)
    return out


# --- events -------------------------------------------------------------------------
def _ci_event(sender, instance, **kwargs):
    _state["dirty"] = True
    GraphEvent.objects.create(op=GraphEvent.CI, ci_id=instance.pk)


def _m2m_event(sender, instance, action, pk_set=None, **kwargs):
    if not action.startswith("post_"):
        return
    _state["dirty"] = True
    if isinstance(instance, ConfigurationItem):
        GraphEvent.objects.create(op=GraphEvent.CI, ci_id=instance.pk)
    else:
        # From the other side (a customer's or service's set of CIs).
        GraphEvent.objects.bulk_create(
            [GraphEvent(op=GraphEvent.CI, ci_id=pk) for pk in sorted(pk_set or ())]
            or [GraphEvent(op=GraphEvent.RELOAD)]
        )


def _link_saved(sender, instance, created, changes=None, **kwargs):
    _state["dirty"] = True
    if created:
        GraphEvent.objects.create(
            op=GraphEvent.LINK_ADDED,
            source_id=instance.source_id,
            target_id=instance.target_id,
            rel_type_id=instance.rel_type_id,
        )
    else:
        GraphEvent.objects.create(op=GraphEvent.RELOAD)


def _link_deleted(sender, instance, **kwargs):
    _state["dirty"] = True
    GraphEvent.objects.create(
        op=GraphEvent.LINK_REMOVED,
        source_id=instance.source_id,
        target_id=instance.target_id,
        rel_type_id=instance.rel_type_id,
    )


def _reload_event(sender, **kwargs):
    _state["dirty"] = True
    GraphEvent.objects.create(op=GraphEvent.RELOAD)


def _forget_catalogue(sender, **kwargs):
    _catalogue_state["stamp"] = None


def connect():
    from accord.catalogue.models import Service
    from accord.core.records import record_saved

    signals.m2m_changed.connect(_forget_catalogue, sender=Service.customers.through, weak=False)

    record_saved.connect(_ci_event, sender=ConfigurationItem, weak=False)
    signals.post_delete.connect(_ci_event, sender=ConfigurationItem, weak=False)
    for through in (ConfigurationItem.customers.through, ConfigurationItem.services.through):
        signals.m2m_changed.connect(_m2m_event, sender=through, weak=False)
    record_saved.connect(_link_saved, sender=Relationship, weak=False)
    signals.post_delete.connect(_link_deleted, sender=Relationship, weak=False)
    record_saved.connect(_reload_event, sender=RelationshipType, weak=False)
    signals.post_delete.connect(_reload_event, sender=RelationshipType, weak=False)
