"""CSV import and export of CIs and relationships: upsert by each key, all or
nothing, errors by line and column, repeat imports that change nothing, bad input of
every kind, formula cells, the export's round trip, who may import and export what,
the pages, the API and the worker's path."""

import csv
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from accord.cmdb import actions
from accord.cmdb.imports import CHUNK, run_import, start_import
from accord.cmdb.models import (
    CIType,
    ConfigurationItem,
    GraphEvent,
    ImportRun,
    LiveChange,
    Relationship,
    RelationshipType,
)
from accord.core.context import acting_as
from accord.core.models import JournalEntry, ObjectChange, SearchEntry

pytestmark = pytest.mark.django_db

HEADER = "name,type,status,criticality,owner,customers,services,serial,external_key,attr:cpu_cores"


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


def T(key):
    return CIType.objects.get(key=key)


def R(key):
    return RelationshipType.objects.get(key=key)


def upload(text, name="cis.csv"):
    data = text.encode() if isinstance(text, str) else text
    return SimpleUploadedFile(name, data, content_type="text/csv")


def do_import(user, text, kind="cis", key="external_key", name="cis.csv"):
    """Start a run as the page does, then apply it as the worker does."""
    run = start_import(user, upload(text, name), kind, key)
    run_import(run.pk)
    run.refresh_from_db()
    return run


def errors_of(run):
    return [(e["line"], e["column"]) for e in run.errors]


def ci(name, type_key="server"):
    return ConfigurationItem.objects.get(name=name, ci_type__key=type_key)


def history_count():
    return ObjectChange.objects.count()


@pytest.fixture
def make_ci(world):
    def make(name, type_key="server", customers=(), services=(), **fields):
        with acting_as(world.admin, "test"):
            item = ConfigurationItem(name=name, ci_type=T(type_key), **fields)
            return actions.save_ci(item, customers=list(customers), services=list(services))

    return make


# --- creating and updating ----------------------------------------------------------
def test_creates_cis_with_their_fields_history_and_search_entries(world):
    text = (
        f"{HEADER}\n"
        "srv-01,server,live,critical,Desk A,alpha;Beta plc,Email,SN1,ext-1,8\n"
        "srv-02,Server,,,,,,SN2,ext-2,\n"
    )
    run = do_import(world.admin, text)
    assert run.status == "done", run.errors
    assert (run.created_count, run.updated_count, run.unchanged_count) == (2, 0, 0)
    assert run.processed == run.total_rows == 2
    one = ci("srv-01")
    assert (one.status, one.criticality, one.owner, one.serial, one.external_key) == (
        "live",
        1,
        world.team_a,
        "SN1",
        "ext-1",
    )
    assert one.attributes == {"cpu_cores": 8}
    assert set(one.customers.all()) == {world.customer_a, world.customer_b}
    assert list(one.services.all()) == [world.service]
    two = ci("srv-02")
    assert (two.status, two.criticality, two.owner, two.attributes) == ("planned", 3, None, {})
    change = ObjectChange.objects.get(object_id=one.pk, content_type__model="configurationitem")
    assert change.action == "create"
    assert change.actor == world.admin
    assert change.via == "job:cmdb-import"
    assert change.changes["name"] == "srv-01"
    assert change.changes["customers"] == sorted([world.customer_a.pk, world.customer_b.pk])
    assert SearchEntry.objects.filter(
        content_type__model="configurationitem", object_id=one.pk, title="srv-01"
    ).exists()
    assert GraphEvent.objects.filter(op=GraphEvent.RELOAD).count() == 1


@pytest.mark.parametrize(
    ("key", "first", "second"),
    [
        (
            "external_key",
            "name,type,external_key,serial\nsrv-a,server,K1,S1\n",
            "name,type,external_key,serial\nsrv-renamed,server,K1,S9\n",
        ),
        (
            "name",
            "name,type,serial\nsrv-a,server,S1\n",
            "name,type,serial\nsrv-a,server,S9\n",
        ),
        (
            "serial",
            "name,type,serial,asset_tag\nsrv-a,server,S1,\n",
            "name,type,serial,asset_tag\nsrv-renamed,server,S1,AT-9\n",
        ),
    ],
)
def test_upsert_by_each_key_updates_the_ci_it_names(world, key, first, second):
    run = do_import(world.admin, first, key=key)
    assert run.status == "done" and run.created_count == 1, run.errors
    pk = ConfigurationItem.objects.get().pk
    before = history_count()
    run = do_import(world.admin, second, key=key)
    assert run.status == "done", run.errors
    assert (run.created_count, run.updated_count, run.unchanged_count) == (0, 1, 0)
    item = ConfigurationItem.objects.get()
    assert item.pk == pk
    assert item.version == 2
    assert history_count() == before + 1
    change = ObjectChange.objects.filter(object_id=pk).order_by("-id").first()
    assert change.action == "update"
    if key == "name":
        assert change.changes == {"serial": ["S1", "S9"]}
    elif key == "serial":
        assert change.changes == {"name": ["srv-a", "srv-renamed"], "asset_tag": ["", "AT-9"]}
    else:
        assert change.changes == {"name": ["srv-a", "srv-renamed"], "serial": ["S1", "S9"]}


def test_importing_the_same_file_twice_changes_nothing_the_second_time(world, make_ci):
    make_ci("rack-1", "location")
    text = (
        "name,type,status,location,customers,services,installed_on,attr:memory_gb,"
        "attr:environment,description\n"
        "srv-01,server,live,rack-1,alpha,Email,2024-01-31,64,production,Main server\n"
        "app-01,application,live,,beta,,,,,\n"
    )
    first = do_import(world.admin, text, key="name")
    assert first.status == "done", first.errors
    changes, lives, events = history_count(), LiveChange.objects.count(), GraphEvent.objects.count()
    versions = dict(ConfigurationItem.objects.values_list("name", "version"))
    again = do_import(world.admin, text, key="name")
    assert again.status == "done", again.errors
    assert (again.created_count, again.updated_count, again.unchanged_count) == (0, 0, 2)
    assert history_count() == changes
    assert LiveChange.objects.count() == lives
    assert GraphEvent.objects.count() == events  # nothing changed: no graph reload
    assert dict(ConfigurationItem.objects.values_list("name", "version")) == versions


def test_a_change_to_a_live_ci_is_noted_with_the_file_name(world, make_ci):
    make_ci("srv-01", status="live", external_key="K1")
    run = do_import(world.admin, "name,type,external_key,serial\nsrv-01,server,K1,NEW\n")
    assert run.status == "done", run.errors
    note = LiveChange.objects.get(ci=ci("srv-01"))
    assert note.summary == "Changed by import cis.csv"
    assert note.by == world.admin


def test_a_column_left_out_keeps_the_field_and_an_empty_cell_clears_it(world, make_ci):
    make_ci(
        "srv-01",
        external_key="K1",
        serial="S1",
        asset_tag="A1",
        installed_on="2020-01-01",
        owner=world.team_a,
        attributes={"cpu_cores": 4, "environment": "test"},
    )
    text = (
        "name,type,external_key,serial,installed_on,owner,criticality,attr:cpu_cores\n"
        "srv-01,server,K1,,2021-02-03,,critical,\n"
    )
    run = do_import(world.admin, text)
    assert run.status == "done", run.errors
    item = ci("srv-01")
    assert (item.serial, item.asset_tag, item.owner, item.criticality) == ("", "A1", None, 1)
    assert str(item.installed_on) == "2021-02-03"
    assert item.attributes == {"environment": "test"}
    change = ObjectChange.objects.filter(object_id=item.pk).order_by("-id").first()
    assert change.changes["installed_on"] == ["2020-01-01", "2021-02-03"]
    assert change.changes["owner"] == [world.team_a.pk, None]


def test_a_location_created_earlier_in_the_same_file_can_be_named(world):
    rows = ["name,type,location"] + [f"site-{i},location," for i in range(3)]
    rows += ["srv-01,server,site-2", "srv-02,server,site-0"]
    run = do_import(world.admin, "\n".join(rows), key="name")
    assert run.status == "done", run.errors
    assert ci("srv-01").location == ci("site-2", "location")


# --- all or nothing, and what each error says ------------------------------------------
def test_an_error_on_the_last_row_leaves_nothing_imported(world):
    count = CHUNK + 5  # the good rows span more than one chunk
    lines = [HEADER] + [f"srv-{i},server,,,,,,,k{i}," for i in range(count)]
    lines.append("srv-last,server,broken,,,,,,k-last,")
    before = history_count()
    run = do_import(world.admin, "\n".join(lines) + "\n")
    assert run.status == "failed"
    assert errors_of(run) == [(count + 2, "status")]
    assert "broken" in run.errors[0]["message"]
    assert ConfigurationItem.objects.count() == 0
    assert history_count() == before
    assert SearchEntry.objects.filter(content_type__model="configurationitem").count() == 0
    assert (run.created_count, run.updated_count) == (0, 0)
    assert run.processed == count + 1


def test_errors_name_their_line_and_column_in_plain_words(world):
    text = (
        "name,type,status,criticality,installed_on,retire_by,attr:cpu_cores,attr:ip_address\n"
        "srv-01,server,live,high,2024-01-01,2023-01-01,4,10.0.0.1\n"
        '"srv\n02",server,,extreme,31/12/2024,,many,10.0.0.999\n'
    )
    run = do_import(world.admin, text, key="name")
    assert run.status == "failed"
    assert errors_of(run) == [
        (2, "retire_by"),
        (3, "criticality"),
        (3, "installed_on"),
        (3, "attr:cpu_cores"),
        (3, "attr:ip_address"),
    ]
    messages = [e["message"] for e in run.errors]
    assert messages[0] == "This date is before the installation date."
    assert "extreme" in messages[1] and "critical" in messages[1]
    assert "YYYY-MM-DD" in messages[2]
    assert messages[3] == "CPU cores must be a number, not “many”."
    assert "IP address" in messages[4]


def test_a_file_that_is_not_utf8_is_refused_with_its_line(world):
    data = "name,type,description\nsrv-01,server,ok\nsrv-02,server,café\n".encode("latin-1")
    run = do_import(world.admin, data, key="name")
    assert run.status == "failed"
    assert errors_of(run) == [(3, "description")]
    assert "UTF-8" in run.errors[0]["message"]
    assert ConfigurationItem.objects.count() == 0


def test_a_utf16_file_or_a_binary_one_is_refused(world):
    run = do_import(world.admin, "name,type\nsrv-01,server\n".encode("utf-16"), key="name")
    assert run.status == "failed"
    assert errors_of(run) == [(1, "")]
    assert "UTF-8" in run.errors[0]["message"]
    run = do_import(world.admin, b"name,type\nsrv\x00,server\n", key="name")
    assert errors_of(run) == [(2, "")]


def test_broken_quoting_is_refused_with_its_line(world):
    run = do_import(world.admin, 'name,type\nsrv-01,server\n"srv-02"x,server\n', key="name")
    assert run.status == "failed"
    assert errors_of(run) == [(3, "")]
    assert "quotes" in run.errors[0]["message"]


def test_a_file_saved_with_a_bom_and_semicolons_is_read(world):
    data = "\ufeffname;type;customers\nsrv-01;server;alpha\n".encode()
    run = do_import(world.admin, data, key="name")
    assert run.status == "done", run.errors
    assert list(ci("srv-01").customers.all()) == [world.customer_a]


def test_a_missing_header_or_required_column_is_refused(world):
    run = do_import(world.admin, "srv-01,server,live\n", key="name")
    assert run.status == "failed"
    assert (1, "name") in errors_of(run) and (1, "type") in errors_of(run)
    assert any("first line must name the columns" in e["message"] for e in run.errors)
    run = do_import(world.admin, "name,type\nsrv-01,server\n", key="external_key")
    assert errors_of(run) == [(1, "external_key")]
    run = do_import(world.admin, "", key="name")
    assert run.status == "failed" and "empty" in run.errors[0]["message"]
    assert ConfigurationItem.objects.count() == 0


def test_unknown_types_columns_and_attributes_are_refused(world):
    run = do_import(world.admin, "name,type,colour\nx,server,red\n", key="name")
    assert errors_of(run) == [(1, "colour")]
    run = do_import(world.admin, "name,type,attr:wheels\nx,server,4\n", key="name")
    assert errors_of(run) == [(1, "attr:wheels")]
    text = "name,type,attr:cpu_cores,attr:site_code\nx,spaceship,,\ny,server,,AMS\n"
    run = do_import(world.admin, text, key="name")
    assert errors_of(run) == [(2, "type"), (3, "attr:site_code")]
    assert run.errors[1]["message"] == "A Server has no attribute “site_code”."
    assert ConfigurationItem.objects.count() == 0


def test_rows_that_name_one_ci_twice_or_take_a_name_are_refused(world, make_ci):
    make_ci("taken", external_key="OTHER")
    text = (
        "name,type,external_key\n"
        "srv-01,server,K1\n"
        "srv-02,server,K1\n"
        "srv-01,server,K3\n"
        "taken,server,K4\n"
    )
    run = do_import(world.admin, text)
    assert errors_of(run) == [(3, "external_key"), (4, "name"), (5, "name")]
    assert "line 2" in run.errors[0]["message"]
    assert ConfigurationItem.objects.count() == 1


def test_an_import_does_not_change_a_type(world, make_ci):
    make_ci("srv-01", external_key="K1")
    run = do_import(world.admin, "name,type,external_key\nsrv-01,application,K1\n")
    assert errors_of(run) == [(2, "type")]


def test_a_line_with_the_wrong_number_of_cells_is_refused(world):
    run = do_import(world.admin, "name,type,serial\nsrv-01,server\n", key="name")
    assert errors_of(run) == [(2, "")]
    assert "2 cells" in run.errors[0]["message"]


def test_at_most_200_errors_are_kept(world):
    lines = ["name,type"] + [f"x{i},nothing" for i in range(450)]
    run = do_import(world.admin, "\n".join(lines), key="name")
    assert run.status == "failed"
    assert len(run.errors) == 200


# --- formulas ---------------------------------------------------------------------------
@pytest.mark.parametrize("value", ["=1+2", "+1", "-cmd", "@SUM(A1)", '"  =HYPERLINK(""x"")"'])
def test_formula_cells_are_refused_on_import(world, value):
    run = do_import(world.admin, f"name,type,description\nsrv-01,server,{value}\n", key="name")
    assert run.status == "failed"
    assert errors_of(run) == [(2, "description")]
    assert "formula" in run.errors[0]["message"]
    assert ConfigurationItem.objects.count() == 0


def test_a_negative_number_in_a_number_attribute_is_not_a_formula(world):
    run = do_import(world.admin, "name,type,attr:memory_gb\nsrv-01,server,-4.5\n", key="name")
    assert run.status == "done", run.errors
    assert ci("srv-01").attributes == {"memory_gb": -4.5}
    run = do_import(world.admin, "name,type,attr:hostname\nsrv-02,server,-4.5\n", key="name")
    assert errors_of(run) == [(2, "attr:hostname")]


def test_formula_cells_are_neutralised_on_export_and_come_back_unchanged(client, world, make_ci):
    make_ci("srv-01", description='=HYPERLINK("http://x")', attributes={"memory_gb": -2})
    client.force_login(world.admin)
    body = b"".join(client.get(reverse("cmdb:export_cis")).streaming_content).decode()
    rows = list(csv.DictReader(io.StringIO(body.lstrip("\ufeff"))))
    assert rows[0]["description"] == '\'=HYPERLINK("http://x")'
    assert rows[0]["attr:memory_gb"] == "'-2"
    run = do_import(world.admin, body, key="name")
    assert run.status == "done", run.errors
    assert run.unchanged_count == 1


# --- export -------------------------------------------------------------------------------
def export(client, user, name="export_cis", query=""):
    client.force_login(user)
    response = client.get(reverse(f"cmdb:{name}") + query)
    assert response.status_code == 200, response.content
    body = b"".join(response.streaming_content).decode()
    return body, list(csv.DictReader(io.StringIO(body.lstrip("\ufeff"))))


def test_export_then_import_changes_nothing(client, world, make_ci):
    site = make_ci("site-1", "location", attributes={"site_code": "AMS"})
    srv = make_ci(
        "srv-01",
        customers=[world.customer_a],
        services=[world.service],
        status="live",
        criticality=2,
        owner=world.team_a,
        location=site,
        serial="S1",
        asset_tag="A1",
        external_key="K1",
        installed_on="2024-01-01",
        warranty_end="2027-01-01",
        retire_by="2029-01-01",
        description="First line\nsecond line, with a comma",
        attributes={"cpu_cores": 16, "memory_gb": 0.5, "environment": "production"},
    )
    app = make_ci("payroll", "application", customers=[world.customer_a, world.customer_b])
    with acting_as(world.admin, "test"):
        actions.add_relationship(world.admin, app, srv, R("runs-on"), note="main")
    body, rows = export(client, world.admin)
    assert [r["name"] for r in rows] == ["site-1", "srv-01", "payroll"]  # locations first
    srv_row = rows[1]
    assert srv_row["customers"] == "alpha"
    assert srv_row["services"] == "Email"
    assert srv_row["location"] == "site-1"
    assert srv_row["criticality"] == "high"
    assert srv_row["attr:cpu_cores"] == "16"
    assert rows[2]["customers"] == "alpha;beta"
    before = history_count()
    run = do_import(world.admin, body, key="external_key")
    # No external key: refused (payroll starts on line 5, after srv-01's two-line cell).
    assert errors_of(run) == [(2, "external_key"), (5, "external_key")]
    run = do_import(world.admin, body, key="name")
    assert run.status == "done", run.errors
    assert (run.created_count, run.updated_count, run.unchanged_count) == (0, 0, 3)
    links, rel_rows = export(client, world.admin, "export_relationships")
    assert rel_rows == [
        {
            "source": "payroll",
            "source_type": "application",
            "type": "runs-on",
            "target": "srv-01",
            "target_type": "server",
            "note": "main",
        }
    ]
    run = do_import(world.admin, links, kind="relationships", key="name")
    assert run.status == "done", run.errors
    assert (run.created_count, run.updated_count, run.unchanged_count) == (0, 0, 1)
    assert history_count() == before


def test_export_follows_the_ci_list_filters_and_rejects_bad_ones(client, world, make_ci):
    make_ci("srv-01", status="live")
    make_ci("srv-02")
    make_ci("app-01", "application", status="live")
    _body, rows = export(client, world.admin, query="?status=live&ci_type=" + str(T("server").pk))
    assert [r["name"] for r in rows] == ["srv-01"]
    assert "attr:cpu_cores" in rows[0] and "attr:vendor" not in rows[0]
    response = client.get(reverse("cmdb:export_cis") + "?status=exploded")
    assert response.status_code == 400
    response = client.get(reverse("cmdb:export_relationships") + "?key=colour")
    assert response.status_code == 400


@pytest.fixture
def both_customers(world, make_ci):
    """A CI of each customer, one shared, and a link between Alpha's and the shared one."""
    a = make_ci("alpha-srv", customers=[world.customer_a], external_key="KA")
    b = make_ci("beta-srv", customers=[world.customer_b], external_key="KB")
    shared = make_ci("core-switch", "network-device", external_key="KS")
    with acting_as(world.admin, "test"):
        actions.add_relationship(world.admin, a, shared, R("depends-on"))
        actions.add_relationship(world.admin, b, shared, R("depends-on"))
    return a, b, shared


@pytest.mark.parametrize(
    ("who", "sees"),
    [
        ("admin", {"alpha-srv", "beta-srv", "core-switch"}),
        ("auditor", {"alpha-srv", "beta-srv", "core-switch"}),
        ("agent_a", {"alpha-srv", "core-switch"}),
        ("agent_b", {"beta-srv", "core-switch"}),
        ("customer_user_a", {"alpha-srv"}),
        ("customer_user_b", {"beta-srv"}),
    ],
)
def test_exports_hold_only_what_the_user_may_see(client, world, both_customers, who, sees):
    user = getattr(world, who)
    _body, rows = export(client, user)
    assert {r["name"] for r in rows} == sees
    for row in rows:
        if row["name"] == "alpha-srv":
            assert row["customers"] == "alpha"
    _body, links = export(client, user, "export_relationships")
    expected = {(s, "core-switch") for s in sees if "core-switch" in sees and s != "core-switch"}
    assert {(r["source"], r["target"]) for r in links} == expected


# --- who may import --------------------------------------------------------------------
def test_who_may_open_the_import_pages(client, world):
    for user, code in [
        (world.admin, 200),
        (world.manager_a, 200),
        (world.owner, 200),
        (world.agent_a, 403),
        (world.auditor, 403),
        (world.customer_user_a, 403),
    ]:
        client.force_login(user)
        assert client.get(reverse("cmdb:import_create")).status_code == code, user
    client.force_login(world.auditor)
    assert client.get(reverse("cmdb:import_list")).status_code == 200
    client.force_login(world.agent_a)
    assert client.get(reverse("cmdb:import_list")).status_code == 403
    response = client.post(
        reverse("cmdb:import_create"),
        {"kind": "cis", "key_column": "name", "file": upload("name,type\nx,server\n")},
    )
    assert response.status_code == 403
    assert ImportRun.objects.count() == 0


def test_a_manager_may_only_touch_the_cis_and_customers_they_serve(world, both_customers):
    text = (
        "name,type,external_key,customers\n"
        "new-a,server,N1,alpha\n"
        "new-b,server,N2,beta\n"
        "beta-srv,server,KB,alpha\n"
    )
    run = do_import(world.manager_a, text)
    assert errors_of(run) == [(3, "customers"), (4, "external_key")]
    assert "beta" in run.errors[0]["message"]
    assert not ConfigurationItem.objects.filter(name__startswith="new-").exists()


def test_a_manager_keeps_the_customers_they_do_not_serve(world, make_ci):
    make_ci("both", customers=[world.customer_a, world.customer_b], external_key="K1")
    run = do_import(world.manager_a, "name,type,external_key,customers\nboth,server,K1,alpha\n")
    assert run.status == "done", run.errors
    assert run.unchanged_count == 1
    assert set(ci("both").customers.all()) == {world.customer_a, world.customer_b}


def test_a_location_the_user_cannot_see_is_not_found(world, make_ci):
    make_ci("beta-site", "location", customers=[world.customer_b])
    run = do_import(world.manager_a, "name,type,location\nsrv-01,server,beta-site\n", key="name")
    assert errors_of(run) == [(2, "location")]


def test_a_run_whose_user_lost_the_right_to_import_fails(world):
    run = start_import(world.manager_a, upload("name,type\nx,server\n"), "cis", "name")
    world.manager_a.role = "agent"
    world.manager_a.save()
    run_import(run.pk)
    run.refresh_from_db()
    assert run.status == "failed"
    assert ConfigurationItem.objects.count() == 0


def test_journal_events_go_one_by_one_to_listeners(world, make_ci):
    """A bulk write of journal events still reaches whoever listens for them."""
    from accord.core import history

    heard = []

    def listener(sender, instance, entry, **kwargs):
        heard.append((instance.pk, entry.body))

    item = make_ci("srv-01")
    history.journal_added.connect(listener, sender=ConfigurationItem)
    try:
        with acting_as(world.admin, "test"):
            history.events_many(ConfigurationItem, [(item.pk, "one"), (item.pk, "two")])
    finally:
        history.journal_added.disconnect(listener, sender=ConfigurationItem)
    assert heard == [(item.pk, "one"), (item.pk, "two")]
    with acting_as(world.admin, "test"):
        history.events_many(ConfigurationItem, [(item.pk, "three")])
    entry = JournalEntry.objects.get(object_id=item.pk, body="three")
    assert (entry.author, entry.kind, entry.customer_visible) == (world.admin, "event", False)


# --- relationships ----------------------------------------------------------------------
def test_relationships_are_created_with_history_and_journal(world, make_ci):
    make_ci("srv-01", external_key="K1", status="live")
    make_ci("app-01", "application", external_key="K2")
    text = "source,type,target,note\nK2,runs-on,K1,primary\nK2,Depends on,K1,\n"
    run = do_import(world.admin, text, kind="relationships", key="external_key")
    assert run.status == "done", run.errors
    assert run.created_count == 2
    link = Relationship.objects.get(rel_type__key="runs-on")
    assert (link.source.name, link.target.name, link.note) == ("app-01", "srv-01", "primary")
    assert ObjectChange.objects.filter(
        content_type__model="relationship", object_id=link.pk, action="create"
    ).exists()
    assert JournalEntry.objects.filter(object_id=ci("srv-01").pk, body="Now hosts app-01.").exists()
    assert LiveChange.objects.filter(ci=ci("srv-01")).count() == 1
    again = do_import(world.admin, text, kind="relationships", key="external_key")
    assert (again.created_count, again.unchanged_count) == (0, 2)
    changed = do_import(
        world.admin, "source,type,target,note\nK2,runs-on,K1,backup\n", "relationships"
    )
    assert changed.updated_count == 1
    link.refresh_from_db()
    assert (link.note, link.version) == ("backup", 2)


def test_a_relationship_to_a_missing_ci_is_refused(world, make_ci):
    make_ci("srv-01")
    text = "source,type,target\nsrv-01,depends-on,ghost\nsrv-01,teleports-to,srv-01\n"
    run = do_import(world.admin, text, kind="relationships", key="name")
    assert errors_of(run) == [(2, "target"), (3, "type")]
    assert "ghost" in run.errors[0]["message"]
    assert Relationship.objects.count() == 0


def test_relationship_rules_and_ambiguous_names(world, make_ci):
    make_ci("srv-01")
    make_ci("site-1", "location")
    make_ci("twin")
    make_ci("twin", "application")
    text = (
        "source,type,target\n"
        "srv-01,runs-on,site-1\n"
        "srv-01,depends-on,srv-01\n"
        "srv-01,depends-on,twin\n"
    )
    run = do_import(world.admin, text, kind="relationships", key="name")
    assert errors_of(run) == [(2, "type"), (3, "target"), (4, "target")]
    assert "target_type" in run.errors[2]["message"]
    text = "source,type,target,target_type\nsrv-01,depends-on,twin,application\n"
    run = do_import(world.admin, text, kind="relationships", key="name")
    assert run.status == "done", run.errors


def test_cycles_are_refused_against_the_cmdb_and_within_the_file(world, make_ci):
    a, b = make_ci("a"), make_ci("b")
    make_ci("c")
    with acting_as(world.admin, "test"):
        actions.add_relationship(world.admin, a, b, R("depends-on"))
    run = do_import(
        world.admin, "source,type,target\nb,depends-on,a\n", kind="relationships", key="name"
    )
    assert errors_of(run) == [(2, "target")]
    assert "loop" in run.errors[0]["message"]
    text = "source,type,target\nb,depends-on,c\nc,depends-on,a\nb,connects-to,a\n"
    run = do_import(world.admin, text, kind="relationships", key="name")
    assert errors_of(run) == [(3, "target")]  # a → b → c → a; connects-to may loop
    assert Relationship.objects.count() == 1


# --- pages, API and worker ------------------------------------------------------------
def test_the_pages_show_runs_progress_and_errors(client, world, django_capture_on_commit_callbacks):
    client.force_login(world.admin)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("cmdb:import_create"),
            {"kind": "cis", "key_column": "name", "file": upload("name,type\nx,nothing\n")},
        )
    run = ImportRun.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("cmdb:import_detail", args=[run.pk])
    page = client.get(response["Location"])
    assert page.status_code == 200
    html = page.content.decode()
    assert "Nothing was imported" in html
    assert "“nothing” is not a CI type" in html
    assert "hx-trigger" not in html  # finished: no more polling
    partial = client.get(response["Location"], HTTP_HX_REQUEST="true")
    assert 'id="import-status"' in partial.content.decode()
    assert "<html" not in partial.content.decode()
    listing = client.get(reverse("cmdb:import_list")).content.decode()
    assert "cis.csv" in listing
    bad = client.post(reverse("cmdb:import_create"), {"kind": "cis", "key_column": "name"})
    assert bad.status_code == 400
    assert ImportRun.objects.count() == 1


def test_a_running_import_page_polls_and_shows_processed_of_total(client, world):
    run = ImportRun.objects.create(
        kind="cis", filename="big.csv", status="running", total_rows=5000, created_by=world.admin
    )
    from accord.cmdb.imports import forget_progress, publish_progress

    publish_progress(run.pk, 2000, 5000)
    try:
        client.force_login(world.admin)
        html = client.get(reverse("cmdb:import_detail", args=[run.pk])).content.decode()
    finally:
        forget_progress(run.pk)
    assert "2,000 of 5,000" in html
    assert 'hx-trigger="every 2s"' in html


def test_runs_are_seen_by_their_importer_administrators_and_auditors(client, world):
    mine = ImportRun.objects.create(kind="cis", filename="a.csv", created_by=world.manager_a)
    theirs = ImportRun.objects.create(kind="cis", filename="b.csv", created_by=world.owner)
    client.force_login(world.manager_a)
    assert client.get(reverse("cmdb:import_detail", args=[mine.pk])).status_code == 200
    assert client.get(reverse("cmdb:import_detail", args=[theirs.pk])).status_code == 404
    for user in (world.admin, world.auditor):
        client.force_login(user)
        assert client.get(reverse("cmdb:import_detail", args=[theirs.pk])).status_code == 200


def test_the_worker_applies_a_queued_run_once(world, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        run = start_import(world.owner, upload("name,type\nsrv-01,server\n"), "cis", "name")
    run.refresh_from_db()
    assert run.status == "done" and run.created_count == 1
    assert run.started_at and run.finished_at
    run_import(run.pk)  # a repeated job leaves a finished run alone
    assert ConfigurationItem.objects.count() == 1


def test_api_upload_and_status(api_as, world, django_capture_on_commit_callbacks):
    api = api_as(world.admin)
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(
            reverse("cmdb-import-list"),
            {"file": upload("name,type\nsrv-01,server\n"), "kind": "cis", "key_column": "name"},
            format="multipart",
        )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["status"] == "queued"
    assert body["url"].endswith(reverse("cmdb-import-detail", args=[body["id"]]))
    assert response["Location"] == body["url"]
    status = api.get(body["url"]).json()
    assert status["status"] == "done"
    assert (status["created_count"], status["processed"], status["total_rows"]) == (1, 1, 1)
    assert status["errors"] == []
    bad = api.post(reverse("cmdb-import-list"), {"kind": "cis"}, format="multipart")
    assert bad.status_code == 400 and "file" in bad.json()
    with django_capture_on_commit_callbacks(execute=True):
        failed = api.post(
            reverse("cmdb-import-list"),
            {"file": upload("name,type\n=1,server\n"), "kind": "cis", "key_column": "name"},
            format="multipart",
        ).json()
    errors = api.get(failed["url"]).json()["errors"]
    assert errors == [{"line": 2, "column": "name", "message": errors[0]["message"]}]


def test_api_permissions(api_as, world):
    file = {"file": upload("name,type\nx,server\n"), "kind": "cis", "key_column": "name"}
    assert api_as(world.agent_a).post(reverse("cmdb-import-list"), file).status_code == 403
    assert api_as(world.customer_user_a).get(reverse("cmdb-import-list")).status_code == 403
    run = ImportRun.objects.create(kind="cis", filename="a.csv", created_by=world.admin)
    url = reverse("cmdb-import-detail", args=[run.pk])
    assert api_as(world.manager_a).get(url).status_code == 404
    assert api_as(world.auditor).get(url).status_code == 200


def test_api_exports(api_as, world, both_customers):
    response = api_as(world.customer_user_b).get(reverse("cmdb-export-cis"))
    assert response.status_code == 200
    body = b"".join(response.streaming_content).decode()
    assert [r["name"] for r in csv.DictReader(io.StringIO(body.lstrip("\ufeff")))] == ["beta-srv"]
    response = api_as(world.agent_a).get(
        reverse("cmdb-export-relationships"), {"key": "external_key"}
    )
    body = b"".join(response.streaming_content).decode()
    rows = list(csv.DictReader(io.StringIO(body.lstrip("\ufeff"))))
    assert [(r["source"], r["target"]) for r in rows] == [("KA", "KS")]
    assert api_as(world.admin).get(reverse("cmdb-export-cis"), {"status": "x"}).status_code == 400
    index = api_as(world.admin).get(reverse("cmdb-export-list")).json()
    assert index["cis"].endswith(reverse("cmdb-export-cis"))
