"""Baselines: taking one of a filtered set, comparing it with today and with another
baseline field by field, the CSV exports, who sees what, and bad input."""

import csv
import io

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accord.cmdb import actions, baselines
from accord.cmdb.baselines import ADDED, CHANGED, REMOVED, compare, take_baseline
from accord.cmdb.models import (
    Baseline,
    BaselineItem,
    CIType,
    ConfigurationItem,
    Relationship,
    RelationshipType,
)
from accord.core.context import acting_as

pytestmark = pytest.mark.django_db


def T(key):
    return CIType.objects.get(key=key)


def R(key):
    return RelationshipType.objects.get(key=key)


@pytest.fixture
def make_ci(world):
    def make(name, type_key="server", customers=(), services=(), **fields):
        with acting_as(world.admin, "test"):
            ci = ConfigurationItem(name=name, ci_type=T(type_key), **fields)
            return actions.save_ci(ci, customers=list(customers), services=list(services))

    return make


@pytest.fixture
def link(world):
    def make(source, key, target):
        with acting_as(world.admin, "test"):
            return actions.add_relationship(world.admin, source, target, R(key))

    return make


@pytest.fixture
def estate(world, make_ci, link):
    """A shared server and a site; Alpha's app and database on it, Beta's app on it
    too; one Alpha server in stock."""
    site = make_ci("dc-1", "location")
    srv = make_ci(
        "srv-shared",
        "server",
        status="live",
        owner=world.team_a,
        location=site,
        serial="SN-1",
        attributes={"hostname": "srv-shared.example", "memory_gb": 64},
    )
    app_a = make_ci(
        "payroll",
        "application",
        customers=[world.customer_a],
        services=[world.service],
        status="live",
        attributes={"version": "1.0"},
    )
    db_a = make_ci("payroll-db", "database", customers=[world.customer_a], status="live")
    app_b = make_ci("beta-erp", "application", customers=[world.customer_b], status="live")
    spare = make_ci("srv-spare", "server", customers=[world.customer_a], status="in_stock")
    link(app_a, "runs-on", srv)
    link(app_b, "runs-on", srv)
    link(app_a, "depends-on", db_a)
    return {"site": site, "srv": srv, "app_a": app_a, "db_a": db_a, "app_b": app_b, "spare": spare}


def take(user, name, **criteria):
    with acting_as(user, "test"):
        return take_baseline(user, name=name, criteria=criteria)


def by_id(differences):
    return {d.ci_id: d for d in differences}


# --- taking --------------------------------------------------------------------------
def test_a_baseline_of_a_filtered_set_holds_fields_attributes_and_relationships(
    client, world, estate
):
    client.force_login(world.admin)
    r = client.post(
        reverse("cmdb:baseline_create"),
        {
            "name": "Live estate Q1",
            "description": "Before the migration",
            "status": ["live"],
            "ci_type": [T("server").pk, T("application").pk],
        },
    )
    assert r.status_code == 302, r.content.decode()[:3000]
    baseline = Baseline.objects.get(name="Live estate Q1")
    assert r["Location"] == baseline.get_absolute_url()
    assert baseline.criteria == {
        "ci_type": [str(T("server").pk), str(T("application").pk)],
        "status": ["live"],
    }
    assert baseline.taken_by == world.admin
    # Live servers and applications: the spare (in stock), the database and the site
    # are not selected.
    names = set(BaselineItem.objects.filter(baseline=baseline).values_list("name", flat=True))
    assert names == {"srv-shared", "payroll", "beta-erp"}
    assert baseline.item_count == 3
    srv = BaselineItem.objects.get(baseline=baseline, ci_id=estate["srv"].pk)
    assert srv.ci_type == "Server"
    assert srv.data["status"] == "live"
    assert srv.data["owner"] == "Desk A"
    assert srv.data["location"] == [estate["site"].pk, "dc-1"]
    assert srv.data["serial"] == "SN-1"
    assert srv.data["attributes"] == {"Host name": "srv-shared.example", "Memory (GB)": 64}
    assert sorted(srv.relations) == sorted(
        [
            ["runs on", "in", estate["app_a"].pk, "payroll"],
            ["runs on", "in", estate["app_b"].pk, "beta-erp"],
        ]
    )
    app = BaselineItem.objects.get(baseline=baseline, ci_id=estate["app_a"].pk)
    assert app.data["customers"] == ["Alpha Ltd"]
    assert app.data["services"] == ["Email"]
    assert ["depends on", "out", estate["db_a"].pk, "payroll-db"] in app.relations
    page = client.get(baseline.get_absolute_url()).content.decode()
    assert "srv-shared" in page and "Before the migration" in page
    assert "Live" in page and "Server, Application" in page  # the selection, described


def test_the_selection_is_described_in_words(world, estate):
    baseline = take(
        world.admin,
        "Unowned Alpha",
        no_owner="true",
        customer=str(world.customer_a.pk),
        criticality=["1", "3"],
    )
    assert baselines.describe_criteria(baseline) == [
        ("Criticality", "Critical, Medium"),
        ("Customer", "Alpha Ltd"),
        ("No owner", "yes"),
    ]
    # Alpha's CIs (none has an owner); not the shared server, owned by Desk A.
    assert set(baseline.items.values_list("name", flat=True)) == {
        "payroll",
        "payroll-db",
        "srv-spare",
    }


def test_the_create_page_is_filled_in_from_the_ci_list_query(client, world, estate):
    client.force_login(world.manager_a)
    r = client.get(reverse("cmdb:baseline_create") + f"?status=live&ci_type={T('server').pk}")
    assert r.status_code == 200
    assert r.context["filterset"].form["status"].value() == ["live"]
    assert r.context["matching"] == (1, False)  # srv-shared


def test_taking_streams_in_chunks_with_queries_per_chunk_not_per_ci(world, estate, monkeypatch):
    full = take(world.admin, "All at once")
    assert full.item_count == 6
    monkeypatch.setattr(baselines, "CHUNK", 2)
    monkeypatch.setattr(baselines, "INSERT_SLICE", 4)
    chunked = take(world.admin, "In chunks")
    assert chunked.item_count == 6
    whole = {i.ci_id: (i.data, sorted(i.relations)) for i in full.items.all()}
    parts = {i.ci_id: (i.data, sorted(i.relations)) for i in chunked.items.all()}
    assert parts == whole
    # The number of queries does not grow with the number of CIs.
    monkeypatch.setattr(baselines, "CHUNK", 1000)
    monkeypatch.setattr(baselines, "INSERT_SLICE", 500)
    with CaptureQueriesContext(connection) as few:
        take(world.admin, "Six")
    with acting_as(world.admin, "test"):
        for i in range(12):
            actions.save_ci(ConfigurationItem(name=f"extra-{i}", ci_type=T("server")))
    with CaptureQueriesContext(connection) as many:
        b = take(world.admin, "Eighteen")
    assert b.item_count == 18
    assert len(many.captured_queries) == len(few.captured_queries)


# --- comparing with today ------------------------------------------------------------------
def test_compare_with_today_lists_each_change_field_by_field(client, world, estate, link):
    baseline = take(world.admin, "Before")
    srv, app_a, db_a, spare = estate["srv"], estate["app_a"], estate["db_a"], estate["spare"]
    spare_id = spare.pk
    with acting_as(world.admin, "test"):
        srv.name = "srv-main"
        srv.attributes = {**srv.attributes, "memory_gb": 128}
        actions.save_ci(srv, change_reference="CHG0000001")
        actions.remove_relationship(
            world.admin, Relationship.objects.get(source=app_a, target=db_a)
        )
        spare.delete()
        new = actions.save_ci(
            ConfigurationItem(name="srv-new", ci_type=T("server")), customers=[world.customer_a]
        )
    link(db_a, "runs-on", srv)

    differences = list(compare(world.admin, baseline).differences())
    found = by_id(differences)
    assert found[new.pk].kind == ADDED
    assert found[spare_id].kind == REMOVED
    assert [d.name for d in differences if d.kind == REMOVED] == ["srv-spare"]
    assert found[srv.pk].kind == CHANGED
    assert ("Name", "srv-shared", "srv-main") in found[srv.pk].changes
    assert ("Memory (GB)", "64", "128") in found[srv.pk].changes
    assert ("Relationship added", "", "hosts payroll-db") in found[srv.pk].changes
    assert found[app_a.pk].changes == [("Relationship removed", "depends on payroll-db", "")]
    db_changes = found[db_a.pk].changes
    assert ("Relationship removed", "used by payroll", "") in db_changes
    assert ("Relationship added", "", "runs on srv-main") in db_changes
    # The site (now related to nothing new) and Beta's app are unchanged.
    assert estate["site"].pk not in found and estate["app_b"].pk not in found

    client.force_login(world.admin)
    r = client.get(reverse("cmdb:baseline_compare", args=[baseline.pk]))
    assert r.status_code == 200
    assert r.context["counts"] == {ADDED: 1, REMOVED: 1, CHANGED: 3, "unchanged": 2}
    page = r.content.decode()
    assert "srv-main" in page and "Memory (GB)" in page and "hosts payroll-db" in page
    only_added = client.get(reverse("cmdb:baseline_compare", args=[baseline.pk]) + "?show=added")
    assert [d.name for d, _url in only_added.context["shown"]] == ["srv-new"]


def test_a_ci_that_left_the_selection_is_compared_not_lost(world, estate):
    baseline = take(world.admin, "Live ones", status=["live"])
    app_b = estate["app_b"]
    with acting_as(world.admin, "test"):
        app_b.status = "retired"
        actions.save_ci(app_b, change_reference="CHG7")
    found = by_id(compare(world.admin, baseline).differences())
    assert found[app_b.pk].kind == CHANGED
    assert found[app_b.pk].changes == [("Status", "Live", "Retired")]


def test_compare_two_baselines_reads_from_the_earlier_to_the_later(client, world, estate):
    first = take(world.admin, "First")
    db_a = estate["db_a"]
    with acting_as(world.admin, "test"):
        db_a.criticality = 1
        db_a.attributes = {"engine": "PostgreSQL"}
        actions.save_ci(db_a, change_reference="CHG2")
    second = take(world.admin, "Second")
    with acting_as(world.admin, "test"):
        db_a.name = "renamed-after-both"
        actions.save_ci(db_a, change_reference="CHG3")

    client.force_login(world.auditor)
    for url in (
        reverse("cmdb:baseline_compare", args=[first.pk]) + f"?with={second.pk}",
        reverse("cmdb:baseline_compare", args=[second.pk]) + f"?with={first.pk}",
    ):
        r = client.get(url)
        assert r.status_code == 200
        assert r.context["before"] == first and r.context["after"] == second
        assert r.context["counts"] == {ADDED: 0, REMOVED: 0, CHANGED: 1, "unchanged": 5}
        (d, _url) = r.context["shown"][0]
        assert d.name == "payroll-db"  # as the later baseline has it, not as today
        assert d.changes == [("Criticality", "Medium", "Critical"), ("Engine", "", "PostgreSQL")]


# --- exports -------------------------------------------------------------------------
def read_csv(response):
    assert response["Content-Type"].startswith("text/csv")
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    return list(csv.reader(io.StringIO(text)))


def test_the_comparison_and_the_items_export_as_csv(client, world, estate):
    baseline = take(world.admin, "Export me")
    with acting_as(world.admin, "test"):
        srv = estate["srv"]
        srv.serial = "=HYPERLINK(1)"
        actions.save_ci(srv, change_reference="CHG9")
        actions.save_ci(ConfigurationItem(name="@new", ci_type=T("server")))
    client.force_login(world.admin)
    rows = read_csv(
        client.get(reverse("cmdb:baseline_compare", args=[baseline.pk]) + "?export=csv")
    )
    assert rows[0] == ["Difference", "CI id", "Name", "Type", "What", "Before", "After"]
    body = sorted(rows[1:])
    assert body == sorted(
        [
            [
                "Added",
                str(ConfigurationItem.objects.get(name="@new").pk),
                "'@new",
                "Server",
                "",
                "",
                "",
            ],
            [
                "Changed",
                str(srv.pk),
                "srv-shared",
                "Server",
                "Serial number",
                "SN-1",
                "'=HYPERLINK(1)",
            ],
        ]
    )
    items = read_csv(client.get(baseline.get_absolute_url() + "?export=csv"))
    assert items[0][:3] == ["CI id", "Name", "Type"]
    assert len(items) == 1 + 6
    srv_row = next(r for r in items if r[1] == "srv-shared")
    assert "Host name: srv-shared.example; Memory (GB): 64" in srv_row
    assert "hosts payroll; hosts beta-erp" in srv_row


# --- who sees what ---------------------------------------------------------------------
def test_each_user_sees_only_the_items_of_the_cis_they_may_see(client, world, estate):
    with acting_as(world.admin, "test"):
        both = actions.save_ci(
            ConfigurationItem(name="shared-storage", ci_type=T("storage")),
            customers=[world.customer_a, world.customer_b],
        )
    baseline = take(world.admin, "Everything")
    with acting_as(world.admin, "test"):
        estate["app_b"].delete()
        estate["spare"].delete()
    url = baseline.get_absolute_url()

    def item_names(user):
        client.force_login(user)
        r = client.get(url)
        assert r.status_code == 200
        return {i["name"]: i for i in r.context["items"]}

    admin_items = item_names(world.admin)
    assert set(admin_items) >= {"beta-erp", "srv-spare", "payroll"}
    assert set(item_names(world.auditor)) == set(admin_items)
    alpha = item_names(world.agent_a)
    assert set(alpha) == {"dc-1", "srv-shared", "payroll", "payroll-db", "shared-storage"}
    # Beta's app is gone from the relationships, Beta from the customers.
    assert alpha["srv-shared"]["relations"] == ["hosts payroll"]
    assert ("Customers", "Alpha Ltd") in alpha["shared-storage"]["fields"]
    beta = item_names(world.agent_b)
    assert set(beta) == {"dc-1", "srv-shared", "shared-storage"}
    assert beta["srv-shared"]["relations"] == []
    assert ("Customers", "Beta plc") in beta["shared-storage"]["fields"]
    assert both.pk

    # The CIs deleted since: only staff who see every customer are told.
    def removed(user):
        return {d.name for d in compare(user, baseline).differences() if d.kind == REMOVED}

    assert removed(world.admin) == {"beta-erp", "srv-spare"}
    assert removed(world.auditor) == {"beta-erp", "srv-spare"}
    assert removed(world.agent_a) == set()
    assert removed(world.agent_b) == set()
    # Their own comparison CSV says nothing of the others either.
    client.force_login(world.agent_a)
    text = b"".join(
        client.get(
            reverse("cmdb:baseline_compare", args=[baseline.pk]) + "?export=csv"
        ).streaming_content
    ).decode()
    assert "beta" not in text.lower() and "srv-spare" not in text
    items_csv = b"".join(client.get(url + "?export=csv").streaming_content).decode()
    assert "beta" not in items_csv.lower() and "payroll" in items_csv

    for customer in (world.customer_user_a, world.customer_user_b):
        client.force_login(customer)
        for page in (
            reverse("cmdb:baseline_list"),
            reverse("cmdb:baseline_create"),
            url,
            reverse("cmdb:baseline_compare", args=[baseline.pk]),
            url + "?export=csv",
        ):
            assert client.get(page).status_code == 403, page


def test_the_list_shows_baseline_sizes_only_to_staff_who_see_everything(client, world, estate):
    take(world.admin, "Sized")
    client.force_login(world.admin)
    r = client.get(reverse("cmdb:baseline_list"))
    assert r.status_code == 200
    assert "Sized" in r.content.decode()
    assert [c.name for c in r.context["table"].columns].count("item_count") == 1
    client.force_login(world.agent_b)
    r = client.get(reverse("cmdb:baseline_list"))
    assert "Sized" in r.content.decode()
    assert "item_count" not in [c.name for c in r.context["table"].columns]
    # The baseline's own page counts the items they see.
    baseline = Baseline.objects.get(name="Sized")
    assert client.get(baseline.get_absolute_url()).context["total"] == 3


@pytest.mark.parametrize(
    ("user", "allowed"),
    [
        ("admin", True),
        ("owner", True),
        ("manager_a", True),
        ("agent_a", False),
        ("auditor", False),
    ],
)
def test_who_may_take_a_baseline(client, world, estate, user, allowed):
    client.force_login(getattr(world, user))
    r = client.post(reverse("cmdb:baseline_create"), {"name": f"By {user}"})
    assert r.status_code == (302 if allowed else 403)
    assert Baseline.objects.filter(name=f"By {user}").exists() is allowed


def test_a_manager_takes_only_the_cis_they_may_see(world, estate):
    baseline = take(world.manager_a, "Alpha's view")
    names = set(baseline.items.values_list("name", flat=True))
    assert "beta-erp" not in names and "payroll" in names and "srv-shared" in names


# --- bad input -------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("data", "field", "words"),
    [
        ({"name": ""}, "name", "A baseline needs a name"),
        ({"name": "   "}, "name", "A baseline needs a name"),
        ({"name": "existing"}, "name", "already exists"),
        ({"name": "EXISTING"}, "name", "already exists"),
        ({"name": "x" * 151}, "name", "at most 150"),
        ({"name": "ok", "status": "exploded"}, "status", "exploded"),
        ({"name": "ok", "ci_type": "abc"}, "ci_type", ""),
        ({"name": "ok", "owner": "999999"}, "owner", ""),
        ({"name": "ok", "location": "99999999999999999999999"}, "location", ""),
        ({"name": "ok", "q": "x" * 5, "criticality": "0"}, "criticality", ""),
        ({"name": "ok", "customer": "CUSTOMER_B"}, "customer", ""),
    ],
)
def test_a_bad_baseline_is_refused_naming_the_field(client, world, estate, data, field, words):
    take(world.admin, "existing")
    if data.get("customer") == "CUSTOMER_B":
        # Agent A's team serves Alpha only: Beta is no choice of theirs.
        data = {**data, "customer": str(world.customer_b.pk)}
        user = world.manager_a
    else:
        user = world.admin
    client.force_login(user)
    before = (Baseline.objects.count(), BaselineItem.objects.count())
    r = client.post(reverse("cmdb:baseline_create"), data)
    assert r.status_code == 400
    errors = dict(r.context["form"].errors)
    errors.update(r.context["filterset"].form.errors)
    assert field in errors, errors
    assert words in " ".join(errors[field])
    assert (Baseline.objects.count(), BaselineItem.objects.count()) == before


def test_take_baseline_refuses_bad_input_with_field_errors(world, estate):
    from django.core.exceptions import ValidationError

    take(world.admin, "Taken")
    with pytest.raises(ValidationError) as caught:
        take(world.admin, " taken ", status=["nonsense"])
    assert set(caught.value.message_dict) == {"name", "status"}
    assert Baseline.objects.count() == 1


@pytest.mark.parametrize(
    ("query", "status", "words"),
    [
        ("?with=abc", 400, "names no baseline"),
        ("?with=1;DROP", 400, "names no baseline"),
        ("?with=%C2%B2", 400, "names no baseline"),
        ("?with=99999999999999999999999999", 400, "names no baseline"),
        ("?with=999999", 404, ""),
        ("?with=SELF", 400, "another baseline"),
        ("?show=everything", 400, "Choose added, removed or changed"),
        ("?export=xlsx", 400, "Unknown export"),
        ("?with=today&show=changed", 200, ""),
        ("?with=", 200, ""),
    ],
)
def test_bad_compare_queries_get_a_clear_error(client, world, estate, query, status, words):
    baseline = take(world.admin, "Base")
    query = query.replace("SELF", str(baseline.pk))
    client.force_login(world.agent_a)
    r = client.get(reverse("cmdb:baseline_compare", args=[baseline.pk]) + query)
    assert r.status_code == status
    assert words in r.content.decode()


def test_unknown_baselines_and_bad_page_queries(client, world, estate):
    baseline = take(world.admin, "Base")
    client.force_login(world.agent_a)
    assert client.get(reverse("cmdb:baseline_detail", args=[999999])).status_code == 404
    assert client.get("/cmdb/baselines/99999999999999999999999999/").status_code == 404
    assert client.get(reverse("cmdb:baseline_compare", args=[999999])).status_code == 404
    assert client.get(baseline.get_absolute_url() + "?cursor=forged").status_code == 200
    assert client.get(baseline.get_absolute_url() + "?q=%00x").status_code == 200
    assert client.get(baseline.get_absolute_url() + "?export=pdf").status_code == 400
    r = client.get(reverse("cmdb:baseline_create") + "?status=bogus")
    assert r.status_code == 403  # agents may not take baselines
    client.force_login(world.admin)
    r = client.get(reverse("cmdb:baseline_create") + "?status=bogus&ci_type=x")
    assert r.status_code == 200
    assert r.context["matching"] is None
    assert "status" in r.context["filterset"].form.errors
