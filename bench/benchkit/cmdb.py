"""Impact analysis over a large CMDB, timed through the API.

python -m benchkit.cmdb --setup setup.json [--cis 100000] [--links 300000]
                        [--requests 30] prints JSON.

Generates ``cis`` configuration items (each belonging to one of the bench's three
customers, one in ten shared) and ``links`` "depends on" relationships, shaped so
that the failure of one CI reaches about 90% of the graph and of another about 4,000
CIs: only the first 4,000 CIs depend on CIs among the first 4,000. Then times
``GET /api/cis/<id>/impact/`` (the first page of 50 with their paths, the services,
customers and agreements reached) for both CIs, as the administrator and as an
agent who serves two of the three customers, in-process through django.test.Client
after the process has loaded its graph (the load is timed on its own). Each is timed
cold (the search run afresh, as on the first request after a change: the figure the
target is for) and warm (repeated, answered from the process's recent searches).
"""

import argparse
import json
import os
import random
import statistics
import time

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "accord.settings")
os.environ.setdefault("ACCORD_ALLOWED_HOSTS", "127.0.0.1,localhost,testserver")

import django  # noqa: E402

django.setup()

from django.db import connection, transaction  # noqa: E402
from django.test import Client  # noqa: E402
from django.utils import timezone  # noqa: E402

from accord.cmdb import graph  # noqa: E402
from accord.cmdb.models import (  # noqa: E402
    CIType,
    ConfigurationItem,
    Relationship,
    RelationshipType,
)
from accord.core.rows import insert_rows  # noqa: E402

CLUSTER = 4000
BATCH = 5000


def generate(setup, count, links, rng):
    """CIs and relationships straight into the tables (bench data: no history)."""
    types = list(CIType.objects.exclude(is_location=True))
    now = timezone.now()
    customers = setup["customers"]
    t0 = time.perf_counter()
    start = (ConfigurationItem.objects.order_by("-pk").values_list("pk", flat=True).first()) or 0
    rows, owners = [], []
    for i in range(count):
        kind = types[i % len(types)]
        rows.append(
            {
                "name": f"ci-{i:06d}",
                "ci_type_id": kind.pk,
                "status": "live",
                "criticality": 1 + i % 4,
                "owner_id": None,
                "location_id": None,
                "description": "",
                "serial": f"SN{i:08d}",
                "asset_tag": "",
                "external_key": f"bench-{i}",
                "installed_on": None,
                "warranty_end": None,
                "retire_by": None,
                "attributes": {},
                "created": now,
                "updated": now,
                "version": 1,
            }
        )
        owners.append(None if i % 10 == 0 else customers[i % len(customers)])
        if len(rows) == BATCH:
            with transaction.atomic():
                insert_rows(ConfigurationItem, rows)
            rows = []
    if rows:
        with transaction.atomic():
            insert_rows(ConfigurationItem, rows)
    ids = list(
        ConfigurationItem.objects.filter(pk__gt=start).order_by("pk").values_list("pk", flat=True)
    )
    through = ConfigurationItem.customers.through
    m2m = [
        through(configurationitem_id=ci, customer_id=c)
        for ci, c in zip(ids, owners, strict=True)
        if c is not None
    ]
    through.objects.bulk_create(m2m, batch_size=BATCH)
    made_cis = time.perf_counter() - t0

    depends = RelationshipType.objects.get(key="depends-on")
    t0 = time.perf_counter()
    pairs = set()
    # "a depends on b": a failure of b reaches a. Only the cluster's own CIs depend
    # on a CI of the cluster, so a failure there stays in the cluster; any CI may
    # depend on one outside it.
    cluster_links = links * CLUSTER // count
    while len(pairs) < cluster_links:
        a, b = rng.randrange(CLUSTER), rng.randrange(CLUSTER)
        if a != b:
            pairs.add((a, b))
    while len(pairs) < links:
        a, b = rng.randrange(count), rng.randrange(CLUSTER, count)
        if a != b:
            pairs.add((a, b))
    rows = []
    for a, b in sorted(pairs):
        rows.append(
            {
                "source_id": ids[a],
                "target_id": ids[b],
                "rel_type_id": depends.pk,
                "note": "",
                "created": now,
                "updated": now,
                "version": 1,
            }
        )
        if len(rows) == BATCH:
            with transaction.atomic():
                insert_rows(Relationship, rows)
            rows = []
    if rows:
        with transaction.atomic():
            insert_rows(Relationship, rows)
    made_links = time.perf_counter() - t0
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE cmdb_configurationitem")
            cursor.execute("ANALYZE cmdb_relationship")
    return ids, round(made_cis, 1), round(made_links, 1)


def _pct(values, q):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--setup", required=True)
    parser.add_argument("--cis", type=int, default=100_000)
    parser.add_argument("--links", type=int, default=300_000)
    parser.add_argument("--requests", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=3)
    args = parser.parse_args()
    with open(args.setup) as fh:
        setup = json.load(fh)
    rng = random.Random(20261126)
    ids, made_cis, made_links = generate(setup, args.cis, args.links, rng)
    graph.forget()
    t0 = time.perf_counter()
    loaded = graph.current()
    load_s = time.perf_counter() - t0
    # Shared CIs (one in ten, no customer), so the agent may look at them too.
    big, small = ids[CLUSTER + 20], ids[20]
    scenarios = []
    for label, ci in (("wide", big), ("narrow", small)):
        for user in ("admin", "agent"):
            client = Client()
            client.defaults["HTTP_AUTHORIZATION"] = f"Token {setup['keys'][user]}"
            path = f"/api/cis/{ci}/impact/"
            body = None
            for _ in range(args.warmup):
                body = client.get(path)
            if body.status_code != 200:
                raise SystemExit(f"GET {path} answered {body.status_code}: {body.content[:300]!r}")
            # Warm: the same request again, as when a user pages or reloads (the
            # process keeps its last few searches until the graph changes). Cold: the
            # first request after a change, with the search run again each time.
            timed = {}
            for kind in ("warm", "cold"):
                times = []
                for _ in range(args.requests):
                    if kind == "cold":
                        graph.current()._depth_cache.clear()
                    t = time.perf_counter()
                    response = client.get(path)
                    times.append((time.perf_counter() - t) * 1000)
                timed[kind] = times
            data = response.json()
            scenarios.append(
                {
                    "scenario": label,
                    "user": user,
                    "reached": data["count"],
                    "hidden": data["hidden"],
                    "levels": data["levels"],
                    "page": len(data["results"]),
                    "p50_ms": round(statistics.median(timed["cold"]), 2),
                    "p95_ms": round(_pct(timed["cold"], 0.95), 2),
                    "warm_p50_ms": round(statistics.median(timed["warm"]), 2),
                    "warm_p95_ms": round(_pct(timed["warm"], 0.95), 2),
                }
            )
    print(
        json.dumps(
            {
                "cis": len(ids),
                "links": args.links,
                "made_cis_s": made_cis,
                "made_links_s": made_links,
                "graph_load_s": round(load_s, 2),
                "graph_nodes": loaded.graph.num_nodes(),
                "graph_edges": loaded.graph.num_edges(),
                "scenarios": scenarios,
                "vendor": connection.vendor,
            }
        )
    )


if __name__ == "__main__":
    main()
