"""Verification and audit: a discovered dataset (CSV or GLPI-Agent inventories) sorted
into the four groups, the decisions on them, who sees and decides what, bad files."""

import io
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from accord.cmdb import audits
from accord.cmdb.actions import save_ci
from accord.cmdb.audit_data import DatasetError, read_bytes
from accord.cmdb.models import AuditItem, AuditRun, CIType, ConfigurationItem, LiveChange
from accord.core.context import acting_as
from accord.core.models import JournalEntry, ObjectChange

pytestmark = pytest.mark.django_db

DATA = Path(__file__).parent / "data"
GLPI = (DATA / "audit_inventory.json").read_bytes()
CSV = (DATA / "audit_servers.csv").read_bytes()


def make_ci(name, type_key="server", customers=(), status="live", **fields):
    attributes = fields.pop("attributes", {})
    ci = ConfigurationItem(
        name=name,
        ci_type=CIType.objects.get(key=type_key),
        status=status,
        attributes=attributes,
        **fields,
    )
    return save_ci(ci, customers=list(customers))


@pytest.fixture
def cmdb(world):
    """Recorded CIs the sample files are compared with."""
    with acting_as(world.admin, "test"):
        cis = {
            "web": make_ci(
                "srv-web-01",
                customers=[world.customer_a],
                external_key="srv-web-01-2026-01-10-08-00-00",
                serial="CZ1234ABCD",
                attributes={
                    "hostname": "srv-web-01.example.net",
                    "ip_address": "10.1.0.11",
                    "operating_system": "Debian GNU/Linux 11 (bullseye)",
                    "cpu_cores": 16,
                    "memory_gb": 64,
                },
            ),
            "vm": make_ci(
                "vm-app-02",
                "virtual-machine",
                customers=[world.customer_b],
                external_key="vm-app-02-2026-01-10-08-05-00",
                serial="VMware-42 1a 2b 3c",
                attributes={
                    "hostname": "vm-app-02.example.net",
                    "ip_address": "10.2.0.22",
                    "operating_system": "Ubuntu 24.04.1 LTS",
                    "cpu_cores": 4,
                    "memory_gb": 8,
                },
            ),
            "old": make_ci("srv-old-04", customers=[world.customer_a]),
            "shared": make_ci("srv-shared-05"),
            "vm_b": make_ci("vm-b-06", "virtual-machine", customers=[world.customer_b]),
            "retired": make_ci("srv-gone-07", status="retired"),
            "app": make_ci("payroll", "application", customers=[world.customer_a]),
        }
    return cis


def upload(content, name="dataset.json"):
    return SimpleUploadedFile(name, content, content_type="application/octet-stream")


def start(client, user, content, name="dataset.json", **extra):
    client.force_login(user)
    return client.post(
        reverse("cmdb:audit_create"),
        {"name": "January scan", "file": upload(content, name), "format": "auto", **extra},
    )


@pytest.fixture
def glpi_run(client, world, cmdb):
    r = start(client, world.admin, GLPI)
    assert r.status_code == 302, r.content.decode()[:3000]
    client.logout()
    return AuditRun.objects.get()


def groups(run, user=None):
    items = run.items.all() if user is None else audits.visible_items(user, run.items.all())
    out = {}
    for item in items.select_related("ci"):
        name = item.ci.name if item.ci else item.discovered["name"]
        out.setdefault(item.outcome, set()).add(name)
    return out


def item_of(run, name):
    for item in run.items.select_related("ci", "run"):
        if (item.ci and item.ci.name == name) or item.discovered.get("name") == name:
            return item
    raise AssertionError(name)


# --- reading the files ----------------------------------------------------------------------
def test_a_glpi_inventory_is_read_as_servers_and_virtual_machines(world):
    source, items = read_bytes(GLPI)
    assert source == "glpi"
    web, vm, new = items
    assert web["name"] == "srv-web-01" and web["type"] == "server"
    assert web["fields"] == {
        "external_key": "srv-web-01-2026-01-10-08-00-00",
        "serial": "CZ1234ABCD",
    }
    # The routed address, not the loopback, the link-local one or the bridge.
    assert web["attributes"] == {
        "hostname": "srv-web-01.example.net",
        "ip_address": "10.1.0.11",
        "operating_system": "Debian GNU/Linux 12 (bookworm)",
        "cpu_cores": 16,
        "memory_gb": 64,
    }
    assert vm["type"] == "virtual-machine"
    assert vm["attributes"]["cpu_cores"] == 4 and vm["attributes"]["memory_gb"] == 8
    # A BIOS placeholder is not an asset tag.
    assert "asset_tag" not in new["fields"]


def test_a_single_inventory_document_is_read_too(world):
    one = b'{"deviceid": "x-1", "content": {"hardware": {"name": "x", "memory": 2048}}}'
    source, items = read_bytes(one)
    assert source == "glpi"
    assert items[0]["fields"] == {"external_key": "x-1"}
    assert items[0]["attributes"] == {"hostname": "x", "memory_gb": 2}


# --- the four groups ------------------------------------------------------------------------
def test_a_glpi_run_sorts_discovered_and_recorded_into_four_groups(client, world, cmdb, glpi_run):
    run = glpi_run
    assert run.status == "done" and run.source == "glpi"
    assert groups(run) == {
        "different": {"srv-web-01"},
        "unchanged": {"vm-app-02"},
        "unknown": {"srv-new-03"},
        # Retired CIs are not expected; applications were not audited.
        "missing": {"srv-old-04", "srv-shared-05", "vm-b-06"},
    }
    web = item_of(run, "srv-web-01")
    assert web.matched_by == "external_key"
    assert web.differences == {
        "attr:operating_system": [
            "Debian GNU/Linux 11 (bullseye)",
            "Debian GNU/Linux 12 (bookworm)",
        ]
    }
    assert item_of(run, "vm-app-02").matched_by == "external_key"
    assert run.counts["different"] == 1 and run.counts["missing"] == 3
    assert set(run.counts["scope"]["types"]) == {"server", "virtual-machine"}

    client.force_login(world.admin)
    page = client.get(reverse("cmdb:audit_detail", args=[run.pk]) + "?group=different")
    html = page.content.decode()
    # Field by field, the attribute named by its label.
    assert "Operating system" in html and "bookworm" in html and "bullseye" in html
    unknown = client.get(reverse("cmdb:audit_detail", args=[run.pk]) + "?group=unknown")
    assert "srv-new-03" in unknown.content.decode()
    assert "Rocky Linux 9.5" in unknown.content.decode()


def test_a_csv_run_matches_by_serial_and_by_name_within_the_type(client, world, cmdb):
    r = start(client, world.admin, CSV, name="scan.csv")
    assert r.status_code == 302, r.content.decode()[:3000]
    run = AuditRun.objects.get()
    assert run.source == "csv"
    assert groups(run) == {
        "different": {"srv-web-01"},
        "unchanged": {"vm-app-02"},
        "unknown": {"srv-new-03"},
        "missing": {"srv-old-04", "srv-shared-05", "vm-b-06"},
    }
    web = item_of(run, "srv-web-01")
    assert web.matched_by == "serial"
    # Empty cells are "not discovered": only memory differs.
    assert web.differences == {"attr:memory_gb": [64, 128]}
    assert item_of(run, "vm-app-02").matched_by == "name"


def test_a_name_matches_only_within_the_type_given(world, cmdb):
    csv = b"name,type\nsrv-old-04,virtual-machine\n"
    _source, records = read_bytes(csv)
    with acting_as(world.admin, "test"):
        run = audits.start_run(
            world.admin, name="n", filename="n.csv", source="csv", records=records
        )
    # The server of that name is not a virtual machine.
    assert groups(run)["unknown"] == {"srv-old-04"}
    assert groups(run)["missing"] == {"vm-app-02", "vm-b-06"}


def test_missing_cis_are_those_in_the_scope_of_who_started_the_run(client, world, cmdb):
    assert start(client, world.owner, GLPI).status_code == 302
    run = AuditRun.objects.get()
    # Customer B's virtual machine is no concern of an owner serving customer A.
    assert groups(run)["missing"] == {"srv-old-04", "srv-shared-05"}


def test_the_scope_narrows_missing_to_a_customer_or_a_location(world, cmdb):
    with acting_as(world.admin, "test"):
        site = make_ci("Paris DC", "location")
        room = make_ci("Paris DC room 2", "location", location=site)
        old = cmdb["old"]
        old.location = room
        save_ci(old)
    _source, records = read_bytes(GLPI)
    with acting_as(world.admin, "test"):
        by_customer = audits.start_run(
            world.admin,
            name="A only",
            filename="f.json",
            source="glpi",
            records=records,
            customer=world.customer_a,
        )
        by_site = audits.start_run(
            world.admin,
            name="Paris",
            filename="f.json",
            source="glpi",
            records=records,
            location=site,
        )
    assert groups(by_customer)["missing"] == {"srv-old-04"}
    # Within the site: also the rooms inside it.
    assert groups(by_site)["missing"] == {"srv-old-04"}


# --- decisions ----------------------------------------------------------------------------
def decide_url(item):
    return reverse("cmdb:audit_decide", args=[item.run_id, item.pk])


def test_accepting_a_difference_updates_the_ci_with_its_history(client, world, cmdb, glpi_run):
    item = item_of(glpi_run, "srv-web-01")
    client.force_login(world.owner)
    assert "Operating system" in client.get(decide_url(item)).content.decode()
    r = client.post(decide_url(item), {"decision": "accepted", "reason": ""})
    assert r.status_code == 302, r.content.decode()[:3000]
    ci = ConfigurationItem.objects.get(pk=cmdb["web"].pk)
    assert ci.attributes["operating_system"] == "Debian GNU/Linux 12 (bookworm)"
    item.refresh_from_db()
    assert (item.decision, item.decided_by) == ("accepted", world.owner)
    assert item.decided_at is not None
    change = ObjectChange.objects.filter(object_id=ci.pk, action="update").latest("pk")
    assert change.actor_id == world.owner.pk and "attributes" in change.changes
    # A live CI: the change names the audit that authorised it.
    live = LiveChange.objects.filter(ci=ci).latest("pk")
    assert live.change_reference == "Audit January scan"
    note = JournalEntry.objects.filter(object_id=ci.pk, body__contains="January scan").get()
    assert "Operating system" in note.body
    # The run page lists the decision.
    page = client.get(reverse("cmdb:audit_detail", args=[glpi_run.pk]) + "?group=decisions")
    assert "srv-web-01" in page.content.decode() and "Accepted" in page.content.decode()


def test_rejecting_needs_a_reason_and_leaves_the_ci_alone(client, world, cmdb, glpi_run):
    item = item_of(glpi_run, "srv-web-01")
    client.force_login(world.manager_a)
    r = client.post(decide_url(item), {"decision": "rejected", "reason": "  "})
    assert r.status_code == 400
    assert "reason" in r.context["form"].errors
    item.refresh_from_db()
    assert item.decision == "pending"
    r = client.post(decide_url(item), {"decision": "rejected", "reason": "Upgrade rolled back"})
    assert r.status_code == 302
    item.refresh_from_db()
    assert (item.decision, item.reason, item.decided_by) == (
        "rejected",
        "Upgrade rolled back",
        world.manager_a,
    )
    ci = ConfigurationItem.objects.get(pk=cmdb["web"].pk)
    assert ci.attributes["operating_system"] == "Debian GNU/Linux 11 (bullseye)"
    assert ci.version == cmdb["web"].version


def test_creating_an_unknown_item_makes_the_ci(client, world, cmdb, glpi_run):
    item = item_of(glpi_run, "srv-new-03")
    client.force_login(world.admin)
    r = client.post(
        decide_url(item),
        {"decision": "created", "status": "live", "customer": world.customer_a.pk, "reason": ""},
    )
    assert r.status_code == 302, r.content.decode()[:3000]
    ci = ConfigurationItem.objects.get(name="srv-new-03")
    assert ci.ci_type.key == "server"
    assert ci.serial == "MXQ9990001"
    assert ci.external_key == "srv-new-03-2026-01-10-08-10-00"
    assert ci.attributes == {
        "hostname": "srv-new-03.example.net",
        "ip_address": "10.1.0.13",
        "operating_system": "Rocky Linux 9.5 (Blue Onyx)",
        "cpu_cores": 12,
        "memory_gb": 32,
    }
    assert list(ci.customers.all()) == [world.customer_a]
    item.refresh_from_db()
    assert (item.decision, item.ci_id) == ("created", ci.pk)
    assert ObjectChange.objects.filter(object_id=ci.pk, action="create").exists()
    assert JournalEntry.objects.filter(object_id=ci.pk, body__contains="January scan").exists()


def test_a_refused_create_writes_nothing(client, world, cmdb, glpi_run):
    item = item_of(glpi_run, "srv-new-03")
    with acting_as(world.admin, "test"):
        # Since the run, a virtual machine took the same external key.
        make_ci("other", "virtual-machine", external_key="srv-new-03-2026-01-10-08-10-00")
    client.force_login(world.admin)
    r = client.post(decide_url(item), {"decision": "created", "status": "live"})
    assert r.status_code == 400
    assert "external key" in str(r.context["form"].errors).lower()
    assert not ConfigurationItem.objects.filter(name="srv-new-03").exists()
    item.refresh_from_db()
    assert item.decision == "pending" and item.decided_by is None


def test_an_unknown_item_without_a_type_asks_for_one(client, world, cmdb):
    r = start(client, world.admin, b"name,serial\nbox-9,SN-9\n", name="walk.csv")
    assert r.status_code == 302
    item = item_of(AuditRun.objects.get(), "box-9")
    assert item.outcome == "unknown"
    page = client.get(decide_url(item))
    assert 'name="ci_type"' in page.content.decode()
    r = client.post(decide_url(item), {"decision": "created", "status": "in_stock"})
    assert r.status_code == 400 and "ci_type" in r.context["form"].errors
    assert not ConfigurationItem.objects.filter(name="box-9").exists()
    storage = CIType.objects.get(key="storage")
    r = client.post(
        decide_url(item), {"decision": "created", "status": "in_stock", "ci_type": storage.pk}
    )
    assert r.status_code == 302
    ci = ConfigurationItem.objects.get(name="box-9")
    assert (ci.ci_type, ci.serial, ci.status) == (storage, "SN-9", "in_stock")
    assert not ci.customers.exists()


def test_an_item_is_decided_once(client, world, cmdb, glpi_run):
    item = item_of(glpi_run, "srv-web-01")
    client.force_login(world.admin)
    assert client.post(decide_url(item), {"decision": "accepted"}).status_code == 302
    version = ConfigurationItem.objects.get(pk=cmdb["web"].pk).version
    r = client.post(decide_url(item), {"decision": "rejected", "reason": "changed my mind"})
    assert r.status_code == 409
    assert "already decided" in r.content.decode()
    item.refresh_from_db()
    assert item.decision == "accepted" and item.reason == ""
    assert ConfigurationItem.objects.get(pk=cmdb["web"].pk).version == version
    # The domain call refuses it too (two auditors at once).
    stale = item_of(glpi_run, "srv-old-04")
    with acting_as(world.admin, "test"):
        audits.decide(world.admin, stale, "rejected", "Powered off for the scan")
        with pytest.raises(ValidationError, match="already decided"):
            audits.decide(world.admin, stale, "rejected", "again")


def test_a_decision_must_fit_the_item(client, world, cmdb, glpi_run):
    client.force_login(world.admin)
    missing = item_of(glpi_run, "srv-old-04")
    r = client.post(decide_url(missing), {"decision": "accepted"})
    assert r.status_code == 400 and "decision" in r.context["form"].errors
    unchanged = item_of(glpi_run, "vm-app-02")
    assert client.post(decide_url(unchanged), {"decision": "accepted"}).status_code == 404
    assert AuditItem.objects.exclude(decision="pending").count() == 0


# --- who sees and decides what -------------------------------------------------------------
SEEN = {
    "admin": {"srv-web-01", "vm-app-02", "srv-new-03", "srv-old-04", "srv-shared-05", "vm-b-06"},
    "auditor": {"srv-web-01", "vm-app-02", "srv-new-03", "srv-old-04", "srv-shared-05", "vm-b-06"},
    "owner": {"srv-web-01", "srv-new-03", "srv-old-04", "srv-shared-05"},
    "manager_a": {"srv-web-01", "srv-new-03", "srv-old-04", "srv-shared-05"},
    "agent_a": {"srv-web-01", "srv-old-04", "srv-shared-05"},
    "agent_b": {"vm-app-02", "srv-shared-05", "vm-b-06"},
}


@pytest.mark.parametrize("who", sorted(SEEN))
def test_staff_see_the_items_whose_ci_they_see(client, world, cmdb, glpi_run, who):
    user = getattr(world, who)
    seen = set().union(*groups(glpi_run, user).values())
    assert seen == SEEN[who]
    client.force_login(user)
    listing = client.get(reverse("cmdb:audit_list"))
    assert listing.status_code == 200 and "January scan" in listing.content.decode()
    pages = "".join(
        client.get(
            reverse("cmdb:audit_detail", args=[glpi_run.pk]) + f"?group={g}"
        ).content.decode()
        for g in ("different", "unchanged", "unknown", "missing")
    )
    everything = SEEN["admin"]
    for name in everything:
        assert (name in pages) == (name in SEEN[who]), name
    counts = audits.counts_for(user, [glpi_run])[glpi_run.pk]
    assert sum(counts[o] for o in ("different", "unchanged", "unknown", "missing")) == len(
        SEEN[who]
    )


@pytest.mark.parametrize("who", ["customer_user_a", "customer_user_b"])
def test_customer_users_never_see_audits(client, world, cmdb, glpi_run, who):
    client.force_login(getattr(world, who))
    item = item_of(glpi_run, "srv-web-01")
    for url in (
        reverse("cmdb:audit_list"),
        reverse("cmdb:audit_create"),
        reverse("cmdb:audit_detail", args=[glpi_run.pk]),
        decide_url(item),
    ):
        assert client.get(url).status_code == 403, url
    assert client.post(decide_url(item), {"decision": "accepted"}).status_code == 403
    assert not audits.visible_items(getattr(world, who)).exists()


@pytest.mark.parametrize(
    ("who", "status"),
    [
        ("admin", 200),
        ("owner", 200),
        ("manager_a", 200),
        ("auditor", 403),
        ("agent_a", 403),
        ("agent_b", 403),
    ],
)
def test_who_may_start_a_run_and_decide(client, world, cmdb, glpi_run, who, status):
    client.force_login(getattr(world, who))
    assert client.get(reverse("cmdb:audit_create")).status_code == status
    item = item_of(glpi_run, "srv-old-04")
    assert client.get(decide_url(item)).status_code == status
    r = client.post(decide_url(item), {"decision": "rejected", "reason": "in the cupboard"})
    assert r.status_code == (302 if status == 200 else 403)
    item.refresh_from_db()
    assert item.decision == ("rejected" if status == 200 else "pending")
    r = start(client, getattr(world, who), GLPI)
    assert r.status_code == (302 if status == 200 else 403)


def test_an_item_of_another_customer_cannot_be_decided(client, world, cmdb, glpi_run):
    item = item_of(glpi_run, "vm-b-06")
    client.force_login(world.owner)
    assert client.get(decide_url(item)).status_code == 404
    assert client.post(decide_url(item), {"decision": "rejected", "reason": "x"}).status_code == 404
    item.refresh_from_db()
    assert item.decision == "pending"
    # Nor through another run's address.
    with acting_as(world.admin, "test"):
        other = AuditRun.objects.create(name="other", source="csv", filename="x.csv")
    url = reverse("cmdb:audit_decide", args=[other.pk, item_of(glpi_run, "srv-old-04").pk])
    assert client.get(url).status_code == 404


def test_the_run_page_lists_runs_with_visible_counts_in_few_queries(
    client, world, cmdb, glpi_run, django_assert_max_num_queries
):
    client.force_login(world.agent_b)
    with django_assert_max_num_queries(12):
        page = client.get(reverse("cmdb:audit_detail", args=[glpi_run.pk]) + "?group=missing")
    assert page.status_code == 200
    with django_assert_max_num_queries(8):
        listing = client.get(reverse("cmdb:audit_list"))
    row = listing.context["rows"][0][1]
    assert (row["different"], row["unchanged"], row["missing"], row["unknown"]) == (0, 1, 2, 0)


# --- large datasets: the worker ------------------------------------------------------------
def test_a_large_dataset_is_compared_by_the_worker(
    client, world, cmdb, monkeypatch, django_capture_on_commit_callbacks, settings, tmp_path
):
    settings.MEDIA_ROOT = tmp_path
    monkeypatch.setattr(audits, "INLINE_LIMIT", 1)
    client.force_login(world.admin)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        r = client.post(
            reverse("cmdb:audit_create"),
            {"name": "Big", "file": upload(GLPI), "format": "glpi"},
        )
    assert r.status_code == 302
    run = AuditRun.objects.get()
    assert run.status == "queued" and not run.items.exists()
    status = client.get(reverse("cmdb:audit_detail", args=[run.pk]))
    assert "this page reloads when it is done" in status.content.decode()
    fragment = client.get(reverse("cmdb:audit_detail", args=[run.pk]) + "?fragment=status")
    assert fragment.status_code == 200 and 'hx-trigger="every 3s"' in fragment.content.decode()
    for callback in callbacks:
        callback()  # the worker runs the job (immediate in tests)
    run.refresh_from_db()
    assert run.status == "done" and run.counts["unknown"] == 1
    fragment = client.get(
        reverse("cmdb:audit_detail", args=[run.pk]) + "?fragment=status", HTTP_HX_REQUEST="true"
    )
    assert fragment.status_code == 204 and fragment["HX-Refresh"] == "true"
    # The stored dataset is gone; a repeated job leaves a finished run alone.
    assert not list((tmp_path / "cmdb-audits").iterdir())
    audits.run_audit(run.pk, "cmdb-audits/none.json")
    assert run.items.count() == 6


def test_a_worker_run_that_cannot_read_its_dataset_says_it_failed(world, cmdb, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    (tmp_path / "cmdb-audits").mkdir()
    (tmp_path / "cmdb-audits" / "run-x.json").write_text("[{not json")
    run = AuditRun.objects.create(
        name="x", source="glpi", filename="x.json", created_by=world.admin
    )
    audits.run_audit(run.pk, "cmdb-audits/run-x.json")
    run.refresh_from_db()
    assert run.status == "failed" and "comparison failed" in run.error
    assert not run.items.exists()


# --- bad files --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("content", "words"),
    [
        (b"", "empty"),
        (b"name,type\nsrv-1,server\n\xff\xfe broken,server\n", "Line 3"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "UTF-8"),
        (b'{"deviceid": "x", "content": {"hardware": {"name": "x"}', "line 1, column"),
        (b'{"hello": "world"}', "no “content” section"),
        (b'[{"deviceid": "a", "content": {"hardware": {}}}]', "content.hardware.name"),
        (
            b'{"deviceid": "a", "content": {"networks": "eth0", "hardware": {"name": "a"}}}',
            "content.networks",
        ),
        (b"just some words\nand more words\n", "“name” column"),
        (b"name,type\nsrv-1,mainframe\n", "Line 2, column “type”: no CI type “mainframe”"),
        (
            b"name,type,attr:ip_address\nsrv-1,server,10.0.0.300\n",
            "Line 2, column “attr:ip_address”",
        ),
        (b"name,type,attr:colour\nsrv-1,server,blue\n", "has no attribute “colour”"),
        (b"name,type,status\nsrv-1,server,switched on\n", "column “status”"),
        (b"name,type,serail\nsrv-1,server,X\n", "unknown column"),
        (b"name,type\n,server\n", "Line 2, column “name”"),
        (b"name,type\nsrv-1,server,extra\n", "Line 2 has 3 cells"),
        (b"name,type\n", "no items"),
        (b"name,external_key\na,k1\nb,k1\n", "Line 3: the same external key as line 2"),
        (b'name,type\n"srv-1,server\n', "Line"),
        (b"name,type,serial\nsrv-1,server,=HYPERLINK(1)\n", "Line 2, column “serial”: This cell"),
    ],
)
def test_a_bad_file_is_refused_naming_where(client, world, cmdb, content, words):
    r = start(client, world.admin, content, name="bad.dat")
    assert r.status_code == 400
    errors = " ".join(r.context["form"].errors["file"])
    assert words in errors, errors
    assert not AuditRun.objects.exists() and not AuditItem.objects.exists()


def test_a_value_the_export_protected_reads_back(world):
    _source, items = read_bytes(b"name,type,serial,attr:cpu_cores\nsrv-1,server,'-12,-1\n")
    assert items[0]["fields"] == {"serial": "-12"}
    assert items[0]["attributes"] == {"cpu_cores": -1}


def test_read_bytes_refuses_what_is_not_an_inventory_even_as_json(world):
    with pytest.raises(DatasetError, match="Inventory 2 is not a GLPI-Agent inventory"):
        read_bytes(b'[{"deviceid": "a", "content": {"hardware": {"name": "a"}}}, 5]')


def test_a_file_too_large_is_refused(client, world, monkeypatch):
    from accord.cmdb import audit_data

    monkeypatch.setattr(audit_data, "MAX_BYTES", 100)
    with pytest.raises(DatasetError, match="larger than"):
        audit_data.read_dataset(io.BytesIO(b"name\n" + b"x\n" * 100))
