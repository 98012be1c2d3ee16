"""Fast bulk load of incidents (and their search entries) up to a target count.

python -m benchkit.generate --setup setup.json --target 100000  (accord.settings)

Rows are generated in Python from a seeded RNG and written with the database's fast
path: COPY on PostgreSQL, one ``executemany`` transaction on SQLite (with
load-only pragmas). Secondary indexes of the two tables are dropped for the load and
rebuilt afterwards, which is much faster than maintaining them row by row. The
reference-number sequence and the id sequences are moved past the new rows, so
creating incidents through Accord afterwards still works. History rows are not
written (list pages and search do not read them).

Distribution: ~10% open (new, assigned, in progress, pending), 7% resolved, 78%
closed, 5% cancelled; customers 45/35/20%; priorities from the ITIL matrix with
mostly low impact and urgency; one created timestamp every 150 s (1M rows span about
4.75 years, ending now). The word "error" is in about a quarter of the records, the
word "kerberos" in one record of every 4,999.

``--reset`` instead deletes every incident and its search entries, history and
journal (used after the create-throughput run, before the list sizes are loaded).
"""

import argparse
import datetime as dt
import json
import os
import random
import sys
import time

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "accord.settings")

import django  # noqa: E402

django.setup()

from django.contrib.contenttypes.models import ContentType  # noqa: E402
from django.db import connection  # noqa: E402

from accord.incidents.choices import DEFAULT_MATRIX  # noqa: E402
from accord.incidents.models import Incident  # noqa: E402

INC_TABLE = Incident._meta.db_table
SEARCH_TABLE = "core_searchentry"
STEP_SECONDS = 150
SPAN_ROWS = 1_000_000
RARE_EVERY = 4999
COMMON_WORD = "error"
RARE_WORD = "kerberos"

# The columns this generator fills, in its own order; any other column the model has
# gains its field default (and an error says so if there is none).
COLUMNS = [
    "id",
    "created",
    "updated",
    "version",
    "number",
    "short_description",
    "description",
    "impact",
    "urgency",
    "priority",
    "status",
    "resolution_code",
    "resolution_notes",
    "workaround",
    "resolved_at",
    "closed_at",
    "is_open",
    "is_major",
    "major_reason",
    "major_declared_at",
    "assignee_id",
    "assignment_team_id",
    "caller_id",
    "category_id",
    "customer_id",
    "major_manager_id",
    "service_id",
]
SEARCH_COLUMNS = [
    "id",
    "content_type_id",
    "object_id",
    "customer_id",
    "customer_visible",
    "title",
    "body",
    "updated",
]

SUBJECTS = [
    "VPN client",
    "Outlook mailbox",
    "Printer on floor 3",
    "ERP invoice run",
    "Wi-Fi in meeting room",
    "Laptop docking station",
    "Shared drive",
    "Teams meeting audio",
    "Password reset portal",
    "Payroll export",
    "Warehouse scanner",
    "Website checkout",
    "Nightly backup job",
    "Desk phone",
    "CRM dashboard",
    "Label printer",
    "Badge reader",
    "Intranet search",
    "Expense app",
    "Database replica",
]
PROBLEMS = [
    "keeps disconnecting",
    "shows an error on start",
    "is very slow",
    "cannot connect",
    "stopped working after update",
    "returns error 500",
    "asks for the password repeatedly",
    "does not respond",
    "crashes when opening attachments",
    "times out",
    "licence expired",
    "sync fails with error 0x80070005",
]
SENTENCES = [
    "Started this morning around {h}:{m}.",
    "Affects {n} users in the {dept} department.",
    "Tried restarting the device, no change.",
    "Caller needs it for the month-end close.",
    "Same issue was reported last week and came back.",
    "Screenshot attached to the email sent to the desk.",
    "Happens only on the guest network.",
    "Works from home but not in the office.",
    "User is travelling and can only be reached by phone.",
    "Event log shows a warning before the failure.",
    "Cleared the cache and signed in again without success.",
    "Manager asked for an update by the end of the day.",
]
DEPTS = ["finance", "sales", "logistics", "legal", "marketing", "engineering", "HR"]
CODES = ["solved", "workaround", "user_error", "not_reproducible", "duplicate"]


def _pool(weights):
    out = []
    for value, weight in weights:
        out.extend([value] * weight)
    return out


STATUS_POOL = _pool(
    [
        ("new", 20),
        ("assigned", 20),
        ("in_progress", 35),
        ("pending_customer", 12),
        ("pending_supplier", 8),
        ("pending_change", 5),
        ("resolved", 70),
        ("closed", 780),
        ("cancelled", 50),
    ]
)
IMPACT_POOL = _pool([(1, 10), (2, 30), (3, 60)])
URGENCY_POOL = _pool([(1, 15), (2, 35), (3, 50)])


def _texts(rng, count=4096):
    titles = [f"{s} {p}" for s in SUBJECTS for p in PROBLEMS]
    bodies = []
    for _ in range(count):
        title = rng.choice(titles)
        parts = [f"User reports that the {title[0].lower()}{title[1:]}."]
        for sentence in rng.sample(SENTENCES, 3):
            parts.append(
                sentence.format(
                    h=rng.randrange(7, 19),
                    m=f"{rng.randrange(60):02d}",
                    n=rng.randrange(1, 40),
                    dept=rng.choice(DEPTS),
                )
            )
        bodies.append((title, " ".join(parts)))
    return bodies


class Formats:
    """How each database's fast path wants datetimes and booleans."""

    def __init__(self, vendor):
        self.sqlite = vendor == "sqlite"

    def ts(self, seconds):
        value = dt.datetime.fromtimestamp(seconds, dt.UTC)
        if self.sqlite:  # Django stores naive UTC text on SQLite
            return value.strftime("%Y-%m-%d %H:%M:%S.%f")
        return value

    def boolean(self, value):
        return int(value) if self.sqlite else value


def _extra_columns(cols):
    """(column, value) of model columns this generator does not know, from defaults."""
    extras = []
    for f in Incident._meta.concrete_fields:
        if f.column in cols:
            continue
        default = f.get_default()
        if default is None and not f.null:
            sys.exit(
                f"generate.py: {INC_TABLE}.{f.column} has no default; teach "
                "bench/benchkit/generate.py how to fill it"
            )
        extras.append((f.column, f.get_db_prep_save(default, connection)))
    return extras


def rows(setup, start_id, start_number, count, fmt, now):
    """Yield (incident row, search row) tuples."""
    rng = random.Random(start_id)
    texts = _texts(rng)
    ntexts = len(texts)
    customers = setup["customers"]
    customer_pool = _pool([(customers[0], 9), (customers[1], 7), (customers[2], 4)])
    team_of = {
        customers[0]: setup["teams"]["desk"],
        customers[1]: setup["teams"]["desk"],
        customers[2]: setup["teams"]["network"],
    }
    members = {
        setup["teams"]["desk"]: setup["team_members"]["desk"],
        setup["teams"]["network"]: setup["team_members"]["network"],
    }
    services = setup["services"]
    service_pool = _pool([(s, w) for s, w in zip(services, [30, 20, 20, 10, 10, 5], strict=False)])
    service_pool += [None] * 5
    caller = setup["users"]["admin"]
    ct = setup["incident_ct"]
    base = now - SPAN_ROWS * STEP_SECONDS
    boolean = fmt.boolean
    ts = fmt.ts
    false = boolean(False)
    true = boolean(True)
    rnd = rng.random
    nstatus, nimp, nurg = len(STATUS_POOL), len(IMPACT_POOL), len(URGENCY_POOL)
    ncust, nserv = len(customer_pool), len(service_pool)
    for k in range(count):
        pk = start_id + k
        number = f"INC{start_number + k:07d}"
        created_s = base + pk * STEP_SECONDS + rnd() * STEP_SECONDS
        status = STATUS_POOL[int(rnd() * nstatus)]
        impact = IMPACT_POOL[int(rnd() * nimp)]
        urgency = URGENCY_POOL[int(rnd() * nurg)]
        customer = customer_pool[int(rnd() * ncust)]
        service = service_pool[int(rnd() * nserv)]
        short, body = texts[int(rnd() * ntexts)]
        if pk % RARE_EVERY == 0:
            body += " Kerberos ticket expired on the domain controller."
        team = assignee = resolved_at = closed_at = None
        code = notes = ""
        version = 1
        if status != "new":
            team = team_of[customer]
            if status != "assigned" or rnd() < 0.5:
                team_members = members[team]
                assignee = team_members[int(rnd() * len(team_members))]
            version = 2 + int(rnd() * 4)
        if status in ("resolved", "closed"):
            resolved_s = created_s + 3600 + rnd() * 5 * 86400
            resolved_at = ts(resolved_s)
            code = CODES[int(rnd() * len(CODES))]
            notes = "Fixed and confirmed with the caller."
            updated_s = resolved_s
            if status == "closed":
                updated_s = resolved_s + 5 * 86400
                closed_at = ts(updated_s)
        elif status == "cancelled":
            updated_s = created_s + rnd() * 86400
            closed_at = ts(updated_s)
        else:
            updated_s = created_s + rnd() * 3 * 86400
        created = ts(created_s)
        updated = ts(updated_s)
        yield (
            (
                pk,
                created,
                updated,
                version,
                number,
                short,
                body,
                impact,
                urgency,
                DEFAULT_MATRIX[(impact, urgency)],
                status,
                code,
                notes,
                "",
                resolved_at,
                closed_at,
                true if status not in ("resolved", "closed", "cancelled") else false,
                false,
                "",
                None,
                assignee,
                team,
                caller,
                None,
                customer,
                None,
                service,
            ),
            (ct, pk, customer, true, f"{number} {short}"[:300], body, updated),
        )


# --- secondary indexes ------------------------------------------------------------
def _secondary_indexes(table):
    """(name, CREATE statement) of the table's plain indexes (not constraints)."""
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute(
                "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = %s "
                "AND sql IS NOT NULL",
                [table],
            )
            return cursor.fetchall()
        cursor.execute(
            "SELECT i.indexname, i.indexdef FROM pg_indexes i WHERE i.tablename = %s "
            "AND i.schemaname = current_schema() AND NOT EXISTS (SELECT 1 FROM pg_constraint c "
            "WHERE c.conname = i.indexname)",
            [table],
        )
        return cursor.fetchall()


def _drop_indexes(indexes):
    with connection.cursor() as cursor:
        for name, _sql in indexes:
            cursor.execute(f'DROP INDEX IF EXISTS "{name}"')


def _create_indexes(indexes):
    with connection.cursor() as cursor:
        for _name, sql in indexes:
            cursor.execute(sql)


# --- loaders ----------------------------------------------------------------------
def _load_sqlite(generator, extras, chunk=20000):
    raw = connection.connection
    inc_cols = COLUMNS + [c for c, _ in extras]
    extra_values = tuple(v for _, v in extras)
    inc_sql = (
        f'INSERT INTO "{INC_TABLE}" ({", ".join(inc_cols)}) '
        f"VALUES ({', '.join('?' * len(inc_cols))})"
    )
    search_sql = (
        f'INSERT INTO "{SEARCH_TABLE}" ({", ".join(SEARCH_COLUMNS)}) '
        f"VALUES ({', '.join('?' * len(SEARCH_COLUMNS))})"
    )
    search_id = _max_id(SEARCH_TABLE) + 1
    inc_buf, search_buf = [], []

    def flush():
        raw.executemany(inc_sql, inc_buf)
        raw.executemany(search_sql, search_buf)
        inc_buf.clear()
        search_buf.clear()

    for inc_row, search_row in generator:
        inc_buf.append(inc_row + extra_values if extra_values else inc_row)
        search_buf.append((search_id, *search_row))
        search_id += 1
        if len(inc_buf) >= chunk:
            flush()
    flush()


def _copy_text(value):
    if value is None:
        return "\\N"
    if value is True:
        return "t"
    if value is False:
        return "f"
    if isinstance(value, dt.datetime):
        return value.isoformat()
    return str(value)  # generated text has no tab, newline or backslash


def _load_postgres(generator, extras, chunk=50000):
    inc_cols = ", ".join(COLUMNS + [c for c, _ in extras])
    extra_values = tuple(v for _, v in extras)
    search_id = _max_id(SEARCH_TABLE) + 1
    inc_lines, search_lines = [], []
    with connection.cursor() as wrapper:
        cursor = wrapper.cursor  # the psycopg cursor

        def flush():
            # One COPY per table and chunk (a connection runs one COPY at a time).
            with cursor.copy(f'COPY "{INC_TABLE}" ({inc_cols}) FROM STDIN') as copy:
                copy.write("\n".join(inc_lines) + "\n")
            with cursor.copy(
                f'COPY "{SEARCH_TABLE}" ({", ".join(SEARCH_COLUMNS)}) FROM STDIN'
            ) as copy:
                copy.write("\n".join(search_lines) + "\n")
            inc_lines.clear()
            search_lines.clear()

        for inc_row, search_row in generator:
            row = inc_row + extra_values if extra_values else inc_row
            inc_lines.append("\t".join(map(_copy_text, row)))
            search_lines.append("\t".join(map(_copy_text, (search_id, *search_row))))
            search_id += 1
            if len(inc_lines) >= chunk:
                flush()
        if inc_lines:
            flush()


def _max_id(table):
    with connection.cursor() as cursor:
        cursor.execute(f'SELECT COALESCE(MAX(id), 0) FROM "{table}"')
        return cursor.fetchone()[0]


def _count(table):
    with connection.cursor() as cursor:
        cursor.execute(f'SELECT COUNT(*) FROM "{table}"')
        return cursor.fetchone()[0]


def _last_number():
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT last_value, is_called FROM accord_ref_inc")
            value, called = cursor.fetchone()
            seq = value if called else value - 1
        else:
            cursor.execute("SELECT last_value FROM core_referencesequence WHERE prefix = 'INC'")
            row = cursor.fetchone()
            seq = row[0] if row else 0
        cursor.execute(f'SELECT MAX(number) FROM "{INC_TABLE}"')
        top = cursor.fetchone()[0]
    return max(seq, int(top[3:]) if top else 0)


def _advance_sequences(last_number):
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT setval('accord_ref_inc', %s)", [last_number])
            for table in (INC_TABLE, SEARCH_TABLE):
                cursor.execute(
                    f"SELECT setval(pg_get_serial_sequence('\"{table}\"', 'id'), "
                    f'(SELECT MAX(id) FROM "{table}"))'
                )
        else:
            cursor.execute(
                "INSERT INTO core_referencesequence (prefix, last_value) VALUES ('INC', %s) "
                "ON CONFLICT (prefix) DO UPDATE SET last_value = excluded.last_value",
                [last_number],
            )


def generate(setup, target):
    existing = _count(INC_TABLE)
    if existing >= target:
        return {"inserted": 0, "total": existing, "seconds": 0.0}
    count = target - existing
    setup = dict(setup, incident_ct=ContentType.objects.get_for_model(Incident).pk)
    start_id = _max_id(INC_TABLE) + 1
    start_number = _last_number() + 1
    fmt = Formats(connection.vendor)
    extras = _extra_columns(set(COLUMNS))
    indexes = _secondary_indexes(INC_TABLE) + _secondary_indexes(SEARCH_TABLE)
    phases = {}
    t0 = time.perf_counter()
    gen = rows(setup, start_id, start_number, count, fmt, time.time())
    connection.ensure_connection()
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            # Load-only settings: no fsync, no rollback journal, a big page cache, no
            # foreign key bookkeeping (the generated references are valid).
            cursor.execute("PRAGMA foreign_keys=OFF")
            cursor.execute("PRAGMA journal_mode=DELETE")
            cursor.execute("PRAGMA synchronous=OFF")
            cursor.execute("PRAGMA cache_size=-1000000")
            cursor.execute("PRAGMA temp_store=MEMORY")
        raw = connection.connection
        raw.execute("BEGIN IMMEDIATE")
        try:
            _drop_indexes(indexes)
            _load_sqlite(gen, extras)
            phases["insert"] = time.perf_counter() - t0
            t1 = time.perf_counter()
            _create_indexes(indexes)
            _advance_sequences(start_number + count - 1)
            raw.execute("COMMIT")
        except BaseException:
            raw.execute("ROLLBACK")
            raise
        phases["indexes"] = time.perf_counter() - t1
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
        t2 = time.perf_counter()
        # What Accord's nightly optimize_database job does.
        from accord.core.tasks import refresh_sqlite_statistics

        refresh_sqlite_statistics()
        phases["analyze"] = time.perf_counter() - t2
    else:
        from django.db import transaction

        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL maintenance_work_mem = '512MB'")
                cursor.execute("SET LOCAL synchronous_commit = off")
                # The foreign keys are deferred: checking them queues one trigger event
                # per row (and forbids CREATE INDEX in the same transaction). The
                # generated references are valid, so a superuser skips the triggers;
                # otherwise they are checked row by row as the COPY goes.
                cursor.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
                if cursor.fetchone()[0]:
                    cursor.execute("SET LOCAL session_replication_role = replica")
                else:
                    cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            _drop_indexes(indexes)
            _load_postgres(gen, extras)
            phases["insert"] = time.perf_counter() - t0
            t1 = time.perf_counter()
            _create_indexes(indexes)
            _advance_sequences(start_number + count - 1)
            phases["indexes"] = time.perf_counter() - t1
        t2 = time.perf_counter()
        with connection.cursor() as cursor:
            # What autovacuum would do soon after a big load anyway.
            cursor.execute(f'VACUUM ANALYZE "{INC_TABLE}"')
            cursor.execute(f'VACUUM ANALYZE "{SEARCH_TABLE}"')
        phases["vacuum_analyze"] = time.perf_counter() - t2
    seconds = time.perf_counter() - t0
    return {
        "inserted": count,
        "total": _count(INC_TABLE),
        "seconds": round(seconds, 2),
        "phases": {k: round(v, 2) for k, v in phases.items()},
    }


def reset():
    ct = ContentType.objects.get_for_model(Incident).pk
    with connection.cursor() as cursor:
        for table in ("core_searchentry", "core_objectchange", "core_journalentry", "slas_clock"):
            cursor.execute(f"DELETE FROM {table} WHERE content_type_id = %s", [ct])
        cursor.execute(f'DELETE FROM "{INC_TABLE}"')
    return {"reset": True}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--setup", required=True, help="JSON file written by setup_data")
    parser.add_argument("--target", type=int, default=0)
    parser.add_argument("--reset", action="store_true")
    args = parser.parse_args()
    with open(args.setup) as fh:
        setup = json.load(fh)
    result = reset() if args.reset else generate(setup, args.target)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
