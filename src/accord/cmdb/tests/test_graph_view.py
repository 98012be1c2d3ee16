"""The neighbourhood graph's data (``/cmdb/<pk>/graph.json``): its shape, depth in both
directions, the cap, expanding with the CIs already shown, what each user may see,
bad input answered with a JSON 400 (never a 500), and the partial that draws it."""

import pytest
from django.template.loader import render_to_string
from django.test import RequestFactory
from django.urls import reverse

from accord.cmdb import actions, views_graph
from accord.cmdb.models import CIType, ConfigurationItem, Relationship, RelationshipType
from accord.core.context import acting_as

pytestmark = pytest.mark.django_db


def T(key):
    return CIType.objects.get(key=key)


def R(key):
    return RelationshipType.objects.get(key=key)


@pytest.fixture
def make_ci(world):
    def make(name, type_key="server", customers=(), **fields):
        with acting_as(world.admin, "test"):
            ci = ConfigurationItem(name=name, ci_type=T(type_key), **fields)
            return actions.save_ci(ci, customers=list(customers))

    return make


@pytest.fixture
def link(world):
    def make(source, key, target):
        with acting_as(world.admin, "test"):
            return actions.add_relationship(world.admin, source, target, R(key))

    return make


@pytest.fixture
def estate(world, make_ci, link):
    """payroll (Alpha) —runs on→ vm-01 (shared) —runs on→ srv-01 (shared) —connects to→
    san-01 (shared); payroll —depends on→ payroll-db (Alpha) —runs on→ srv-01;
    erp-b (Beta) —runs on→ vm-01."""
    a, b = world.customer_a, world.customer_b
    cis = {
        "payroll": make_ci("payroll", "application", customers=[a], status="live"),
        "db": make_ci("payroll-db", "database", customers=[a], status="live"),
        "vm": make_ci("vm-01", "virtual-machine", status="maintenance"),
        "srv": make_ci("srv-01", "server", status="live"),
        "san": make_ci("san-01", "storage", status="retired"),
        "erp_b": make_ci("erp-b", "application", customers=[b], status="planned"),
    }
    link(cis["payroll"], "runs-on", cis["vm"])
    link(cis["payroll"], "depends-on", cis["db"])
    link(cis["db"], "runs-on", cis["srv"])
    link(cis["vm"], "runs-on", cis["srv"])
    link(cis["srv"], "connects-to", cis["san"])
    link(cis["erp_b"], "runs-on", cis["vm"])
    return cis


def graph(client, user, ci, expect=200, **params):
    client.force_login(user)
    r = client.get(reverse("cmdb:ci_graph", args=[ci.pk if hasattr(ci, "pk") else ci]), params)
    assert r.status_code == expect, r.content.decode()[:500]
    assert r["Content-Type"] == "application/json"
    return r.json()


def names(data):
    return {n["name"] for n in data["nodes"]}


def edges(data):
    by_id = {n["id"]: n["name"] for n in data["nodes"]}
    return {
        (by_id.get(e["source"], e["source"]), e["label"], by_id.get(e["target"], e["target"]))
        for e in data["edges"]
    }


def node(data, name):
    return next(n for n in data["nodes"] if n["name"] == name)


# --- shape and depth ----------------------------------------------------------------------
def test_depth_one_is_the_ci_and_its_neighbours_both_ways(client, world, estate):
    data = graph(client, world.admin, estate["vm"])
    assert data["center"] == estate["vm"].pk and data["depth"] == 1
    assert names(data) == {"vm-01", "payroll", "srv-01", "erp-b"}
    # Incoming (payroll, erp-b run on it) and outgoing (it runs on srv-01), read
    # source → target with the relationship type's name.
    assert edges(data) == {
        ("payroll", "runs on", "vm-01"),
        ("erp-b", "runs on", "vm-01"),
        ("vm-01", "runs on", "srv-01"),
    }
    centre = node(data, "vm-01")
    assert centre == {
        "id": estate["vm"].pk,
        "name": "vm-01",
        "type": "Virtual machine",
        "status": "maintenance",
        "status_label": "Maintenance",
        "url": reverse("cmdb:ci_detail", args=[estate["vm"].pk]),
        "graph_url": reverse("cmdb:ci_graph", args=[estate["vm"].pk]),
        "center": True,
        "level": 0,
        "more": 0,
    }
    assert [n["center"] for n in data["nodes"]].count(True) == 1
    # Neighbours not shown yet: payroll has payroll-db, srv-01 has payroll-db and san-01.
    assert node(data, "payroll")["more"] == 1
    assert node(data, "srv-01")["more"] == 2
    assert node(data, "erp-b")["more"] == 0
    assert {n["level"] for n in data["nodes"] if not n["center"]} == {1}
    assert data["truncated"] is False and data["cap"] == views_graph.MAX_NODES
    assert {"value": "live", "label": "Live"} in data["statuses"]


def test_depth_two_and_three_reach_further(client, world, estate):
    two = graph(client, world.admin, estate["payroll"], depth="2")
    assert names(two) == {"payroll", "vm-01", "payroll-db", "srv-01", "erp-b"}
    assert node(two, "srv-01")["level"] == 2 and node(two, "srv-01")["more"] == 1
    # A link between two CIs of the outer ring is drawn too.
    assert ("payroll-db", "runs on", "srv-01") in edges(two)
    assert ("vm-01", "runs on", "srv-01") in edges(two)
    three = graph(client, world.admin, estate["payroll"], depth="3")
    assert names(three) == names(two) | {"san-01"}
    assert ("srv-01", "connects to", "san-01") in edges(three)
    assert all(n["more"] == 0 for n in three["nodes"])
    assert len(three["edges"]) == 6


def test_default_depth_is_one(client, world, estate):
    assert graph(client, world.admin, estate["payroll"]) == graph(
        client, world.admin, estate["payroll"], depth="1"
    )


def test_a_lone_ci_is_a_graph_of_one(client, world, make_ci):
    lone = make_ci("lonely", "server")
    data = graph(client, world.admin, lone, depth="3")
    assert [n["name"] for n in data["nodes"]] == ["lonely"]
    assert data["edges"] == [] and data["nodes"][0]["more"] == 0


def test_expanding_with_the_cis_already_shown(client, world, estate):
    """The browser expands srv-01 naming what it draws: the answer carries the link
    from payroll-db (already drawn) to srv-01 and counts only san-01 as hidden."""
    shown = [estate["payroll"].pk, estate["db"].pk, estate["vm"].pk]
    plain = graph(client, world.admin, estate["srv"])
    assert node(plain, "srv-01")["more"] == 0
    data = graph(client, world.admin, estate["srv"], known=",".join(map(str, shown)))
    assert names(data) == {"srv-01", "vm-01", "payroll-db", "san-01"}
    assert ("payroll-db", "runs on", "srv-01") in edges(data)
    # payroll-db's other neighbour, payroll, is already drawn: nothing is hidden.
    assert node(data, "payroll-db")["more"] == 0
    assert node(plain, "payroll-db")["more"] == 1
    # vm-01's neighbours payroll (drawn) and erp-b (not drawn): one hidden.
    assert node(data, "vm-01")["more"] == 1
    # The link from vm-01 to payroll, a known CI outside the answer, is included.
    payroll_id = estate["payroll"].pk
    assert {"source": payroll_id, "target": estate["vm"].pk, "label": "runs on"} in [
        {k: e[k] for k in ("source", "target", "label")} for e in data["edges"]
    ]


# --- the cap -----------------------------------------------------------------------------
def test_the_number_of_cis_is_capped_and_the_cap_reported(client, world, make_ci):
    hub = make_ci("switch-01", "network-device")
    server = T("server")
    spokes = ConfigurationItem.objects.bulk_create(
        [ConfigurationItem(name=f"host-{i:03}", ci_type=server) for i in range(170)]
    )
    connects = R("connects-to")
    Relationship.objects.bulk_create(
        [Relationship(source=s, target=hub, rel_type=connects) for s in spokes]
    )
    data = graph(client, world.admin, hub, depth="2")
    assert data["truncated"] is True
    assert len(data["nodes"]) == views_graph.MAX_NODES == data["cap"]
    # The first ones by name are shown; the centre says how many are left out.
    shown = sorted(n["name"] for n in data["nodes"] if not n["center"])
    assert shown == [f"host-{i:03}" for i in range(views_graph.MAX_NODES - 1)]
    assert node(data, "switch-01")["more"] == 170 - (views_graph.MAX_NODES - 1)
    assert len(data["edges"]) == views_graph.MAX_NODES - 1
    ids = {n["id"] for n in data["nodes"]}
    assert all(e["source"] in ids and e["target"] in ids for e in data["edges"])


def test_a_smaller_cap_stops_at_the_level_it_fills(client, world, estate, monkeypatch):
    monkeypatch.setattr(views_graph, "MAX_NODES", 3)
    data = graph(client, world.admin, estate["payroll"], depth="3")
    assert data["truncated"] is True and data["cap"] == 3
    assert names(data) == {"payroll", "payroll-db", "vm-01"}
    assert node(data, "vm-01")["more"] == 2


def test_queries_do_not_grow_with_the_number_of_cis(
    client, world, make_ci, django_assert_max_num_queries
):
    hub = make_ci("core-switch", "network-device")
    server, app = T("server"), T("application")
    hosts = ConfigurationItem.objects.bulk_create(
        [ConfigurationItem(name=f"host-{i:02}", ci_type=server) for i in range(30)]
    )
    apps = ConfigurationItem.objects.bulk_create(
        [ConfigurationItem(name=f"app-{i:02}", ci_type=app) for i in range(60)]
    )
    Relationship.objects.bulk_create(
        [Relationship(source=h, target=hub, rel_type=R("connects-to")) for h in hosts]
        + [
            Relationship(source=a, target=hosts[i % 30], rel_type=R("runs-on"))
            for i, a in enumerate(apps)
        ]
    )
    client.force_login(world.agent_a)
    url = reverse("cmdb:ci_graph", args=[hub.pk])
    # Session and user, the centre, one query per level and one for the outer ring,
    # the relationship types' names and the CIs themselves.
    with django_assert_max_num_queries(10):
        r = client.get(url, {"depth": "3"})
    assert r.status_code == 200 and len(r.json()["nodes"]) == 91


# --- who sees what ----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("who", "centre", "expected"),
    [
        ("admin", "payroll", {"payroll", "payroll-db", "vm-01", "srv-01", "erp-b", "san-01"}),
        ("auditor", "vm-01", {"payroll", "payroll-db", "vm-01", "srv-01", "erp-b", "san-01"}),
        ("agent_a", "payroll", {"payroll", "payroll-db", "vm-01", "srv-01", "san-01"}),
        ("manager_a", "vm-01", {"payroll", "payroll-db", "vm-01", "srv-01", "san-01"}),
        ("agent_b", "vm-01", {"vm-01", "srv-01", "erp-b", "san-01"}),
        ("customer_user_a", "payroll", {"payroll", "payroll-db"}),
        ("customer_user_b", "erp-b", {"erp-b"}),
    ],
)
def test_only_the_cis_the_user_may_see(client, world, estate, who, centre, expected):
    by_name = {ci.name: ci for ci in estate.values()}
    data = graph(client, getattr(world, who), by_name[centre], depth="3")
    assert names(data) == expected
    ids = {n["id"] for n in data["nodes"]}
    assert all(e["source"] in ids and e["target"] in ids for e in data["edges"])
    # Nothing hidden is counted either: at depth 3 everything visible is drawn.
    assert all(n["more"] == 0 for n in data["nodes"])
    hidden = {ci.pk for ci in estate.values() if ci.name not in expected}
    ends = {e["source"] for e in data["edges"]} | {e["target"] for e in data["edges"]}
    assert not hidden & (ids | ends)


def test_another_customers_ci_never_appears_even_when_named_as_known(client, world, estate):
    erp = estate["erp_b"]
    for user in (world.agent_a, world.customer_user_a):
        centre = estate["payroll"] if user is world.customer_user_a else estate["vm"]
        data = graph(client, user, centre, depth="3", known=str(erp.pk))
        assert "erp-b" not in names(data)
        ends = {e["source"] for e in data["edges"]} | {e["target"] for e in data["edges"]}
        assert erp.pk not in ends
    # vm-01 for agent_a at depth 1: payroll drawn, erp-b neither drawn nor counted.
    data = graph(client, world.agent_a, estate["vm"])
    assert node(data, "vm-01")["more"] == 0
    assert names(data) == {"vm-01", "payroll", "srv-01"}


@pytest.mark.parametrize(
    ("who", "centre"),
    [
        ("agent_a", "erp_b"),
        ("agent_b", "payroll"),
        ("customer_user_a", "vm"),
        ("customer_user_a", "erp_b"),
        ("customer_user_b", "payroll"),
    ],
)
def test_a_ci_the_user_cannot_see_is_not_found(client, world, estate, who, centre):
    data = graph(client, getattr(world, who), estate[centre], expect=404)
    assert "detail" in data and "nodes" not in data


def test_a_missing_ci_is_not_found(client, world, estate):
    graph(client, world.admin, 987654, expect=404)
    graph(client, world.admin, 10**20, expect=404)


def test_signed_out_gets_a_json_refusal(client, estate):
    r = client.get(reverse("cmdb:ci_graph", args=[estate["payroll"].pk]))
    assert r.status_code == 403
    assert r.json() == {"detail": "Sign in to see this graph."}


# --- bad input ------------------------------------------------------------------------------
@pytest.mark.parametrize("depth", ["0", "4", "-1", "1.5", "two", "²", "99999999999999999999", " "])
def test_a_bad_depth_is_a_json_400_naming_the_field(client, world, estate, depth):
    data = graph(client, world.admin, estate["payroll"], expect=400, depth=depth)
    assert list(data) == ["depth"]
    assert "Depth must be a whole number from 1 to 3" in data["depth"][0]


@pytest.mark.parametrize("known", ["1,x", "1;2", "-3", "1," * 401, "12345678901234567890"])
def test_bad_known_ids_are_a_json_400(client, world, estate, known):
    data = graph(client, world.admin, estate["payroll"], expect=400, known=known)
    assert list(data) == ["known"] and data["known"][0]


def test_a_ci_not_visible_among_known_ids_is_ignored(client, world, estate):
    data = graph(client, world.customer_user_a, estate["payroll"], known=f"{estate['vm'].pk},0")
    assert names(data) == {"payroll", "payroll-db"}


# --- the partial the CI page includes ------------------------------------------------
def test_the_partial_loads_the_script_and_names_its_data(world, estate):
    request = RequestFactory().get("/")
    request.user = world.agent_a
    html = render_to_string("cmdb/_graph.html", {"ci": estate["payroll"]}, request=request)
    url = reverse("cmdb:ci_graph", args=[estate["payroll"].pk])
    assert f'data-url="{url}"' in html
    assert 'src="/static/accord/cigraph.js"' in html
    assert 'href="/static/accord/cigraph.css"' in html
    # The strict CSP forbids inline scripts and styles.
    assert "<script>" not in html and "style=" not in html
    assert 'for="cigraph-depth-' in html and 'id="cigraph-depth-' in html


def test_the_ci_page_includes_the_graph(client, world, estate):
    client.force_login(world.agent_a)
    r = client.get(estate["payroll"].get_absolute_url())
    assert r.status_code == 200
    html = r.content.decode()
    assert reverse("cmdb:ci_graph", args=[estate["payroll"].pk]) in html
    assert "data-cigraph" in html
