"""CSV import of configuration items (the worker's job), timed.

python -m benchkit.cmdb_import [--rows 100000] prints JSON. Writes a CSV file of
``rows`` new CIs (servers, virtual machines, applications and databases with their
typed attributes, customers, services, owners and locations; the locations first),
records an import run for it as the upload page does, then times
``accord.cmdb.imports.run_import`` — what the worker runs — in this process: every
row checked, the CIs, their customers and services, history rows and search entries
written in one transaction. Then the same file again, which must change nothing.

Reported: rows per second of each pass; for the new CIs also the CPU seconds of
this process and (PostgreSQL, when its processes can be read) of the server backends
(the import's reads and its writes go through two connections), which show the work
apart from what other load on the machine took; and the
process's peak resident memory (``ru_maxrss``; the figure before the import too, so
the import's own share shows).
Target: at least 5,000 rows/s for the new CIs, peak under 300 MB.
"""

import argparse
import csv
import json
import os
import random
import resource
import sys
import tempfile
import threading
import time

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "accord.settings")

import django  # noqa: E402

django.setup()

from django.core.files import File  # noqa: E402
from django.db import connection  # noqa: E402

from accord.catalogue.models import Service  # noqa: E402
from accord.cmdb.imports import run_import  # noqa: E402
from accord.cmdb.imports_cis import CI_COLUMNS  # noqa: E402
from accord.cmdb.models import ConfigurationItem, ImportRun  # noqa: E402
from accord.core.context import acting_as  # noqa: E402
from accord.core.models import ObjectChange  # noqa: E402
from accord.core.policy import Role  # noqa: E402
from accord.organizations.models import Customer  # noqa: E402
from accord.users.models import Team, User  # noqa: E402

COLUMNS = [
    *CI_COLUMNS,
    "attr:hostname",
    "attr:ip_address",
    "attr:operating_system",
    "attr:cpu_cores",
    "attr:memory_gb",
    "attr:environment",
    "attr:version",
    "attr:vendor",
    "attr:engine",
    "attr:size_gb",
]
LOCATIONS = 50
STATUSES = ["live"] * 6 + ["planned", "in_stock", "maintenance", "retired"]
ENVIRONMENTS = ["production", "acceptance", "test", "development"]
SYSTEMS = ["Debian 12", "Ubuntu 24.04", "Windows Server 2022", "RHEL 9"]
ENGINES = ["PostgreSQL", "MariaDB/MySQL", "SQL Server", "Oracle"]


class ServerCpu:
    """CPU seconds of this database's PostgreSQL backends while the block runs: the
    import writes on a connection of its own, beside the one it reads on. Sampled
    from /proc every ``interval`` seconds (a backend that ends in between loses at
    most that much), found by the database name in their process titles. ``seconds``
    is None elsewhere, or when the server's processes cannot be read from here."""

    def __init__(self, interval=0.05):
        self.interval = interval
        self.seconds = None
        self.name = connection.settings_dict["NAME"] if connection.vendor == "postgresql" else None

    def _backends(self):
        found = []
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as fh:
                    title = fh.read().decode(errors="replace")
            except OSError:
                continue
            if title.startswith("postgres: ") and f" {self.name} " in title:
                found.append(int(entry))
        return found

    @staticmethod
    def _cpu(pid):
        try:
            with open(f"/proc/{pid}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            return None
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def _sample(self):
        for pid in self.pids:
            cpu = self._cpu(pid)
            if cpu is not None:
                self.last[pid] = cpu

    def _watch(self):
        rounds = 0
        while not self.stop.wait(self.interval):
            rounds += 1
            if rounds % 4 == 0:  # new backends
                for pid in self._backends():
                    if pid not in self.pids:
                        self.pids.add(pid)
                        self.first[pid] = 0.0
            self._sample()

    def __enter__(self):
        if self.name is None:
            return self
        connection.ensure_connection()
        self.pids = set(self._backends())
        self.first = {pid: self._cpu(pid) or 0.0 for pid in self.pids}
        self.last = dict(self.first)
        if not self.pids:
            self.name = None
            return self
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._watch, daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *exc):
        if self.name is None:
            return
        self.stop.set()
        self.thread.join()
        self._sample()
        self.seconds = round(sum(self.last[p] - self.first[p] for p in self.last), 2)


def rss_mb():
    # ru_maxrss is in kilobytes on Linux.
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def reference_data():
    """An administrator, and the customers, services and teams rows may name (made
    when the database has none, as in a bench database without setup_data)."""
    with acting_as(None, "bench"):
        admin = User.objects.filter(username="bench-import").first()
        if admin is None:
            admin = User.objects.create_user("bench-import", password=None, role=Role.ADMINISTRATOR)
        if not Customer.objects.exists():
            for name, code in (("Acme Corporation", "acme"), ("Globex", "globex")):
                Customer(name=name, code=code).save()
        if not Service.objects.exists():
            for name in ("Email", "ERP", "VPN"):
                Service(name=name, status="live").save()
        if not Team.objects.exists():
            Team.objects.create(name="Infrastructure")
    customers = list(Customer.objects.values_list("code", flat=True))
    services = list(Service.objects.values_list("name", flat=True))
    teams = list(Team.objects.values_list("name", flat=True))
    return admin, customers, services, teams


def write_csv(path, rows, rng, customers, services, teams):
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(COLUMNS)
        for i in range(rows):
            if i < LOCATIONS:
                cell = dict(name=f"site-{i:03d}", type="location", status="live")
            else:
                kind = ("server", "virtual-machine", "application", "database")[i % 4]
                cell = dict(
                    name=f"{kind[:3]}-{i:06d}",
                    type=kind,
                    status=rng.choice(STATUSES),
                    criticality=rng.choice(["critical", "high", "medium", "low"]),
                    owner=rng.choice(teams),
                    location=f"site-{rng.randrange(LOCATIONS):03d}",
                    customers=";".join(
                        rng.sample(customers, rng.randint(1, min(2, len(customers))))
                    ),
                    services=rng.choice(services) if rng.random() < 0.5 else "",
                    serial=f"SN{i:08d}",
                    asset_tag=f"AT-{i:07d}",
                    installed_on=f"20{rng.randint(18, 24)}-{rng.randint(1, 12):02d}-15",
                    retire_by="2031-12-31",
                    description=f"Bench item {i}: {kind} for workload {rng.randrange(500)}",
                )
                env = rng.choice(ENVIRONMENTS)
                if kind in ("server", "virtual-machine"):
                    cell.update(
                        {
                            "attr:hostname": f"host{i}.example.net",
                            "attr:ip_address": f"10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}",
                            "attr:operating_system": rng.choice(SYSTEMS),
                            "attr:cpu_cores": rng.choice([2, 4, 8, 16, 32]),
                            "attr:memory_gb": rng.choice([4, 8, 16, 64, 256]),
                            "attr:environment": env,
                        }
                    )
                elif kind == "application":
                    cell.update(
                        {
                            "attr:version": f"{rng.randint(1, 9)}.{rng.randint(0, 20)}",
                            "attr:vendor": rng.choice(["In-house", "Acme Soft", "Initech"]),
                            "attr:environment": env,
                        }
                    )
                else:
                    cell.update(
                        {
                            "attr:engine": rng.choice(ENGINES),
                            "attr:size_gb": rng.choice([10, 50, 200, 1000]),
                            "attr:environment": env,
                        }
                    )
            cell["external_key"] = f"bench-{i:07d}"
            writer.writerow([cell.get(c, "") for c in COLUMNS])


def timed_run(admin, path, key):
    """(run, wall seconds, this process's CPU seconds, the server's CPU seconds)."""
    with open(path, "rb") as fh:
        run = ImportRun(kind="cis", key_column=key, filename="bench.csv", created_by=admin)
        run.file.save("bench.csv", File(fh), save=False)
        run.save()
    with ServerCpu() as server_cpu:
        cpu0 = time.process_time()
        t0 = time.perf_counter()
        run = run_import(run.pk)
        seconds = time.perf_counter() - t0
        cpu = time.process_time() - cpu0
    server = server_cpu.seconds
    run.refresh_from_db()
    if run.status != "done":
        sys.stderr.write(json.dumps(run.errors[:10], indent=1) + "\n")
        raise SystemExit(f"the import failed: {run.status}")
    return run, seconds, cpu, server


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--key", default="external_key", choices=["external_key", "name"])
    args = parser.parse_args()
    rng = random.Random(20261126)
    admin, customers, services, teams = reference_data()
    workdir = tempfile.mkdtemp(prefix="accord-cmdb-import-")
    path = os.path.join(workdir, "cis.csv")
    t0 = time.perf_counter()
    write_csv(path, args.rows, rng, customers, services, teams)
    made_s = time.perf_counter() - t0
    history_before = ObjectChange.objects.count()
    before_mb = rss_mb()
    first, first_s, first_cpu, first_server = timed_run(admin, path, args.key)
    peak_mb = rss_mb()
    history_rows = ObjectChange.objects.count() - history_before
    second, second_s, _cpu, _server = timed_run(admin, path, args.key)
    os.remove(path)
    os.rmdir(workdir)
    print(
        json.dumps(
            {
                "rows": args.rows,
                "file_mb": round(os.path.getsize(first.file.path) / 1e6, 1),
                "csv_made_s": round(made_s, 1),
                "created": first.created_count,
                "seconds": round(first_s, 2),
                "rows_per_s": round(args.rows / first_s),
                "cpu_s": round(first_cpu, 2),
                "server_cpu_s": first_server,
                "history_rows": history_rows,
                "cis_in_db": ConfigurationItem.objects.count(),
                "again_unchanged": second.unchanged_count,
                "again_seconds": round(second_s, 2),
                "again_rows_per_s": round(args.rows / second_s),
                "rss_before_mb": before_mb,
                "peak_rss_mb": peak_mb,
                "peak_rss_after_both_mb": rss_mb(),
                "vendor": connection.vendor,
            }
        )
    )


if __name__ == "__main__":
    main()
