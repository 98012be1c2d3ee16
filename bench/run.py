"""Accord benchmark: create throughput over HTTP, list/API/search latency by data size.

    .venv/bin/python bench/run.py                       # everything, SQLite and PostgreSQL
    .venv/bin/python bench/run.py --db sqlite --only create
    .venv/bin/python bench/run.py --sizes 10000,100000 --only lists,search
    .venv/bin/python bench/run.py --only engine          # calendar engine, no database

See bench/README.md for what is measured and how. Results are printed as tables and
written to bench/results/latest.json.
"""

import argparse
import datetime as dt
import functools
import json
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(BENCH))

from benchkit.loadgen import post_load  # noqa: E402

PYTHON = sys.executable
PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
PG_DB = "accord_bench"
SECRET = "accord-bench-only-" + "k" * 40

TARGETS = {
    "create_ratio": 0.25,
    "clock_recompute_s": 60,
    "list_p95_ms": 50.0,
    "list_growth": 1.5,
    "search_p95_ms": 100.0,
    "engine_per_second": 100_000,
    "impact_wide_ms": 100.0,
    "impact_narrow_ms": 5.0,
    "cmdb_import_rows_per_s": 5000,
    "cmdb_import_rss_mb": 300,
    "trend_job_s": 60,
    "known_error_p95_ms": 100.0,
    "change_conflicts_ms": 200.0,
    "change_feed_ms": 500.0,
}
DATABASE_PARTS = {
    "create",
    "lists",
    "search",
    "clocks",
    "cmdb",
    "cmdb_import",
    "trends",
    "known_errors",
    "changes",
}
CLOCK_COUNT = 100_000
TREND_INCIDENTS = 1_000_000
KNOWN_ERROR_INCIDENTS = 1_000_000
KNOWN_ERRORS = 50_000
LIST_SCENARIOS = ("queue_open", "queue_in_progress_by_updated", "api_list_new")
SEARCH_SCENARIOS = ("search_common", "search_rare")


def log(message):
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


# --- databases ------------------------------------------------------------------
class BenchDatabase:
    """A throw-away database and data directory for one engine."""

    def __init__(self, vendor, keep=False, pg_url=PG_ADMIN_URL, pg_db=PG_DB):
        self.vendor = vendor
        self.keep = keep
        self.pg_url = pg_url
        self.pg_db = pg_db
        self.data_dir = Path(tempfile.mkdtemp(prefix=f"accord-bench-{vendor}-"))
        if vendor == "sqlite":
            self.url = f"sqlite:///{self.data_dir / 'bench.sqlite3'}"
        else:
            base = pg_url.rsplit("/", 1)[0]
            self.url = f"{base}/{pg_db}"

    @staticmethod
    def postgres_problem(pg_url=PG_ADMIN_URL):
        """None if PostgreSQL answers, else why not."""
        try:
            import psycopg

            with psycopg.connect(pg_url, connect_timeout=3) as conn:
                conn.execute("SELECT 1")
        except Exception as exc:  # noqa: BLE001 - any failure means "skip PostgreSQL"
            return f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc) else ''}"
        return None

    def _pg_admin(self, sql):
        import psycopg

        with psycopg.connect(self.pg_url, autocommit=True) as conn:
            conn.execute(sql)

    def create(self):
        if self.vendor == "postgresql":
            self._pg_admin(f'DROP DATABASE IF EXISTS "{self.pg_db}" WITH (FORCE)')
            self._pg_admin(f'CREATE DATABASE "{self.pg_db}"')

    def destroy(self):
        if self.keep:
            log(
                f"kept {self.vendor} database: ACCORD_DATABASE_URL={self.url} "
                f"ACCORD_DATA_DIR={self.data_dir}"
            )
            return
        if self.vendor == "postgresql":
            try:
                self._pg_admin(f'DROP DATABASE IF EXISTS "{self.pg_db}" WITH (FORCE)')
            except Exception as exc:  # noqa: BLE001
                log(f"could not drop {self.pg_db}: {exc}")
        shutil.rmtree(self.data_dir, ignore_errors=True)

    def env(self, settings="accord.settings"):
        env = dict(os.environ)
        for name in ("ACCORD_REDIS_URL", "ACCORD_DEMO", "ACCORD_DEBUG"):
            env.pop(name, None)
        env.update(
            DJANGO_SETTINGS_MODULE=settings,
            ACCORD_DATABASE_URL=self.url,
            ACCORD_DATA_DIR=str(self.data_dir),
            ACCORD_SECRET_KEY=SECRET,
            ACCORD_ALLOWED_HOSTS="127.0.0.1,localhost,testserver",
            PYTHONPATH=os.pathsep.join(filter(None, [str(BENCH), env.get("PYTHONPATH", "")])),
            PYTHONUNBUFFERED="1",
        )
        return env


def run_python(db, args, settings="accord.settings", timeout=7200):
    """Run ``python <args>`` for this database; return its last stdout line as JSON
    (or None when the module prints nothing)."""
    proc = subprocess.run(
        [PYTHON, *args],
        env=db.env(settings),
        cwd=db.data_dir,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout[-4000:] + proc.stderr[-4000:])
        raise RuntimeError(f"{' '.join(args)} failed with exit code {proc.returncode}")
    lines = [line for line in proc.stdout.splitlines() if line.strip()]
    return json.loads(lines[-1]) if lines else None


# --- gunicorn ---------------------------------------------------------------------
def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@functools.cache
def _gunicorn_has(option):
    out = subprocess.run(
        [PYTHON, "-m", "gunicorn", "--help"], capture_output=True, text=True, check=False
    ).stdout
    return option in out


class Gunicorn:
    """One gunicorn master (and its workers) in a session of its own; always stopped."""

    def __init__(self, db, app, settings, workers, threads, name):
        self.db = db
        self.app = app
        self.settings = settings
        self.workers = workers
        self.threads = threads
        self.port = free_port()
        self.log_path = db.data_dir / f"gunicorn-{name}.log"
        self.proc = None

    def __enter__(self):
        cmd = [
            PYTHON,
            "-m",
            "gunicorn",
            self.app,
            "--bind",
            f"127.0.0.1:{self.port}",
            "--workers",
            str(self.workers),
            "--worker-class",
            "gthread",
            "--threads",
            str(self.threads),
            "--keep-alive",
            "10",
            "--timeout",
            "120",
            "--log-level",
            "warning",
            "--error-logfile",
            str(self.log_path),
        ]
        if _gunicorn_has("--no-control-socket"):
            cmd.append("--no-control-socket")
        self.proc = subprocess.Popen(
            cmd,
            env=self.db.env(self.settings),
            cwd=self.db.data_dir,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        return self

    def wait_ready(self, path, timeout=60):
        deadline = time.monotonic() + timeout
        url = f"http://127.0.0.1:{self.port}{path}"
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gunicorn exited early:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310
                    response.read()
                    return
            except urllib.error.HTTPError:
                return  # it answers
            except OSError:
                time.sleep(0.2)
        raise RuntimeError(f"gunicorn did not answer {url} within {timeout} s:\n{self.log_tail()}")

    def log_tail(self):
        try:
            return self.log_path.read_text()[-3000:]
        except OSError:
            return "(no log)"

    def __exit__(self, *exc):
        if self.proc is None or self.proc.poll() is not None:
            return False
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)  # the session we started
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)
        except ProcessLookupError:
            pass
        return False


def write_profile(db, target, label):
    """cProfile one scenario in-process; the report goes to bench/results/."""
    proc = subprocess.run(
        [
            PYTHON,
            "-m",
            "benchkit.measure",
            "--setup",
            str(db.setup_path),
            "--profile",
            target,
        ],
        env=db.env(),
        cwd=db.data_dir,
        capture_output=True,
        text=True,
    )
    name = target.replace(":", "-")
    path = BENCH / "results" / f"profile-{db.vendor}-{label}-{name}.txt"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(proc.stdout + proc.stderr)
    first = (proc.stdout.splitlines() or ["(no output)"])[0]
    log(f"  profile {target}: {first.lstrip('# ')} -> {path.relative_to(ROOT)}")


# --- parts ------------------------------------------------------------------------
def bench_create(db, setup, args):
    services = setup["services"]

    def body_for(customers):
        return lambda worker, i: body(customers, worker, i)

    def body(customers, worker, i):
        n = worker * 1_000_000 + i
        return {
            "customer": customers[n % len(customers)],
            "service": services[n % len(services)],
            "short_description": f"VPN client keeps disconnecting ({worker}-{i})",
            "description": (
                "User reports that the VPN client keeps disconnecting every few minutes "
                "since this morning. Affects 3 users in the finance department. Tried "
                "restarting the laptop, no change."
            ),
            "impact": 1 + n % 3,
            "urgency": 1 + (n // 3) % 3,
        }

    token = {"Authorization": f"Token {setup['keys']['admin']}"}
    # "accord": a customer without a service level agreement (the platform's own
    # logic); "accord_sla": customers with one, so each create also starts its clocks.
    endpoints = {
        "accord": (
            "accord.wsgi:application",
            "accord.settings",
            "/api/incidents/",
            token,
            "/login/",
            setup["plain_customers"],
        ),
        "accord_sla": (
            "accord.wsgi:application",
            "accord.settings",
            "/api/incidents/",
            token,
            "/login/",
            setup["sla_customers"],
        ),
        "bare": (
            "benchkit.bare.wsgi:application",
            "benchkit.bare.settings",
            "/create/",
            {},
            "/create/",
            setup["customers"],
        ),
    }
    run_python(db, ["-m", "benchkit.bare.schema", "create"], settings="benchkit.bare.settings")
    out = {
        "server": f"gunicorn gthread, {args.workers} workers x {args.threads} threads",
        "client": f"{args.concurrency} keep-alive connections (renewed every "
        f"{args.reconnect_every} requests), {args.warmup:g} s warm-up, "
        f"{args.duration:g} s measured",
    }
    try:
        for name, (app, settings, path, headers, ready_path, customers) in endpoints.items():
            log(f"[{db.vendor}] create throughput: {name} ({path})")
            with Gunicorn(db, app, settings, args.workers, args.threads, name) as server:
                server.wait_ready(ready_path)
                result = post_load(
                    "127.0.0.1",
                    server.port,
                    path,
                    body_for(customers),
                    headers=headers,
                    concurrency=args.concurrency,
                    warmup=args.warmup,
                    duration=args.duration,
                    reconnect_every=args.reconnect_every,
                    server_pid=server.proc.pid,
                    db_process="postgres" if db.vendor == "postgresql" else None,
                )
                if result["errors"]:
                    log(f"  {result['errors']} errors, first: {result['first_error']}")
                    log(server.log_tail())
            log(
                f"  {result['per_second']} creates/s, p50 {result['p50_ms']} ms, "
                f"p95 {result['p95_ms']} ms, server CPU "
                f"{result.get('server_cpu_ms_per_request')} ms/request, "
                f"other processes on the machine {result['other_processes_cores']} cores"
            )
            out[name] = result
        for target in args.profile:
            if target.startswith("create"):
                write_profile(db, target, "create")
    finally:
        run_python(db, ["-m", "benchkit.bare.schema", "drop"], settings="benchkit.bare.settings")
        # The list sizes must not include the incidents made here.
        run_python(db, ["-m", "benchkit.generate", "--setup", str(db.setup_path), "--reset"])
    if out.get("bare", {}).get("per_second"):
        out["ratio"] = round(out["accord"]["per_second"] / out["bare"]["per_second"], 3)
        out["ratio_sla"] = round(out["accord_sla"]["per_second"] / out["bare"]["per_second"], 3)
    return out


def bench_lists(db, args, groups, sizes_out):
    for size in args.sizes:
        log(f"[{db.vendor}] generating incidents up to {size:,}")
        gen = run_python(
            db, ["-m", "benchkit.generate", "--setup", str(db.setup_path), "--target", str(size)]
        )
        log(f"  inserted {gen['inserted']:,} in {gen['seconds']} s {gen.get('phases', {})}")
        log(f"[{db.vendor}] measuring at {size:,} incidents ({', '.join(sorted(groups))})")
        measured = run_python(
            db,
            [
                "-m",
                "benchkit.measure",
                "--setup",
                str(db.setup_path),
                "--requests",
                str(args.requests),
                "--only",
                ",".join(sorted(groups)),
            ],
        )
        for r in measured["results"]:
            log(
                f"  {r['scenario']:<29} {r['user']:<6} p50 {r['p50_ms']:6.1f}  "
                f"p95 {r['p95_ms']:6.1f}  cpu {r['cpu_p50_ms']:6.1f} ms  rows {r['rows']:>3}  "
                f"{r['queries']:>2} queries {r['sql_ms']:6.1f} ms SQL + "
                f"{r['python_ms']:5.1f} ms rest"
            )
        sizes_out.append({"size": size, "generation": gen, "results": measured["results"]})
        for target in args.profile:
            if not target.startswith("create"):
                write_profile(db, target, _fmt_size(size))


def bench_engine():
    """The business calendar engine: add/between per second, in a subprocess of its own
    (no Django, no database)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        filter(None, [str(BENCH), str(ROOT / "src"), env.get("PYTHONPATH", "")])
    )
    proc = subprocess.run(
        [PYTHON, "-m", "benchkit.engine"],
        env=env,
        cwd=BENCH,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout[-4000:] + proc.stderr[-4000:])
        raise RuntimeError(f"benchkit.engine failed with exit code {proc.returncode}")
    out = json.loads([line for line in proc.stdout.splitlines() if line.strip()][-1])
    for r in out["results"]:
        log(
            f"  {r['op']:<8} {r['duration']:<17} {r['per_second']:>9,}/s  "
            f"({r['us_per_call']} µs per call)"
        )
    return out


def bench_database(vendor, args, parts, out):
    """Run the parts on one engine, filling ``out`` as results come in."""
    db = BenchDatabase(vendor, keep=args.keep, pg_url=args.pg_url, pg_db=args.pg_db)
    try:
        db.create()
        log(f"[{vendor}] migrating {db.url}")
        t0 = time.perf_counter()
        proc = subprocess.run(
            [PYTHON, "-m", "accord.cli", "migrate", "--noinput"],
            env=db.env(),
            cwd=db.data_dir,
            capture_output=True,
            text=True,
        )
        if proc.returncode != 0:
            raise RuntimeError(f"migrate failed:\n{proc.stdout[-2000:]}{proc.stderr[-3000:]}")
        out["migrate_s"] = round(time.perf_counter() - t0, 1)
        setup = run_python(db, ["-m", "benchkit.setup_data"])
        db.setup_path = db.data_dir / "setup.json"
        db.setup_path.write_text(json.dumps(setup))
        if "create" in parts:
            out["create"] = bench_create(db, setup, args)
        groups = parts & {"lists", "search"}
        if groups:
            out["sizes"] = []
            bench_lists(db, args, groups, out["sizes"])
        if "clocks" in parts:
            out["clocks"] = bench_clocks(db)
        if "cmdb" in parts:
            out["cmdb"] = bench_cmdb(db)
        if "cmdb_import" in parts:
            out["cmdb_import"] = run_python(db, ["-m", "benchkit.cmdb_import"])
            log(f"  CMDB import: {json.dumps(out['cmdb_import'])[:400]}")
        if "trends" in parts:
            out["trends"] = bench_trends(db)
        if "known_errors" in parts:
            out["known_errors"] = bench_known_errors(db, args)
        if "changes" in parts:
            out["changes"] = bench_changes(db, args)
    finally:
        db.destroy()


def bench_clocks(db):
    """Recomputing 100,000 open incidents' SLA clocks after a calendar edit."""
    log(f"[{db.vendor}] SLA clocks: {CLOCK_COUNT:,} incidents with a running clock")
    gen = run_python(
        db,
        ["-m", "benchkit.generate", "--setup", str(db.setup_path), "--target", str(CLOCK_COUNT)],
    )
    log(f"  incidents: +{gen['inserted']:,} in {gen['seconds']} s")
    result = run_python(
        db, ["-m", "benchkit.clocks", "--setup", str(db.setup_path), "--count", str(CLOCK_COUNT)]
    )
    log(
        f"  recomputed {result['recalculated']:,} clocks in {result['seconds']} s "
        f"({result['per_second']:,}/s; clocks made in {result['made_s']} s)"
    )
    return result


def bench_trends(db):
    """The trend analysis job over 1,000,000 incidents, 90-day window (and every incident)."""
    log(f"[{db.vendor}] trend analysis: {TREND_INCIDENTS:,} incidents")
    gen = run_python(
        db,
        [
            "-m",
            "benchkit.generate",
            "--setup",
            str(db.setup_path),
            "--target",
            str(TREND_INCIDENTS),
        ],
    )
    log(f"  incidents: +{gen['inserted']:,} in {gen['seconds']} s")
    result = run_python(db, ["-m", "benchkit.trends", "--setup", str(db.setup_path)])
    for name in ("target", "wide"):
        r = result.get(name)
        if r:
            log(
                f"  {r['window_days']} days: {r['incidents_scanned']:,} incidents scanned, "
                f"{r['clusters_stored']} clusters stored in {r['seconds']} s (CPU {r['cpu_s']} s)"
            )
    log(
        f"  trend page ms [first, median]: {result['page_ms']}; extras made in {result['made_s']} s"
    )
    return result


def bench_known_errors(db, args):
    """Known-error suggestions for a new incident: 1,000,000 incidents, 50,000 known
    errors."""
    log(
        f"[{db.vendor}] known-error suggestions: {KNOWN_ERROR_INCIDENTS:,} incidents, "
        f"{KNOWN_ERRORS:,} known errors"
    )
    gen = run_python(
        db,
        [
            "-m",
            "benchkit.generate",
            "--setup",
            str(db.setup_path),
            "--target",
            str(KNOWN_ERROR_INCIDENTS),
        ],
    )
    log(f"  incidents: +{gen['inserted']:,} in {gen['seconds']} s")
    result = run_python(
        db,
        [
            "-m",
            "benchkit.known_errors",
            "--setup",
            str(db.setup_path),
            "--known-errors",
            str(KNOWN_ERRORS),
            "--requests",
            str(args.requests),
        ],
    )
    log(
        f"  {result['known_errors']:,} known errors made in {result['made_known_errors_s']} s; "
        f"word index built in {result['index_build_s']} s"
    )
    for r in result["scenarios"]:
        log(
            f"  {r['scenario']:<18} {r['user']:<6} p50 {r['p50_ms']:6.1f}  "
            f"p95 {r['p95_ms']:6.1f} ms  cpu p50 {r['cpu_p50_ms']:5.1f}  {r['suggested']} "
            f"suggested, {r['queries']} queries {r['sql_ms']} ms SQL, load {r['loadavg_1m']}"
        )
    return result


def bench_changes(db, args):
    """Conflict detection for a change on 50 CIs (100,000 CIs, 300,000 relationships,
    20,000 scheduled changes) and the iCalendar feed of a quarter (2,000 changes)."""
    log(
        f"[{db.vendor}] changes: conflicts over 100,000 CIs / 300,000 relationships / "
        "20,000 scheduled changes; feed of 2,000"
    )
    result = run_python(
        db, ["-m", "benchkit.changes", "--setup", str(db.setup_path), "--runs", str(args.requests)]
    )
    log(
        f"  CMDB in {result['made_cis_s']} s + {result['made_links_s']} s, "
        f"{result['changes']:,} changes in {result['made_changes_s']} s; "
        f"graph loaded in {result['graph_load_s']} s"
    )
    for name in ("conflicts_slot", "conflicts_weekend", "detail_page", "feed_admin", "feed_agent"):
        r = result.get(name)
        if r:
            log(
                f"  {name:<18} p50 {r['p50_ms']:7.1f}  p95 {r['p95_ms']:7.1f} ms  "
                f"cpu {r['cpu_p50_ms']:6.1f} ms  {r['queries']} queries {r['sql_ms']} ms SQL"
            )
    return result


def bench_cmdb(db):
    """Impact analysis through the API over 100,000 CIs and 300,000 relationships."""
    log(f"[{db.vendor}] CMDB impact: 100,000 CIs, 300,000 relationships")
    result = run_python(db, ["-m", "benchkit.cmdb", "--setup", str(db.setup_path)])
    log(
        f"  generated in {result['made_cis_s']} s + {result['made_links_s']} s; "
        f"graph loaded in {result['graph_load_s']} s"
    )
    return result


# --- report -----------------------------------------------------------------------
def _fmt_size(n):
    if n >= 1_000_000 and n % 1_000_000 == 0:
        return f"{n // 1_000_000}M"
    if n >= 1000 and n % 1000 == 0:
        return f"{n // 1000}k"
    return str(n)


def report_engine(engine):
    lines = [""]
    if "error" in engine:
        lines.append(f"CALENDAR ENGINE: FAILED ({engine['error']})")
        return lines
    target = TARGETS["engine_per_second"]
    lines.append(f"CALENDAR ENGINE  {engine['calendar']}; {engine['starts']}; {engine['method']}")
    lines.append(f"  {'operation':<10}{'duration':<19}{'per second':>12}{'µs/call':>10}  target")
    for r in engine["results"]:
        verdict = (
            f">= {target:,}/s {'ok' if r['per_second'] >= target else 'MISSED'}"
            if r["target"]
            else "(no target)"
        )
        lines.append(
            f"  {r['op']:<10}{r['duration']:<19}{r['per_second']:>12,}{r['us_per_call']:>10}  "
            f"{verdict}"
        )
    return lines


def report_changes(dbs):
    runs = {v: d["changes"] for v, d in dbs.items() if "changes" in d}
    if not runs:
        return []
    lines = [
        "",
        "CHANGE SCHEDULE  accord.changes.conflicts.find(change) for a change on 50 CIs, and "
        "GET /changes/schedule.ics (this quarter, token auth; parsed with icalendar); "
        "wall-clock p95 (p50) ms, cpu = p50 CPU ms of the process",
    ]
    slow, feed = TARGETS["change_conflicts_ms"], TARGETS["change_feed_ms"]
    for vendor, c in runs.items():
        lines.append(
            f"  {vendor:<11} {c['cis']:,} CIs, {c['links']:,} relationships, "
            f"{c['scheduled_next_quarter']:,} scheduled changes ({c['change_ci_links']:,} CI "
            f"links of changes); graph loaded in {c['graph_load_s']} s"
        )
        for name, label in (("conflicts_slot", "4-hour slot"), ("conflicts_weekend", "48 hours")):
            r = c[name]
            found = ", ".join(f"{n} {k}" for k, n in sorted(r["conflicts"].items())) or "none"
            verdict = "ok" if r["p95_ms"] < slow else "MISSED"
            lines.append(
                f"    conflicts, {label:<12} {r['p95_ms']:>7} ({r['p50_ms']}) "
                f"cpu {r['cpu_p50_ms']}  found: {found}   target < {slow:g} ms: {verdict}"
            )
        if "detail_page" in c:
            r = c["detail_page"]
            lines.append(
                f"    change page            {r['p95_ms']:>7} ({r['p50_ms']})  (no target)"
            )
        for name, who in (("feed_admin", "admin, header"), ("feed_agent", "agent, ?token=")):
            r = c[name]
            verdict = "ok" if r["p95_ms"] < feed else "MISSED"
            lines.append(
                f"    feed, {who:<16} {r['p95_ms']:>7} ({r['p50_ms']}) cpu {r['cpu_p50_ms']}  "
                f"{r['change_events']:,} changes parsed, {r['bytes'] // 1024} KiB   "
                f"target < {feed:g} ms: {verdict}"
            )
        r = c["schedule_month"]
        lines.append(f"    schedule, month page   {r['p95_ms']:>7} ({r['p50_ms']})  (no target)")
    return lines


def report(results):
    lines = []
    if "engine" in results:
        lines.extend(report_engine(results["engine"]))
    dbs = results["databases"]
    creates = {v: d["create"] for v, d in dbs.items() if "create" in d}
    if creates:
        any_create = next(iter(creates.values()))
        lines.append("")
        lines.append(
            "CREATE THROUGHPUT  POST /api/incidents/ (token) vs bare Django view with one ORM "
            f"insert; "
            f"{any_create['server']}; {any_create['client']}"
        )
        for vendor, c in creates.items():
            a, b = c.get("accord", {}), c.get("bare", {})
            ratio = c.get("ratio")
            verdict = "ok" if ratio is not None and ratio >= TARGETS["create_ratio"] else "MISSED"
            lines.append(
                f"  {vendor:<11} accord {a.get('per_second', 0):7.1f}/s   bare "
                f"{b.get('per_second', 0):7.1f}/s   ratio {ratio or 0:.2f}  "
                f"(target >= {TARGETS['create_ratio']}: {verdict})   errors "
                f"{a.get('errors', 0)}/{b.get('errors', 0)}"
            )
            s = c.get("accord_sla", {})
            lines.append(
                f"  {'':<11} with SLA clocks {s.get('per_second', 0):7.1f}/s   ratio "
                f"{c.get('ratio_sla') or 0:.2f}   errors {s.get('errors', 0)}   (a customer with "
                "an agreement: each create also starts its response and resolution clocks)"
            )
            lines.append(
                f"  {'':<11} latency p50/p95 ms: accord {a.get('p50_ms')}/{a.get('p95_ms')}, "
                f"bare {b.get('p50_ms')}/{b.get('p95_ms')}"
            )
            cpu = (
                f"  {'':<11} CPU ms per create: gunicorn accord "
                f"{a.get('server_cpu_ms_per_request')} / bare {b.get('server_cpu_ms_per_request')}"
            )
            if "db_cpu_ms_per_request" in a:
                cpu += (
                    f"; postgres accord {a['db_cpu_ms_per_request']} / bare "
                    f"{b.get('db_cpu_ms_per_request')}"
                )
            cpu += (
                f"; other processes on the machine {a.get('other_processes_cores')} / "
                f"{b.get('other_processes_cores')} cores"
            )
            lines.append(cpu)
    clock_runs = {v: d["clocks"] for v, d in dbs.items() if "clocks" in d}
    if clock_runs:
        lines.append("")
        lines.append(
            "SLA CLOCKS  recomputing every running clock on a calendar after it is edited "
            "(the worker's job), 100,000 incidents"
        )
        for vendor, c in clock_runs.items():
            verdict = "ok" if c["seconds"] < TARGETS["clock_recompute_s"] else "MISSED"
            lines.append(
                f"  {vendor:<11} {c['recalculated']:,} clocks in {c['seconds']} s "
                f"({c['per_second']:,}/s)   target < {TARGETS['clock_recompute_s']} s: "
                f"{verdict}   progress recorded {c['progress_recorded'][0]:,}/"
                f"{c['progress_recorded'][1]:,}"
            )
    impact_runs = {v: d["cmdb"] for v, d in dbs.items() if "cmdb" in d}
    if impact_runs:
        lines.append("")
        lines.append(
            "CMDB IMPACT  GET /api/cis/<id>/impact/ (first page of 50 with paths, services, "
            "customers, agreements), 100,000 CIs, 300,000 relationships; p95 (p50) ms, "
            "cold (search run afresh) and warm (repeated)"
        )
        for vendor, c in impact_runs.items():
            lines.append(
                f"  {vendor:<11} graph of {c['graph_nodes']:,} CIs / {c['graph_edges']:,} "
                f"edges loaded once per process in {c['graph_load_s']} s"
            )
            for s in c["scenarios"]:
                target = TARGETS[
                    "impact_wide_ms" if s["scenario"] == "wide" else "impact_narrow_ms"
                ]
                verdict = "ok" if s["p95_ms"] < target else "MISSED"
                lines.append(
                    f"    {s['scenario']:<7} {s['user']:<6} reaches {s['reached']:>6,} "
                    f"(+{s['hidden']:,} hidden)  cold {s['p95_ms']:>7} ({s['p50_ms']})  "
                    f"warm {s['warm_p95_ms']:>7} ({s['warm_p50_ms']})   "
                    f"target < {target:g} ms: {verdict}"
                )
    trend_runs = {v: d["trends"] for v, d in dbs.items() if "trends" in d}
    if trend_runs:
        lines.append("")
        lines.append(
            "TREND ANALYSIS  the worker's job (accord.problems.trends.run_trends): clusters of "
            "incidents without a problem by service, CI, category and similar words"
        )
        for vendor, t in trend_runs.items():
            for name in ("target", "wide"):
                r = t.get(name)
                if not r:
                    continue
                verdict = (
                    f"target < {TARGETS['trend_job_s']} s: "
                    f"{'ok' if r['seconds'] < TARGETS['trend_job_s'] else 'MISSED'}"
                    if name == "target"
                    else "(no target)"
                )
                lines.append(
                    f"  {vendor:<11} {t['incidents']:,} incidents, {r['window_days']}-day window: "
                    f"{r['incidents_scanned']:,} scanned, {r['clusters_stored']} clusters stored, "
                    f"{r['seconds']} s   {verdict}"
                )
            admin, agent = t["page_ms"]["admin"], t["page_ms"]["agent"]
            lines.append(
                f"  {'':<11} trend page ms, first (then median): admin {admin[0]} ({admin[1]}), "
                f"agent {agent[0]} ({agent[1]}); peak RSS of the job's process "
                f"{t['peak_rss_mb']} MB"
            )
    known_runs = {v: d["known_errors"] for v, d in dbs.items() if "known_errors" in d}
    if known_runs:
        lines.append("")
        lines.append(
            "KNOWN-ERROR SUGGESTIONS  GET /problems/known-errors/suggestions/ (in-process test "
            "client, session login); p95 (p50) ms over the timed requests after warm-up, cpu = "
            "p50 CPU ms of the request thread"
        )
        target = TARGETS["known_error_p95_ms"]
        for vendor, k in known_runs.items():
            lines.append(
                f"  {vendor:<11} {k['incidents']:,} incidents, {k['known_errors']:,} known errors "
                f"({k['open_known_errors']:,} open, {k['ci_links']:,} CI links); word index "
                f"built in {k['index_build_s']} s, first request {k['first_request_ms']} ms"
            )
            for r in k["scenarios"]:
                verdict = "ok" if r["p95_ms"] < target else "MISSED"
                lines.append(
                    f"    {r['scenario']:<18} {r['user']:<6} {r['p95_ms']:>7} ({r['p50_ms']}) "
                    f"cpu {r['cpu_p50_ms']}  {r['suggested']} suggested   "
                    f"target < {target:g} ms: {verdict}"
                )
    lines.extend(report_changes(dbs))
    for vendor, d in dbs.items():
        if "skipped" in d:
            lines.append("")
            lines.append(f"{vendor}: SKIPPED ({d['skipped']})")
            continue
        if "error" in d:
            lines.append("")
            lines.append(f"{vendor}: FAILED ({d['error']})")
        sizes = d.get("sizes") or []
        if not sizes:
            continue
        labels = [_fmt_size(s["size"]) for s in sizes]
        lines.append("")
        lines.append(
            f"LATENCY {vendor}: wall-clock p95 and p50 ms over {results['args']['requests']} "
            "requests after warm-up (in-process test client), cpu = p50 CPU ms of the "
            "request thread (SQLite work included, PostgreSQL server work not); "
            "growth = p95 at largest / smallest size"
        )
        gens = ", ".join(
            f"{_fmt_size(s['size'])}: +{s['generation']['inserted']:,} rows in "
            f"{s['generation']['seconds']} s"
            for s in sizes
        )
        lines.append(f"  data generation: {gens}")
        header = f"{'scenario':<30}{'user':<7}" + "".join(
            f"{label + ' p95 (p50) cpu':>22}" for label in labels
        )
        header += f"{'growth':>8}  target"
        lines.append(header)
        keys = []
        for r in sizes[0]["results"]:
            keys.append((r["scenario"], r["user"]))
        for scenario, user in keys:
            cells, p95s = [], []
            for s in sizes:
                r = next(
                    (x for x in s["results"] if x["scenario"] == scenario and x["user"] == user),
                    None,
                )
                if r is None:
                    cells.append(f"{'-':>22}")
                    continue
                p95s.append(r["p95_ms"])
                cells.append(f"{r['p95_ms']:>7.1f} ({r['p50_ms']:>5.1f}) {r['cpu_p50_ms']:>5.1f}")
            growth = p95s[-1] / p95s[0] if len(p95s) > 1 and p95s[0] else None
            if scenario in SEARCH_SCENARIOS:
                ok = all(p < TARGETS["search_p95_ms"] for p in p95s)
                target = f"p95<{TARGETS['search_p95_ms']:g}"
            else:
                ok = all(p < TARGETS["list_p95_ms"] for p in p95s) and (
                    growth is None or growth <= TARGETS["list_growth"]
                )
                target = f"p95<{TARGETS['list_p95_ms']:g}, x{TARGETS['list_growth']:g}"
            lines.append(
                f"{scenario:<30}{user:<7}"
                + "".join(cells)
                + (f"{growth:>7.2f}x" if growth else f"{'-':>8}")
                + f"  {target} {'ok' if ok else 'MISSED'}"
            )
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--db", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument(
        "--sizes",
        default="10000,100000,1000000",
        help="incident counts for the list/search parts (comma-separated, ascending)",
    )
    parser.add_argument(
        "--only",
        default="create,lists,search,engine",
        help="comma-separated parts: create, lists, search, clocks, cmdb, cmdb_import, trends, "
        "known_errors, changes, engine (engine needs no database)",
    )
    parser.add_argument("--duration", type=float, default=10.0, help="create: measured seconds")
    parser.add_argument("--warmup", type=float, default=2.0, help="create: warm-up seconds")
    parser.add_argument("--concurrency", type=int, default=4, help="create: client connections")
    parser.add_argument(
        "--reconnect-every",
        type=int,
        default=25,
        help="create: renew each client connection after this many requests (0: never)",
    )
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument("--threads", type=int, default=2, help="gunicorn threads per worker")
    parser.add_argument("--requests", type=int, default=30, help="lists: timed requests each")
    parser.add_argument(
        "--profile",
        default="",
        help="comma-separated scenarios to cProfile at each size, e.g. queue_open:agent, "
        "search_common:admin, create:admin (reports in bench/results/profile-*.txt)",
    )
    parser.add_argument("--pg-url", default=PG_ADMIN_URL, help="PostgreSQL admin connection")
    parser.add_argument(
        "--pg-db",
        default=PG_DB,
        type=lambda v: v if v.replace("_", "").isalnum() else parser.error(f"--pg-db: {v!r}"),
        help=f"name of the throw-away PostgreSQL database (default {PG_DB}; dropped "
        "and made again)",
    )
    parser.add_argument(
        "--keep", action="store_true", help="keep the databases and data dirs for inspection"
    )
    parser.add_argument("--output", default=str(BENCH / "results" / "latest.json"))
    args = parser.parse_args(argv)
    args.sizes = sorted({int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()})
    args.profile = [p.strip() for p in args.profile.split(",") if p.strip()]
    parts = {p.strip() for p in args.only.split(",") if p.strip()}
    unknown = parts - DATABASE_PARTS - {"engine"}
    if unknown:
        parser.error(f"unknown part(s) for --only: {', '.join(sorted(unknown))}")
    vendors = (
        ["sqlite", "postgresql"]
        if args.db == "both"
        else ["postgresql" if args.db == "postgres" else "sqlite"]
    )
    results = {
        "started": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "args": {k: v for k, v in vars(args).items() if k != "pg_url"} | {"only": sorted(parts)},
        "targets": TARGETS,
        "databases": {},
    }
    t_start = time.perf_counter()
    if "engine" in parts:
        log("calendar engine: add/between per second")
        try:
            results["engine"] = bench_engine()
        except Exception as exc:  # noqa: BLE001 - report and go on with the databases
            log(f"calendar engine FAILED: {exc}")
            results["engine"] = {"error": str(exc)}
    if not parts & DATABASE_PARTS:
        vendors = []
    for vendor in vendors:
        if vendor == "postgresql":
            problem = BenchDatabase.postgres_problem(args.pg_url)
            if problem:
                log(f"PostgreSQL unreachable at {args.pg_url}, skipping it: {problem}")
                results["databases"][vendor] = {"skipped": f"unreachable: {problem}"}
                continue
        out = results["databases"][vendor] = {}
        try:
            bench_database(vendor, args, parts, out)
        except KeyboardInterrupt:
            log("interrupted; servers stopped and temporary data removed")
            raise
        except Exception as exc:  # noqa: BLE001 - report and go on with the next database
            log(f"[{vendor}] FAILED: {exc}")
            out["error"] = str(exc)
    results["total_s"] = round(time.perf_counter() - t_start, 1)
    text = report(results)
    print(text)
    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2))
    log(f"done in {results['total_s']} s; results in {out}")
    failed = any("error" in d for d in results["databases"].values())
    failed = failed or "error" in results.get("engine", {})
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
