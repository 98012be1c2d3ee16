"""The neighbourhood of a CI as JSON, for the graph the CI page draws in the browser.

``GET /cmdb/<pk>/graph.json?depth=N`` gives the CI and the CIs up to N relationships
away (either direction), with the relationships between them. Only CIs the user may
see take part: a relationship is followed only when the user sees both its ends, so
a CI out of scope is neither drawn nor counted. The browser expands a node by asking
for its own neighbourhood at depth 1, naming the CIs it already shows (``known``) so
that the answer also carries the links to those and counts only what is still hidden.

Each level is read with one query for the relationships of the whole level, so the
cost grows with the depth, not with the number of CIs shown.
"""

from django.db.models import Q
from django.http import JsonResponse
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views import View

from accord.core.policy import restrict, scope_for

from .choices import CIStatus
from .models import ConfigurationItem, Relationship, RelationshipType

MAX_DEPTH = 3
MAX_NODES = 150
# The ids a browser may name as already shown (they travel in the query string).
MAX_KNOWN = 400


class GraphInputError(ValueError):
    def __init__(self, field, message):
        super().__init__(message)
        self.field = field
        self.message = message


def parse_depth(raw):
    if raw is None or raw == "":
        return 1
    text = raw.strip()
    if not (text.isascii() and text.isdigit()) or not 1 <= int(text) <= MAX_DEPTH:
        raise GraphInputError(
            "depth",
            _("Depth must be a whole number from 1 to %(max)s, not “%(value)s”.")
            % {"max": MAX_DEPTH, "value": raw[:20]},
        )
    return int(text)


def parse_known(raw):
    if not raw:
        return frozenset()
    parts = [p.strip() for p in raw.split(",") if p.strip()]
    if len(parts) > MAX_KNOWN:
        raise GraphInputError(
            "known",
            _("At most %(max)s CIs can be named as already shown.") % {"max": MAX_KNOWN},
        )
    bad = next((p for p in parts if not (p.isascii() and p.isdigit()) or len(p) > 18), None)
    if bad is not None:
        raise GraphInputError(
            "known",
            _("Known CIs must be ids separated by commas, not “%(value)s”.") % {"value": bad[:20]},
        )
    return frozenset(int(p) for p in parts)


def _links_of(ids, user):
    """(id, source, target, type) of every relationship of the CIs ``ids`` whose two
    ends the user sees: one query."""
    qs = Relationship.objects.filter(Q(source_id__any=ids) | Q(target_id__any=ids))
    return list(restrict(qs, user).values_list("pk", "source_id", "target_id", "rel_type_id"))


def neighbourhood(centre, user, depth, *, known=frozenset(), cap=MAX_NODES):
    """The graph around ``centre`` (a CI the user sees) as the JSON document the
    browser draws."""
    levels = {centre.pk: 0}
    links = {}
    fetched = set()
    frontier = [centre.pk]
    truncated = False
    for level in range(1, depth + 1):
        found = _links_of(frontier, user)
        fetched.update(frontier)
        for row in found:
            links[row[0]] = row
        candidates = set()
        for _pk, source, target, _type in found:
            for end in (source, target):
                if end not in levels:
                    candidates.add(end)
        room = cap - len(levels)
        if len(candidates) > room:
            truncated = True
            # The ones shown are chosen by name, so the same ones come back each time.
            chosen = list(
                ConfigurationItem.objects.filter(pk__any=list(candidates))
                .order_by("name", "pk")
                .values_list("pk", flat=True)[:room]
            )
        else:
            chosen = sorted(candidates)
        for pk in chosen:
            levels[pk] = level
        frontier = chosen
        if truncated or not frontier:
            break
    rest = [pk for pk in levels if pk not in fetched]
    if rest:
        for row in _links_of(rest, user):
            links[row[0]] = row

    shown = set(levels) | set(known)
    edges = []
    hidden = {pk: set() for pk in levels}
    type_ids = set()
    for pk, source, target, rel_type_id in links.values():
        if source in levels and target in levels:
            edges.append((pk, source, target, rel_type_id))
        elif source in levels or target in levels:
            inside, outside = (source, target) if source in levels else (target, source)
            if outside in shown:
                # A link to a CI the browser already draws (known ids are only ever
                # matched against links whose two ends the user sees).
                edges.append((pk, source, target, rel_type_id))
            else:
                hidden[inside].add(outside)
                continue
        type_ids.add(rel_type_id)
    names = dict(RelationshipType.objects.filter(pk__any=list(type_ids)).values_list("pk", "name"))

    items = (
        ConfigurationItem.objects.filter(pk__any=list(levels))
        .select_related("ci_type")
        .only("pk", "name", "status", "ci_type__name")
    )
    statuses = dict(CIStatus.choices)
    nodes = [
        {
            "id": ci.pk,
            "name": ci.name,
            "type": ci.ci_type.name,
            "status": ci.status,
            "status_label": str(statuses.get(ci.status, ci.status)),
            "url": ci.get_absolute_url(),
            "graph_url": reverse("cmdb:ci_graph", args=[ci.pk]),
            "center": ci.pk == centre.pk,
            "level": levels[ci.pk],
            "more": len(hidden[ci.pk]),
        }
        for ci in items
    ]
    nodes.sort(key=lambda n: (n["level"], n["name"].casefold(), n["id"]))
    return {
        "center": centre.pk,
        "depth": depth,
        "nodes": nodes,
        "edges": [
            {"id": pk, "source": source, "target": target, "label": names.get(rel_type_id, "")}
            for pk, source, target, rel_type_id in sorted(edges, key=lambda e: (e[1], e[2], e[0]))
        ],
        "cap": cap,
        "truncated": truncated,
        "statuses": [{"value": value, "label": str(label)} for value, label in CIStatus.choices],
    }


class CIGraphView(View):
    """The JSON the CI page's graph is drawn from; errors are JSON too."""

    def get(self, request, pk):
        if scope_for(request.user) is None:
            return JsonResponse({"detail": _("Sign in to see this graph.")}, status=403)
        try:
            depth = parse_depth(request.GET.get("depth"))
            known = parse_known(request.GET.get("known"))
        except GraphInputError as exc:
            return JsonResponse({exc.field: [exc.message]}, status=400)
        centre = restrict(ConfigurationItem.objects.all(), request.user).filter(pk=pk).first()
        if centre is None:
            return JsonResponse({"detail": _("No such configuration item.")}, status=404)
        data = neighbourhood(centre, request.user, depth, known=known, cap=MAX_NODES)
        response = JsonResponse(data)
        response["Cache-Control"] = "private, no-store"
        return response
