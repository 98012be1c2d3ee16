"""In-process latency of list pages, the API list and global search.

python -m benchkit.measure --setup setup.json [--requests 30] [--warmup 3]
                           [--only lists,search] [--profile SCENARIO]

Runs with DJANGO_SETTINGS_MODULE=accord.settings against the bench database and
drives the full middleware stack through django.test.Client: pages as a logged-in
user (force_login), the API with the user's token. Prints one JSON object: per
scenario and user, p50/p95/mean/max in ms, the number of SQL queries of one request,
their total time and the slowest ones (to tell database time from Python time).

--profile SCENARIO (e.g. queue_open:agent, search_common:admin, or create:admin for
POST /api/incidents/) runs that scenario under cProfile instead and prints the top
functions by cumulative and by own time.
"""

import argparse
import cProfile
import io
import json
import os
import pstats
import re
import statistics
import sys
import time

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "accord.settings")
os.environ.setdefault("ACCORD_ALLOWED_HOSTS", "127.0.0.1,localhost,testserver")

import django  # noqa: E402

django.setup()

from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402

from accord.users.models import User  # noqa: E402

COMMON_WORD = "error"
RARE_WORD = "kerberos"

# name -> (group, path, via): group "lists" or "search"; via "web" (session) or "api"
SCENARIOS = {
    "queue_open": ("lists", "/incidents/?queue=open", "web"),
    "queue_in_progress_by_updated": (
        "lists",
        "/incidents/?queue=open&sort=-updated&status=in_progress",
        "web",
    ),
    "api_list_new": ("lists", "/api/incidents/?status=new", "api"),
    "search_common": ("search", f"/search/?q={COMMON_WORD}", "web"),
    "search_rare": ("search", f"/search/?q={RARE_WORD}", "web"),
}
USERS = ("agent", "admin")


def _rows(path, content):
    if path.startswith("/api/"):
        return len(json.loads(content)["results"])
    text = content.decode()
    if path.startswith("/search/"):
        return text.count("list-group-item-action")
    return len(re.findall(r"<tr data-href", text))


def _client(setup, user, via):
    client = Client()
    if via == "api":
        client.defaults["HTTP_AUTHORIZATION"] = f"Token {setup['keys'][user]}"
    else:
        client.force_login(User.objects.get(pk=setup["users"][user]))
    return client


def _get(client, path):
    response = client.get(path)
    if response.status_code != 200:
        raise SystemExit(f"GET {path} answered {response.status_code}: {response.content[:500]!r}")
    return response


class QueryTimer:
    """Times every SQL statement of a block precisely (execute_wrapper, perf_counter)."""

    def __init__(self):
        self.queries = []  # (ms, sql)

    def __call__(self, execute, sql, params, many, context):
        t0 = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            self.queries.append(((time.perf_counter() - t0) * 1000, sql))

    def __enter__(self):
        self._cm = connection.execute_wrapper(self)
        self._cm.__enter__()
        return self

    def __exit__(self, *exc):
        return self._cm.__exit__(*exc)


def _pct(values, q):
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def run_scenario(setup, name, user, requests, warmup):
    _group, path, via = SCENARIOS[name]
    client = _client(setup, user, via)
    for _ in range(warmup):
        _get(client, path)
    times, cpu = [], []
    for _ in range(requests):
        c0 = time.thread_time()
        t0 = time.perf_counter()
        _get(client, path)
        times.append((time.perf_counter() - t0) * 1000)
        cpu.append((time.thread_time() - c0) * 1000)
    # One more request with every query timed. The connection is opened outside the
    # timer (SQLite closes it after each request) so that only statements count.
    with QueryTimer() as timer:
        t0 = time.perf_counter()
        response = _get(client, path)
        traced_ms = (time.perf_counter() - t0) * 1000
    queries = timer.queries
    slowest = sorted(queries, key=lambda q: q[0], reverse=True)[:3]
    return {
        "scenario": name,
        "user": user,
        "path": path,
        "p50_ms": round(statistics.median(times), 2),
        "p95_ms": round(_pct(times, 0.95), 2),
        "mean_ms": round(statistics.fmean(times), 2),
        "max_ms": round(max(times), 2),
        "cpu_p50_ms": round(statistics.median(cpu), 2),
        "requests": requests,
        "loadavg_1m": round(os.getloadavg()[0], 2),
        "rows": _rows(path, response.content),
        "queries": len(queries),
        "traced_ms": round(traced_ms, 2),
        "sql_ms": round(sum(t for t, _ in queries), 2),
        "python_ms": round(traced_ms - sum(t for t, _ in queries), 2),
        "slowest_sql": [{"ms": round(t, 2), "sql": sql[:600]} for t, sql in slowest],
    }


def _create_body(setup, i):
    customers = setup["customers"]
    services = setup["services"]
    return {
        "customer": customers[i % len(customers)],
        "service": services[i % len(services)],
        "short_description": f"Profiled incident {i}: VPN keeps disconnecting",
        "description": "User reports that the VPN client keeps disconnecting every few "
        "minutes since this morning. Affects 3 users in finance.",
        "impact": 2,
        "urgency": 2,
    }


def profile(setup, target, count, out):
    name, _, user = target.partition(":")
    user = user or "agent"
    profiler = cProfile.Profile()
    if name == "create":
        client = Client()
        client.defaults["HTTP_AUTHORIZATION"] = f"Token {setup['keys'][user]}"
        for i in range(5):
            client.post("/api/incidents/", _create_body(setup, i), content_type="application/json")

        def one(i):
            response = client.post(
                "/api/incidents/", _create_body(setup, i), content_type="application/json"
            )
            assert response.status_code == 201, response.content[:300]

        with QueryTimer() as timer:
            one(-1)
    else:
        _group, path, via = SCENARIOS[name]
        client = _client(setup, user, via)
        for _ in range(3):
            _get(client, path)

        def one(i):
            _get(client, path)

        with QueryTimer() as timer:
            one(-1)
    queries = timer.queries
    t0 = time.perf_counter()
    for i in range(count):
        one(count + i)
    plain = (time.perf_counter() - t0) * 1000 / count
    t0 = time.perf_counter()
    profiler.enable()
    for i in range(count):
        one(i)
    profiler.disable()
    wall = (time.perf_counter() - t0) * 1000 / count
    buf = io.StringIO()
    print(
        f"# {target}: {plain:.2f} ms per request, {wall:.2f} ms under cProfile "
        f"({count} requests each)",
        file=buf,
    )
    print(f"# {len(queries)} SQL queries in one request:", file=buf)
    for ms, sql in queries:
        print(f"  {ms:7.2f} ms  {sql[:400]}", file=buf)
    stats = pstats.Stats(profiler, stream=buf)
    stats.sort_stats("cumulative").print_stats(45)
    stats.sort_stats("tottime").print_stats(25)
    out.write(buf.getvalue())


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--setup", required=True)
    parser.add_argument("--requests", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--only", default="lists,search")
    parser.add_argument("--profile", default="")
    parser.add_argument("--profile-count", type=int, default=30)
    args = parser.parse_args()
    with open(args.setup) as fh:
        setup = json.load(fh)
    if args.profile:
        profile(setup, args.profile, args.profile_count, sys.stdout)
        return
    groups = set(args.only.split(","))
    results = []
    for name, (group, _path, _via) in SCENARIOS.items():
        if group not in groups:
            continue
        for user in USERS:
            results.append(run_scenario(setup, name, user, args.requests, args.warmup))
    print(json.dumps({"results": results}))


if __name__ == "__main__":
    main()
