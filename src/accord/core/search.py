"""Global search: one index table, one interface, two engines.

Apps register their record types in ``AppConfig.ready()`` with what to index. Saving
a record keeps its SearchEntry current in the same transaction. Queries go through
SQLite FTS5 or PostgreSQL full text, newest first, and only ever return entries the
user's scope allows.
"""

import re
from dataclasses import dataclass, field
from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.db.models import Q
from django.db.models.expressions import RawSQL
from django.utils import timezone

from .rows import insert_row


@dataclass(frozen=True)
class SearchIndex:
    model: Any
    title: Any  # callable(obj) -> str
    body: Any  # callable(obj) -> str
    fields: frozenset = field(default_factory=frozenset)  # fields whose change re-indexes
    customer_visible: Any = staticmethod(lambda obj: True)


_registry: dict[type, SearchIndex] = {}


def register(model, *, title, body, fields, customer_visible=lambda obj: True):
    _registry[model] = SearchIndex(
        model=model,
        title=title,
        body=body,
        fields=frozenset(fields),
        customer_visible=customer_visible,
    )


def registered_models():
    return list(_registry)


def _customer_id(obj):
    path = type(obj).customer_field
    if path and "__" not in path:
        return getattr(obj, f"{path}_id", None)
    return None


def _values(index, obj):
    return {
        "customer_id": _customer_id(obj),
        "customer_visible": bool(index.customer_visible(obj)),
        "title": str(index.title(obj))[:300],
        "body": str(index.body(obj) or "")[:20000],
        "updated": timezone.now(),
    }


def index_record(obj, *, created, changed=None):
    from .models import SearchEntry

    index = _registry.get(type(obj))
    if index is None:
        return
    if not created and changed is not None and not (index.fields & changed.keys()):
        return
    ct = ContentType.objects.get_for_model(type(obj))
    values = _values(index, obj)
    if created or not SearchEntry.objects.filter(content_type=ct, object_id=obj.pk).update(
        **values
    ):
        insert_row(SearchEntry, {"content_type_id": ct.pk, "object_id": obj.pk, **values})


def unindex_record(obj):
    from .models import SearchEntry

    if type(obj) in _registry:
        ct = ContentType.objects.get_for_model(type(obj))
        SearchEntry.objects.filter(content_type=ct, object_id=obj.pk).delete()


_WORD = re.compile(r"\w+", re.UNICODE)


def _terms(text: str) -> list[str]:
    return _WORD.findall(text.lower())[:8]


def _matches(terms):
    """A condition on SearchEntry: contains every term (as a word prefix). The SQL is
    fixed text; the user's words travel only as a bound parameter."""
    if connection.vendor == "sqlite":
        match = " ".join(f'"{t}"*' for t in terms)
        sql = "SELECT rowid FROM core_searchentry_fts WHERE core_searchentry_fts MATCH %s"
        return Q(id__in=RawSQL(sql, [match]))  # noqa: S611
    query = " & ".join(f"{t}:*" for t in terms)
    sql = "SELECT id FROM core_searchentry WHERE search_vector @@ to_tsquery('simple', %s)"
    return Q(id__in=RawSQL(sql, [query]))  # noqa: S611


def search(user, text: str, limit: int = 25, models=None):
    """Search entries the user may see, newest first: a list of SearchEntry."""
    from .models import SearchEntry
    from .policy import scope_for

    terms = _terms(text)
    scope = scope_for(user)
    if not terms or scope is None:
        return []
    cts = list(ContentType.objects.get_for_models(*models).values()) if models else None
    if connection.vendor == "sqlite":
        ids = _sqlite_search(terms, scope, cts, limit)
    else:
        ids = _postgres_search(terms, scope, cts, limit)
    found = SearchEntry.objects.select_related("content_type").in_bulk(ids)
    return _allowed(user, [found[i] for i in ids if i in found])


def _allowed(user, entries):
    """Entries of record types that decide visibility themselves (``scope_condition``,
    e.g. a CI shared by several customers) are checked against that rule."""
    from .policy import restrict

    by_model = {}
    for entry in entries:
        model = entry.content_type.model_class()
        if model is not None and hasattr(model, "scope_condition"):
            by_model.setdefault(model, []).append(entry.object_id)
    hidden = set()
    for model, ids in by_model.items():
        seen = set(
            restrict(model._default_manager.filter(pk__in=ids), user).values_list("pk", flat=True)
        )
        hidden |= {(model, pk) for pk in ids if pk not in seen}
    if not hidden:
        return entries
    return [e for e in entries if (e.content_type.model_class(), e.object_id) not in hidden]


def _placeholders(values):
    return ", ".join(["%s"] * len(values))


def _visible(scope, cts):
    """SQL conditions (on alias ``se``) and parameters for what the scope may see."""
    where, params = [], []
    if cts:
        where.append(f"se.content_type_id IN ({_placeholders(cts)})")
        params += [ct.pk for ct in cts]
    ids = sorted(scope.customer_ids)
    if scope.is_customer:
        where.append(
            f"se.customer_visible AND se.customer_id IN ({_placeholders(ids)})" if ids else "FALSE"
        )
        params += ids
    elif not scope.all_customers:
        visible = f"se.customer_id IN ({_placeholders(ids)}) OR " if ids else ""
        where.append(f"({visible}se.customer_id IS NULL)")
        params += ids
    return where, params


# How many of the newest entries PostgreSQL scans first (see _postgres_search).
RECENT_WINDOW = 20000


def _postgres_search(terms, scope, cts, limit):
    """Newest matches first, in two steps. A common word is found at once among the
    newest entries; a rare one is looked up through the GIN index and only its few
    matches are sorted. (Left to itself the planner cannot tell a common prefix from a
    rare one and may walk the whole table backwards.)"""
    query = " & ".join(f"{t}:*" for t in terms)
    where, params = _visible(scope, cts)
    visible = "".join(f" AND {w}" for w in where)
    with connection.cursor() as cursor:
        # Only placeholders are joined into the text; every value is a bound parameter.
        cursor.execute(
            "SELECT se.id FROM (SELECT * FROM core_searchentry "  # noqa: S608
            "ORDER BY id DESC LIMIT %s) se "
            f"WHERE se.search_vector @@ to_tsquery('simple', %s){visible} "
            "ORDER BY se.id DESC LIMIT %s",
            [RECENT_WINDOW, query, *params, limit],
        )
        ids = [row[0] for row in cursor.fetchall()]
        if len(ids) >= limit:
            return ids
        cursor.execute(
            "WITH se AS MATERIALIZED (SELECT * FROM core_searchentry "  # noqa: S608
            "WHERE search_vector @@ to_tsquery('simple', %s)) "
            f"SELECT se.id FROM se WHERE TRUE{visible} ORDER BY se.id DESC LIMIT %s",
            [query, *params, limit],
        )
        return [row[0] for row in cursor.fetchall()]


def _sqlite_search(terms, scope, cts, limit):
    """Walk the FTS5 index newest first and stop at ``limit`` visible hits, instead of
    collecting every match (a common word matches a good part of a million rows)."""
    if scope.is_customer and not scope.customer_ids:
        return []
    where, params = _visible(scope, cts)
    where.insert(0, "core_searchentry_fts MATCH %s")
    params.insert(0, " ".join(f'"{t}"*' for t in terms))
    # Only placeholders are joined into the text; every value is a bound parameter.
    sql = (
        "SELECT se.id FROM core_searchentry_fts "  # noqa: S608
        "JOIN core_searchentry se ON se.id = core_searchentry_fts.rowid "
        f"WHERE {' AND '.join(where)} "
        "ORDER BY core_searchentry_fts.rowid DESC LIMIT %s"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, limit])
        return [row[0] for row in cursor.fetchall()]


def matching_object_ids(model, text):
    """A subquery of ``model`` ids whose search entry contains every word of text,
    for list filters; None when text has no words."""
    from .models import SearchEntry

    terms = _terms(text)
    if not terms:
        return None
    ct = ContentType.objects.get_for_model(model)
    return SearchEntry.objects.filter(_matches(terms), content_type=ct).values("object_id")


def index_records(model, created=(), changed=()):
    """``index_record`` for many records of one model at once (a bulk import):
    ``created`` are new records, ``changed`` (record, changes) pairs of updated ones.
    New entries go in with multi-row INSERTs, changed ones with one UPDATE by key, as
    the single-record path would leave them."""
    from .history import insert_many
    from .models import SearchEntry
    from .rows import update_rows

    index = _registry.get(model)
    if index is None:
        return
    ct_id = ContentType.objects.get_for_model(model).pk
    now = timezone.now()  # one time for the batch, as it is written in one go
    rows = [
        {"content_type_id": ct_id, "object_id": obj.pk, **_values(index, obj), "updated": now}
        for obj in created
    ]
    touched = {obj.pk: obj for obj, changes in changed if index.fields & changes.keys()}
    if touched:
        entries = dict(
            SearchEntry.objects.filter(content_type_id=ct_id, object_id__any=list(touched))
            .values_list("object_id", "pk")
            .iterator()
        )
        updates = []
        for pk, obj in touched.items():
            values = {**_values(index, obj), "updated": now}
            if pk in entries:
                updates.append((entries[pk], values))
            else:
                rows.append({"content_type_id": ct_id, "object_id": pk, **values})
        if updates:
            update_rows(SearchEntry, list(updates[0][1]), updates)
    insert_many(SearchEntry, rows)
