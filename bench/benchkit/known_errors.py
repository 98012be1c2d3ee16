"""Known-error suggestions for a new incident, timed through the page Accord serves.

python -m benchkit.known_errors --setup setup.json [--known-errors 50000] [--cis 3000]
                                [--requests 30] [--warmup 3] prints JSON.

Expects the incidents to be there already (run.py fills the database up to 1,000,000
with benchkit.generate first). Adds ``cis`` configuration items and ``known_errors``
known errors written straight into the tables in batches (``insert_many``, which is
COPY on PostgreSQL): realistic titles, symptoms, root causes and Markdown
workarounds built from a component, a symptom and a condition (so their words
overlap the incidents' and each other's as real ones do), 60% open, 30% fixed, 10%
retired; each with its component's service (a fifth with a second service), 40%
naming no customer and the rest one of the three bench customers, 30% linked to one
to three CIs of their component; with their search entries, as Accord writes them.

Then times ``GET /problems/known-errors/suggestions/`` — what the incident form asks
while the agent types, and what the incident page's panel computes — in-process
through django.test.Client (session login, full middleware stack and template),
as the administrator and as an agent who serves two of the three customers:

* ``new_incident``: service, CI and the text of a new incident (short description
  and description);
* ``new_incident_text``: the same text alone (no service, no CI: every known error is
  a candidate by its words);
* ``incident_page``: the panel's suggestions for an existing incident (its service,
  its CI through the CMDB link, its words).
"""

import argparse
import datetime as dt
import json
import os
import random
import statistics
import time
from urllib.parse import urlencode

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "accord.settings")
os.environ.setdefault("ACCORD_ALLOWED_HOSTS", "127.0.0.1,localhost,testserver")

import django  # noqa: E402

django.setup()

from django.contrib.contenttypes.models import ContentType  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.test import Client  # noqa: E402
from django.utils import timezone  # noqa: E402

from accord.cmdb.models import CILink, CIType, ConfigurationItem  # noqa: E402
from accord.core import search  # noqa: E402
from accord.core.rows import insert_many  # noqa: E402
from accord.incidents.models import Incident  # noqa: E402
from accord.problems import suggestions  # noqa: E402
from accord.problems.models import KnownError  # noqa: E402
from accord.users.models import User  # noqa: E402

BATCH = 2000

# (component, index of its service in setup["services"]: Email, VPN, Laptops and
# desktops, ERP, Wi-Fi, Printing). The first twenty are the incidents' own subjects.
COMPONENTS = [
    ("VPN client", 1),
    ("Outlook mailbox", 0),
    ("Printer on floor 3", 5),
    ("ERP invoice run", 3),
    ("Wi-Fi in meeting room", 4),
    ("Laptop docking station", 2),
    ("Shared drive", 2),
    ("Teams meeting audio", 0),
    ("Password reset portal", 2),
    ("Payroll export", 3),
    ("Warehouse scanner", 4),
    ("Website checkout", 3),
    ("Nightly backup job", 2),
    ("Desk phone", 2),
    ("CRM dashboard", 3),
    ("Label printer", 5),
    ("Badge reader", 2),
    ("Intranet search", 2),
    ("Expense app", 3),
    ("Database replica", 3),
    ("GlobalProtect agent", 1),
    ("AnyConnect profile", 1),
    ("Exchange Online connector", 0),
    ("OneDrive sync client", 2),
    ("SharePoint library", 2),
    ("Citrix Workspace", 2),
    ("SAP GUI", 3),
    ("Single sign-on", 2),
    ("MFA push approval", 1),
    ("BitLocker recovery", 2),
    ("Windows Hello", 2),
    ("Chrome browser", 2),
    ("Java runtime", 3),
    ("Acrobat reader", 2),
    ("Excel add-in", 3),
    ("Reporting gateway", 3),
    ("Build agent", 3),
    ("Ingress controller", 3),
    ("Oracle listener", 3),
    ("SMTP relay", 0),
    ("DNS resolver", 1),
    ("DHCP scope", 4),
    ("Proxy PAC file", 1),
    ("TLS certificate", 1),
    ("Kerberos ticket", 2),
    ("Group policy", 2),
    ("Print spooler", 5),
    ("Display driver", 2),
    ("Bluetooth headset", 2),
    ("Dock firmware", 2),
    ("Thin client", 2),
    ("Remote desktop gateway", 1),
    ("File server quota", 2),
    ("Timesheet app", 3),
    ("Softphone", 0),
    ("Guest Wi-Fi portal", 4),
    ("Access point", 4),
    ("Scan to email", 5),
    ("Plotter queue", 5),
    ("Mobile device profile", 4),
]
SYMPTOMS = [
    "keeps disconnecting",
    "fails to start",
    "is very slow",
    "cannot connect",
    "stops responding",
    "shows error {code}",
    "asks for the password repeatedly",
    "crashes on launch",
    "times out",
    "loses its settings after a reboot",
    "does not sync",
    "shows a blank screen",
    "drops audio",
    "rejects a valid password",
    "reports the certificate as untrusted",
    "hangs while loading",
    "prints garbled pages",
    "freezes after sleep",
    "fails with access denied",
    "duplicates entries",
    "sends no notifications",
    "cannot find the server",
    "uses all the CPU",
    "signs users out",
    "shows the wrong time",
    "fails without a message",
    "returns HTTP 502",
    "cannot open attachments",
    "fills the disk",
    "reconnects every few minutes",
]
CONDITIONS = [
    "after the Windows update",
    "on Windows 11 23H2",
    "on macOS Sonoma",
    "when running on battery",
    "behind the guest proxy",
    "after a password change",
    "on the second monitor",
    "with roaming profiles",
    "when split tunnelling is on",
    "after the certificate renewal",
    "during the month-end close",
    "for users in the finance department",
    "on the 5 GHz band",
    "when IPv6 is enabled",
    "after firmware 2.4.1",
    "with the new connection profile",
    "in published desktop sessions",
    "on shared workstations",
    "over a mobile hotspot",
    "after the mailbox migration",
    "with more than 50 attachments",
    "for new starters",
    "after the nightly patch window",
    "on docked laptops",
    "with encrypted DNS",
    "in the Berlin office",
    "in the warehouse",
    "with delegated credentials",
    "on ARM laptops",
    "after the daylight saving change",
    "for external contractors",
    "when the antivirus scan runs",
    "after the browser update",
    "with a full profile disk",
    "on the training room PCs",
    "when two sessions are open",
    "after the domain controller reboot",
    "in the Lisbon branch",
    "on thin clients",
    "with the legacy driver",
]
STEPS = [
    "Close {component} completely (check the tray icon).",
    "Open a command prompt and run `ipconfig /flushdns`.",
    "Run `gpupdate /force` and sign out and in again.",
    "Clear the cached credentials with `klist purge`.",
    "Delete the folder `%LOCALAPPDATA%\\{slug}\\Cache`.",
    "Reconnect to the **{service}** service from the self-service portal.",
    "Switch to the wired network or the corporate SSID.",
    "Restart the **{component}** service in Services (`services.msc`).",
    "Reinstall the package from the Software Center (version {version}).",
    "Ask the caller to sign in again with their full user name.",
    "Disable the power-saving option of the network adapter.",
    "Roll back the driver to version {version} in Device Manager.",
    "Remove and re-add the profile; note the **old** settings first.",
    "If it still fails, attach the log file `{slug}.log` to the incident.",
    "Set the registry value `Timeout` to `120` under the {component} key.",
    "Tell the caller this is a known error and the fix is planned.",
]
CAUSES = [
    "A change in {component} {version} handles {thing} differently.",
    "The {thing} cached by {component} is not refreshed {condition}.",
    "{component} uses an outdated {thing} {condition}.",
    "A race between {component} and the {thing} service {condition}.",
]
THINGS = [
    "session token",
    "network profile",
    "certificate chain",
    "DNS suffix list",
    "proxy setting",
    "group policy object",
    "driver",
    "time zone table",
    "print queue",
    "user profile",
]
EXTRA = [
    "Seen first in the {dept} department.",
    "Several callers a day report it.",
    "The event log shows warning {code} just before.",
    "It does not happen on freshly built devices.",
    "Restarting the device helps only for a while.",
    "Only some users are affected; the rest work normally.",
]
DEPTS = ["finance", "sales", "logistics", "legal", "marketing", "engineering", "HR"]
CI_PER_COMPONENT = 50


def _pool(weights):
    out = []
    for value, weight in weights:
        out.extend([value] * weight)
    return out


def _code(rng):
    return f"0x{rng.choice(['8007', '8004', 'C000', '8009'])}{rng.randrange(16**4):04X}"


def make_cis(setup, count):
    """``count`` CIs (bench data: no history), CI_PER_COMPONENT per component in order."""
    kind = CIType.objects.exclude(is_location=True).order_by("pk").first()
    now = timezone.now()
    customers = setup["customers"]
    rows = [
        {
            "name": f"ke-ci-{i:05d}",
            "ci_type_id": kind.pk,
            "status": "live",
            "criticality": 1 + i % 4,
            "owner_id": None,
            "location_id": None,
            "description": f"Serves {COMPONENTS[(i // CI_PER_COMPONENT) % len(COMPONENTS)][0]}",
            "serial": f"KE{i:08d}",
            "asset_tag": "",
            "external_key": f"bench-ke-{i}",
            "installed_on": None,
            "warranty_end": None,
            "retire_by": None,
            "attributes": {},
            "created": now,
            "updated": now,
            "version": 1,
        }
        for i in range(count)
    ]
    with transaction.atomic():
        for start in range(0, len(rows), BATCH):
            insert_many(ConfigurationItem, rows[start : start + BATCH])
    ids = list(
        ConfigurationItem.objects.filter(name__startswith="ke-ci-")
        .order_by("name")
        .values_list("pk", flat=True)
    )
    through = ConfigurationItem.customers.through
    through.objects.bulk_create(
        [
            through(configurationitem_id=ci, customer_id=customers[i % len(customers)])
            for i, ci in enumerate(ids)
            if i % 10  # one in ten shared
        ],
        batch_size=5000,
    )
    return ids


def make_known_errors(setup, count, ci_ids, rng):
    """``count`` known errors with services, customers, CI links and search entries."""
    now = timezone.now()
    services = setup["services"]
    customers = setup["customers"]
    customer_pool = _pool([(None, 8), (customers[0], 6), (customers[1], 4), (customers[2], 2)])
    status_pool = _pool([("open", 6), ("fixed", 3), ("retired", 1)])
    last = _last_number()
    combos = [
        (c, s, k)
        for c in range(len(COMPONENTS))
        for s in range(len(SYMPTOMS))
        for k in range(len(CONDITIONS))
    ]
    rng.shuffle(combos)
    combos = combos[:count]
    rows, extras = [], []
    for n, (c, s, k) in enumerate(combos):
        component, service_index = COMPONENTS[c]
        slug = component.lower().replace(" ", "-")
        code = _code(rng)
        symptom = SYMPTOMS[s].format(code=code)
        condition = CONDITIONS[k]
        version = f"{rng.randrange(1, 12)}.{rng.randrange(10)}.{rng.randrange(100)}"
        service_name = ["Email", "VPN", "Laptops and desktops", "ERP", "Wi-Fi", "Printing"][
            service_index
        ]
        fill = {
            "component": component,
            "slug": slug,
            "service": service_name,
            "version": version,
            "thing": rng.choice(THINGS),
            "condition": condition,
            "code": code,
            "dept": rng.choice(DEPTS),
        }
        title = f"{component} {symptom} {condition}"[:160]
        symptoms = " ".join(
            [f"Users report that the {component[0].lower()}{component[1:]} {symptom} {condition}."]
            + [e.format(**fill) for e in rng.sample(EXTRA, 2)]
        )
        cause = rng.choice(CAUSES).format(**fill)
        cause = cause[0].upper() + cause[1:]
        steps = rng.sample(STEPS, rng.randrange(3, 6))
        workaround = "\n".join(f"{i}. {step.format(**fill)}" for i, step in enumerate(steps, 1))
        status = status_pool[int(rng.random() * len(status_pool))]
        created = now - dt.timedelta(seconds=rng.randrange(5 * 365 * 86400))
        rows.append(
            {
                "created": created,
                "updated": created,
                "version": 1,
                "number": f"KE{last + n + 1:07d}",
                "short_description": title,
                "symptoms": symptoms,
                "root_cause": cause,
                "workaround": workaround,
                "status": status,
                "problem_id": None,
                "fixed_at": created if status == "fixed" else None,
                "use_count": int(rng.paretovariate(1.5)) - 1,
            }
        )
        second = rng.randrange(len(services)) if rng.random() < 0.2 else None
        cis = []
        if ci_ids and rng.random() < 0.3:
            block = (c * CI_PER_COMPONENT) % len(ci_ids)
            cis = rng.sample(ci_ids[block : block + CI_PER_COMPONENT], rng.randrange(1, 4))
        customer = customer_pool[int(rng.random() * len(customer_pool))]
        extras.append((service_index, second, customer, cis))
    with transaction.atomic():
        for start in range(0, len(rows), BATCH):
            insert_many(KnownError, rows[start : start + BATCH])
        _advance_sequence(last + len(rows))
        made = list(
            KnownError.objects.filter(number__gt=f"KE{last:07d}")
            .order_by("number")
            .only("pk", "number", "short_description", "symptoms", "root_cause", "workaround")
        )
        ct = ContentType.objects.get_for_model(KnownError)
        svc_through = KnownError.services.through
        cust_through = KnownError.customers.through
        svc_rows, cust_rows, link_rows = [], [], []
        for known, (service_index, second, customer, cis) in zip(made, extras, strict=True):
            picked = {services[service_index]}
            if second is not None:
                picked.add(services[second])
            svc_rows += [svc_through(knownerror_id=known.pk, service_id=s) for s in picked]
            if customer is not None:
                cust_rows.append(cust_through(knownerror_id=known.pk, customer_id=customer))
            link_rows += [
                {
                    "ci_id": ci,
                    "content_type_id": ct.pk,
                    "object_id": known.pk,
                    "created": now,
                    "created_by_id": None,
                }
                for ci in cis
            ]
        svc_through.objects.bulk_create(svc_rows, batch_size=5000)
        cust_through.objects.bulk_create(cust_rows, batch_size=5000)
        for start in range(0, len(link_rows), BATCH):
            insert_many(CILink, link_rows[start : start + BATCH])
        for start in range(0, len(made), BATCH):
            search.index_records(KnownError, created=made[start : start + BATCH])
    return made, len(link_rows)


def _last_number():
    top = KnownError.objects.order_by("-number").values_list("number", flat=True).first()
    return int(top[2:]) if top else 0


def _advance_sequence(last):
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT setval('accord_ref_ke', %s)", [last])
        else:
            cursor.execute(
                "INSERT INTO core_referencesequence (prefix, last_value) VALUES ('KE', %s) "
                "ON CONFLICT (prefix) DO UPDATE SET last_value = excluded.last_value",
                [last],
            )


def _analyse():
    """Statistics as the databases keep them (autovacuum; Accord's nightly job)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            for table in (
                "problems_knownerror",
                "problems_knownerror_services",
                "problems_knownerror_customers",
                "cmdb_configurationitem",
                "cmdb_cilink",
                "core_searchentry",
            ):
                cursor.execute(f"VACUUM ANALYZE {table}")
    else:
        from accord.core.tasks import refresh_sqlite_statistics

        refresh_sqlite_statistics()


# --- timing ----------------------------------------------------------------------
NEW_SHORT = "VPN client keeps disconnecting after the Windows update"
NEW_BODY = (
    "User reports that the VPN client keeps disconnecting every few minutes since this "
    "morning. Affects 12 users in the finance department. Tried restarting the device, "
    "no change."
)


def _pct(values, q):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


class QueryLog:
    def __init__(self):
        self.queries = []

    def __call__(self, execute, sql, params, many, context):
        t0 = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            self.queries.append(((time.perf_counter() - t0) * 1000, sql))


def time_path(client, path, requests, warmup):
    for _ in range(warmup):
        response = client.get(path)
        if response.status_code != 200:
            raise SystemExit(
                f"GET {path} answered {response.status_code}: {response.content[:300]!r}"
            )
    times, cpu = [], []
    for _ in range(requests):
        c0 = time.thread_time()
        t0 = time.perf_counter()
        response = client.get(path)
        times.append((time.perf_counter() - t0) * 1000)
        cpu.append((time.thread_time() - c0) * 1000)
    log = QueryLog()
    with connection.execute_wrapper(log):
        response = client.get(path)
    text = response.content.decode()
    slowest = sorted(log.queries, reverse=True)[:3]
    return {
        "p50_ms": round(statistics.median(times), 2),
        "p95_ms": round(_pct(times, 0.95), 2),
        "max_ms": round(max(times), 2),
        # CPU time of the request's thread (SQLite's work included, PostgreSQL's not):
        # what the request costs, much less disturbed by other load on the machine.
        "cpu_p50_ms": round(statistics.median(cpu), 2),
        "cpu_p95_ms": round(_pct(cpu, 0.95), 2),
        "loadavg_1m": round(os.getloadavg()[0], 2),
        "suggested": text.count('data-known-error="'),
        "queries": len(log.queries),
        "sql_ms": round(sum(t for t, _ in log.queries), 2),
        "slowest_sql": [{"ms": round(t, 2), "sql": sql[:400]} for t, sql in slowest],
    }


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--setup", required=True)
    parser.add_argument("--known-errors", type=int, default=50_000)
    parser.add_argument("--cis", type=int, default=3000)
    parser.add_argument("--requests", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--skip-generate", action="store_true")
    args = parser.parse_args()
    with open(args.setup) as fh:
        setup = json.load(fh)
    rng = random.Random(20261126)
    out = {"vendor": connection.vendor}
    if not args.skip_generate:
        t0 = time.perf_counter()
        ci_ids = make_cis(setup, args.cis)
        out["made_cis_s"] = round(time.perf_counter() - t0, 1)
        t0 = time.perf_counter()
        made, links = make_known_errors(setup, args.known_errors, ci_ids, rng)
        out["made_known_errors_s"] = round(time.perf_counter() - t0, 1)
        t0 = time.perf_counter()
        _analyse()
        out["analyse_s"] = round(time.perf_counter() - t0, 1)
    out["incidents"] = Incident.objects.count()
    out["known_errors"] = KnownError.objects.count()
    out["open_known_errors"] = KnownError.objects.filter(status="open").count()
    out["ci_links"] = CILink.objects.filter(
        content_type=ContentType.objects.get_for_model(KnownError)
    ).count()
    # The new incident's CI: one of the VPN client's CIs that both users may see (one
    # in ten is shared), which some known errors name.
    vpn_ci = (
        ConfigurationItem.objects.filter(name__startswith="ke-ci-")
        .order_by("name")
        .values_list("pk", flat=True)[10]
    )
    vpn = setup["services"][1]
    # An existing open incident about the VPN, with that CI named on it.
    incident = (
        Incident.objects.filter(
            service_id=vpn, is_open=True, customer_id=setup["agent_customers"][0]
        )
        .order_by("-pk")
        .first()
    )
    incident_ct = ContentType.objects.get_for_model(Incident)
    CILink.objects.get_or_create(ci_id=vpn_ci, content_type=incident_ct, object_id=incident.pk)
    base = "/problems/known-errors/suggestions/"
    paths = {
        "new_incident": base
        + "?"
        + urlencode(
            {
                "service": vpn,
                "ci": vpn_ci,
                "short_description": NEW_SHORT,
                "description": NEW_BODY,
            }
        ),
        "new_incident_text": base
        + "?"
        + urlencode({"short_description": NEW_SHORT, "description": NEW_BODY}),
        "incident_page": base + "?" + urlencode({"incident": incident.pk}),
    }
    # A process's first question builds its word index of the known errors (a web
    # process would do it at start); timed on its own, then as part of a request.
    suggestions.forget()
    t0 = time.perf_counter()
    suggestions.current()
    out["index_build_s"] = round(time.perf_counter() - t0, 2)
    suggestions.forget()
    client = Client()
    client.force_login(User.objects.get(pk=setup["users"]["agent"]))
    t0 = time.perf_counter()
    client.get(paths["new_incident"])
    out["first_request_ms"] = round((time.perf_counter() - t0) * 1000)
    out["scenarios"] = []
    for user in ("agent", "admin"):
        client = Client()
        client.force_login(User.objects.get(pk=setup["users"][user]))
        for name, path in paths.items():
            result = time_path(client, path, args.requests, args.warmup)
            out["scenarios"].append({"scenario": name, "user": user, "path": path, **result})
    print(json.dumps(out))


if __name__ == "__main__":
    main()
