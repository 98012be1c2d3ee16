"""Configuration items: typed attributes, relationship rules, impact analysis (with
its paths, services, customers and agreements, and what each user may see), the
pages, the API and the affected CIs of an incident."""

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from accord.cmdb import actions, graph
from accord.cmdb.models import (
    CIType,
    ConfigurationItem,
    LiveChange,
    Relationship,
    RelationshipType,
)
from accord.core.context import acting_as
from accord.core.models import ObjectChange

pytestmark = pytest.mark.django_db


def T(key):
    return CIType.objects.get(key=key)


def R(key):
    return RelationshipType.objects.get(key=key)


def approved_change(world):
    """A real change that authorises work on live CIs (the change tests cover how one
    gets approved)."""
    import datetime

    from django.utils import timezone

    from accord.changes import actions as change_actions
    from accord.changes.choices import Status
    from accord.changes.models import Change

    start = timezone.now()
    with acting_as(world.admin, "test"):
        change = change_actions.create_change(
            world.admin,
            {
                "short_description": "Server maintenance",
                "reason": "Planned",
                "implementation_plan": "Edit the CI",
                "backout_plan": "Edit it back",
                "planned_start": start,
                "planned_end": start + datetime.timedelta(hours=1),
            },
        )
    Change.objects.filter(pk=change.pk).update(status=Status.APPROVED)
    return change


@pytest.fixture
def make_ci(world):
    def make(name, type_key="server", customers=(), services=(), user=None, **fields):
        with acting_as(user or world.admin, "test"):
            ci = ConfigurationItem(name=name, ci_type=T(type_key), **fields)
            return actions.save_ci(ci, customers=list(customers), services=list(services))

    return make


@pytest.fixture
def link(world):
    def make(source, key, target, user=None):
        with acting_as(user or world.admin, "test"):
            return actions.add_relationship(user or world.admin, source, target, R(key))

    return make


@pytest.fixture
def payroll(world, make_ci, link):
    """db-01 (Alpha) ← payroll-app (Alpha, supports Email) ← portal (shared), and
    srv-b (Beta) hosting beta-app (Beta, Beta ERP)."""
    db = make_ci("db-01", "database", customers=[world.customer_a])
    app = make_ci(
        "payroll-app", "application", customers=[world.customer_a], services=[world.service]
    )
    portal = make_ci("portal", "application")
    link(app, "depends-on", db)
    link(portal, "depends-on", app)
    srv_b = make_ci("srv-b", "server", customers=[world.customer_b])
    beta_app = make_ci(
        "beta-app", "application", customers=[world.customer_b], services=[world.service_b_only]
    )
    link(beta_app, "runs-on", srv_b)
    link(beta_app, "depends-on", db)  # Beta's app also uses Alpha's database
    return {"db": db, "app": app, "portal": portal, "srv_b": srv_b, "beta_app": beta_app}


# --- attributes --------------------------------------------------------------------------
@pytest.mark.parametrize(
    "attributes, words",
    [
        ({"ip_address": "300.1.1.1"}, "IP address must be an IP address"),
        ({"cpu_cores": "many"}, "CPU cores must be a number"),
        ({"environment": "staging"}, "Environment must be one of"),
        ({"colour": "red"}, "Server has no attribute “colour”"),
    ],
)
def test_attributes_are_checked_against_the_type(world, attributes, words):
    ci = ConfigurationItem(name="srv", ci_type=T("server"), attributes=attributes)
    with acting_as(world.admin, "test"), pytest.raises(ValidationError) as caught:
        actions.save_ci(ci)
    assert words in " ".join(caught.value.message_dict["attributes"])
    assert not ConfigurationItem.objects.exists()


def test_attributes_are_stored_in_their_own_form(world, make_ci):
    ci = make_ci(
        "srv-01",
        attributes={"ip_address": " 10.0.0.1 ", "cpu_cores": "8", "memory_gb": "15.5"},
    )
    ci.refresh_from_db()
    assert ci.attributes == {"ip_address": "10.0.0.1", "cpu_cores": 8, "memory_gb": 15.5}


def test_a_reference_attribute_names_a_ci_of_its_type(world, make_ci):
    from accord.cmdb.models import AttributeDefinition

    AttributeDefinition.objects.create(
        ci_type=T("virtual-machine"),
        key="host",
        label="Host",
        kind="reference",
        reference_type=T("server"),
    )
    host = make_ci("hv-01")
    vm = make_ci("vm-01", "virtual-machine", attributes={"host": "hv-01"})
    assert vm.attributes["host"] == host.pk
    with pytest.raises(ValidationError, match="Host names no CI “nobody”"):
        make_ci("vm-02", "virtual-machine", attributes={"host": "nobody"})


def test_names_are_unique_per_type_and_external_keys_everywhere(world, make_ci):
    make_ci("alpha", external_key="glpi-1")
    make_ci("alpha", "application")  # another type: fine
    with pytest.raises(ValidationError):
        make_ci("alpha")
    with pytest.raises(ValidationError):
        make_ci("beta", external_key="glpi-1")


# --- relationships -----------------------------------------------------------------------
def test_relationship_rules(world, make_ci, link):
    a, b, c = make_ci("a", "application"), make_ci("b", "application"), make_ci("c", "application")
    with pytest.raises(ValidationError, match="itself"):
        link(a, "depends-on", a)
    link(a, "depends-on", b)
    with pytest.raises(ValidationError, match="already depends on"):
        link(a, "depends-on", b)
    link(b, "depends-on", c)
    with pytest.raises(ValidationError, match="close a loop"):
        link(c, "depends-on", a)
    link(c, "connects-to", a)  # connects-to allows loops
    with pytest.raises(ValidationError, match="cannot runs on|cannot run"):
        link(a, "runs-on", b)  # runs-on only from applications to servers/VMs
    assert Relationship.objects.count() == 3


def test_relationships_are_in_both_cis_history(world, make_ci, link):
    from accord.core.models import JournalEntry

    a, b = make_ci("a", "application"), make_ci("srv")
    link(a, "runs-on", b)
    bodies = set(JournalEntry.objects.values_list("body", flat=True))
    assert "Now runs on srv." in bodies and "Now hosts a." in bodies


def test_a_change_to_a_live_ci_names_its_authorising_change(world, make_ci, link):
    ci = make_ci("srv", status="live")
    ci = ConfigurationItem.objects.get(pk=ci.pk)
    ci.attributes = {"memory_gb": 64}
    with acting_as(world.admin, "test"):
        actions.save_ci(ci, change_reference="CHG000123")
    other = make_ci("app", "application", status="live")
    link(other, "runs-on", ci)
    changes = list(LiveChange.objects.order_by("pk").values_list("ci__name", "change_reference"))
    assert changes == [("srv", "CHG000123"), ("app", ""), ("srv", "")]


# --- impact --------------------------------------------------------------------------------
def test_downstream_impact_with_paths_services_customers_and_agreements(world, payroll, sla):
    sla.services.add(world.service)
    result = graph.impact(world.admin, [payroll["db"].pk])
    assert [(i["name"], i["depth"]) for i in result.items] == [
        ("beta-app", 1),
        ("payroll-app", 1),
        ("portal", 2),
    ]
    portal = result.items[2]
    assert [s["name"] for s in portal["path"]] == ["db-01", "payroll-app", "portal"]
    assert [s["via"] for s in portal["path"]] == ["", "used by", "used by"]
    assert {s.name for s in result.services} == {"Email", "Beta ERP"}
    assert {c.name for c in result.customers} == {"Alpha Ltd", "Beta plc"}
    assert [a.name for a in result.agreements] == ["Alpha gold"]
    # The server's failure reaches its application only (runs on: hosts).
    down = graph.impact(world.admin, [payroll["srv_b"].pk])
    assert [i["name"] for i in down.items] == ["beta-app"]
    up = graph.impact(world.admin, [payroll["portal"].pk], direction="up")
    assert [(i["name"], i["depth"]) for i in up.items] == [("payroll-app", 1), ("db-01", 2)]
    assert [s["via"] for s in up.items[1]["path"]] == ["", "depends on", "depends on"]
    assert graph.impact(world.admin, [payroll["db"].pk], max_depth=1).total == 2


def test_impact_shows_each_user_only_what_they_may_see(world, payroll):
    db = payroll["db"].pk
    seen = {
        user: sorted(i["name"] for i in graph.impact(user, [db]).items)
        for user in (world.agent_a, world.agent_b, world.customer_user_a, world.auditor)
    }
    assert seen[world.agent_a] == ["payroll-app", "portal"]  # Alpha's and shared
    assert seen[world.agent_b] == ["beta-app", "portal"]  # portal is shared
    assert seen[world.customer_user_a] == ["payroll-app"]  # not the shared portal
    assert seen[world.auditor] == ["beta-app", "payroll-app", "portal"]
    result = graph.impact(world.agent_b, [db])
    assert result.hidden == 1
    portal = next(i for i in result.items if i["name"] == "portal")
    assert [s["name"] for s in portal["path"]] == ["(hidden)", "(hidden)", "portal"]
    assert {c.name for c in result.customers} == {"Beta plc"}


def test_the_graph_follows_every_change(world, payroll, make_ci, link):
    db, app = payroll["db"], payroll["app"]
    assert graph.impact(world.admin, [db.pk]).total == 3  # loaded now
    new = make_ci("reporting", "application")
    link(new, "depends-on", db)
    assert graph.impact(world.admin, [db.pk]).total == 4
    rel = Relationship.objects.get(source=payroll["portal"], target=app)
    with acting_as(world.admin, "test"):
        actions.remove_relationship(world.admin, rel)
    assert "portal" not in [i["name"] for i in graph.impact(world.admin, [db.pk]).items]
    with acting_as(world.admin, "test"):
        renamed = ConfigurationItem.objects.get(pk=app.pk)
        renamed.name = "payroll"
        actions.save_ci(renamed)
        ConfigurationItem.objects.get(pk=new.pk).delete()
    names = [i["name"] for i in graph.impact(world.admin, [db.pk]).items]
    assert names == ["beta-app", "payroll"]
    # A customer added to a shared CI hides it from the other customer's agent.
    portal = payroll["portal"]
    assert graph.impact(world.agent_b, [portal.pk], direction="up").total == 0  # app is Alpha's
    with acting_as(world.admin, "test"):
        app.customers.add(world.customer_b)
    assert graph.impact(world.agent_b, [db.pk]).total == 2


def test_impact_pages_by_distance_then_name_and_answers_for_a_set(world, make_ci, link):
    root = make_ci("root", "database")
    apps = [make_ci(f"app-{n}", "application") for n in (3, 1, 2)]
    for app in apps:
        link(app, "depends-on", root)
    top = make_ci("top", "application")
    link(top, "depends-on", apps[0])

    def names(result):
        return [(i["name"], i["depth"]) for i in result.items]

    first = graph.impact(world.admin, [root.pk], limit=2)
    assert (first.total, first.depth, names(first)) == (4, 2, [("app-1", 1), ("app-2", 1)])
    rest = graph.impact(world.admin, [root.pk], offset=2, limit=2)
    assert names(rest) == [("app-3", 1), ("top", 2)]
    assert [s["name"] for s in rest.items[1]["path"]] == ["root", "app-3", "top"]
    # For a set, each CI's distance is from the nearest one asked about, and the
    # CIs asked about are not listed.
    both = graph.impact(world.admin, [root.pk, apps[0].pk])
    assert names(both) == [("app-1", 1), ("app-2", 1), ("top", 1)]
    # Repeated questions are answered from the process's recent searches until the
    # graph's shape changes.
    link(make_ci("later", "application"), "depends-on", top)
    assert graph.impact(world.admin, [root.pk]).total == 5
    assert graph.impact(world.admin, [root.pk], max_depth=1).total == 3
    assert graph.impact(world.admin, [top.pk], direction="up").total == 2
    assert graph.impact(world.admin, [999_999]).total == 0


def test_the_graph_is_loaded_ahead_of_the_first_request(world, payroll):
    from accord.core import warmup

    assert graph.preload in warmup._tasks
    graph.forget()
    graph.preload()
    assert graph._state["graph"] is not None
    assert graph._state["graph"].graph.num_nodes() == ConfigurationItem.objects.count()


# --- pages -----------------------------------------------------------------------------------
def test_ci_is_created_and_edited_from_the_pages(client, world):
    client.force_login(world.owner)
    url = reverse("cmdb:ci_create") + "?type=server"
    page = client.get(url)
    assert page.status_code == 200 and b"IP address" in page.content
    bad = client.post(
        url,
        {
            "type": "server",
            "name": "srv-9",
            "status": "planned",
            "criticality": 3,
            "attr_ip_address": "not-an-ip",
        },
    )
    assert bad.status_code == 400 and b"IP" in bad.content
    assert not ConfigurationItem.objects.exists()
    ok = client.post(
        url,
        {
            "type": "server",
            "name": "srv-9",
            "status": "live",
            "criticality": 2,
            "attr_ip_address": "10.1.1.9",
            "attr_cpu_cores": "4",
            "customers": [world.customer_a.pk],
        },
    )
    ci = ConfigurationItem.objects.get(name="srv-9")
    assert ok.status_code == 302 and ok["Location"] == ci.get_absolute_url()
    assert ci.attributes == {"ip_address": "10.1.1.9", "cpu_cores": 4}
    edit = reverse("cmdb:ci_edit", args=[ci.pk])
    assert b"Authorising change" in client.get(edit).content  # a live CI
    r = client.post(
        edit,
        {
            "type": "server",
            "name": "srv-9",
            "status": "live",
            "criticality": 2,
            "attr_ip_address": "10.1.1.10",
            "customers": [world.customer_a.pk],
            "version": ci.version,
            "change_reference": "CHG42",
        },
    )
    # The authorising change must be a real one that allows the work.
    assert r.status_code == 400 and "change_reference" in r.context["form"].errors
    authorising = approved_change(world)
    r = client.post(
        edit,
        {
            "type": "server",
            "name": "srv-9",
            "status": "live",
            "criticality": 2,
            "attr_ip_address": "10.1.1.10",
            "customers": [world.customer_a.pk],
            "version": ci.version,
            "change_reference": authorising.number.lower(),
        },
    )
    assert r.status_code == 302
    assert LiveChange.objects.get(ci=ci).change_reference == authorising.number
    detail = client.get(ci.get_absolute_url())
    assert b"10.1.1.10" in detail.content and b"Alpha Ltd" in detail.content
    change = ObjectChange.objects.filter(object_id=ci.pk, action="update").latest("id")
    assert change.changes["attributes"][1]["ip_address"] == "10.1.1.10"


def test_relationships_are_added_and_removed_on_the_page(client, world, make_ci):
    app, srv = make_ci("app", "application"), make_ci("srv")
    client.force_login(world.manager_a)
    url = reverse("cmdb:ci_relationship_add", args=[app.pk])
    runs_on = R("runs-on")
    client.post(url, {"rel_type": f"out:{runs_on.pk}", "other": "srv"})
    link = Relationship.objects.get()
    assert (link.source, link.target) == (app, srv)
    r = client.post(url, {"rel_type": f"out:{runs_on.pk}", "other": "srv"}, follow=True)
    assert b"already runs on" in r.content
    r = client.post(url, {"rel_type": f"out:{runs_on.pk}", "other": "nothing"}, follow=True)
    assert "No configuration item “nothing”" in r.content.decode()
    page = client.get(srv.get_absolute_url())
    assert b"hosts" in page.content
    # Neither end is live: no authorising change is asked for.
    assert b"Authorising change for removing" not in page.content
    remove = reverse("cmdb:ci_relationship_remove", args=[srv.pk, link.pk])
    assert client.post(remove, {"side": "in"}).status_code == 302
    assert not Relationship.objects.exists()


def test_removing_a_live_cis_relationship_names_its_authorising_change(client, world, make_ci):
    from accord.cmdb.models import LiveChange

    app, srv = make_ci("app", "application", status="live"), make_ci("srv")
    with acting_as(world.admin, "test"):
        actions.add_relationship(world.admin, app, srv, R("runs-on"))
    link = Relationship.objects.get()
    authorising = approved_change(world)
    client.force_login(world.manager_a)
    page = client.get(app.get_absolute_url()).content.decode()
    assert "Authorising change for removing: runs on srv" in page
    remove = reverse("cmdb:ci_relationship_remove", args=[app.pk, link.pk])
    refused = client.post(remove, {"side": "out", "change_reference": "CHG999"}, follow=True)
    assert "CHG999" in refused.content.decode() and Relationship.objects.exists()
    client.post(remove, {"side": "out", "change_reference": authorising.number.lower()})
    assert not Relationship.objects.exists()
    removal = LiveChange.objects.filter(ci=app).order_by("-pk").first()
    assert removal.change_reference == authorising.number


def test_impact_page(client, world, payroll):
    client.force_login(world.agent_a)
    url = reverse("cmdb:ci_impact", args=[payroll["db"].pk])
    page = client.get(url)
    text = page.content.decode()
    assert page.status_code == 200
    assert "payroll-app" in text and "portal" in text and "beta-app" not in text
    assert "1 you may not see" in text
    assert client.get(url + "?depth=abc").status_code == 400
    assert client.get(url + "?direction=sideways").status_code == 400
    up = client.get(reverse("cmdb:ci_impact", args=[payroll["portal"].pk]) + "?direction=up")
    assert b"db-01" in up.content


@pytest.mark.parametrize(
    "user, visible",
    [
        ("admin", {"db-01", "payroll-app", "portal", "srv-b", "beta-app"}),
        ("auditor", {"db-01", "payroll-app", "portal", "srv-b", "beta-app"}),
        ("agent_a", {"db-01", "payroll-app", "portal"}),
        ("agent_b", {"portal", "srv-b", "beta-app"}),
        ("customer_user_a", {"db-01", "payroll-app"}),
        ("customer_user_b", {"srv-b", "beta-app"}),
    ],
)
def test_who_sees_which_ci(client, world, payroll, api_as, user, visible):
    person = getattr(world, user)
    client.force_login(person)
    listing = client.get(reverse("cmdb:ci_list"))
    assert listing.status_code == 200
    shown = {
        n
        for n in ("db-01", "payroll-app", "portal", "srv-b", "beta-app")
        if f">{n}<".encode() in listing.content
    }
    assert shown == visible
    api = api_as(person).get("/api/cis/")
    assert {r["name"] for r in api.json()["results"]} == visible
    for ci in payroll.values():
        expected = 200 if ci.name in visible else 404
        assert client.get(ci.get_absolute_url()).status_code == expected
        assert api_as(person).get(f"/api/cis/{ci.pk}/").status_code == expected
        assert api_as(person).get(f"/api/cis/{ci.pk}/impact/").status_code == expected


def test_customer_users_cannot_change_cis(client, world, payroll, api_as):
    client.force_login(world.customer_user_a)
    assert client.get(reverse("cmdb:ci_edit", args=[payroll["db"].pk])).status_code == 403
    r = api_as(world.customer_user_a).post(
        "/api/cis/", {"ci_type": "server", "name": "x"}, format="json"
    )
    assert r.status_code == 403
    r = api_as(world.auditor).post("/api/cis/", {"ci_type": "server", "name": "x"}, format="json")
    assert r.status_code == 403


# --- API -----------------------------------------------------------------------------------
def test_api_creates_a_ci_and_refuses_bad_attributes_by_name(world, api_as):
    client = api_as(world.owner)
    bad = client.post(
        "/api/cis/",
        {"ci_type": "server", "name": "srv-x", "attributes": {"cpu_cores": "lots"}},
        format="json",
    )
    assert bad.status_code == 400
    assert "CPU cores must be a number" in bad.json()["attributes"][0]
    unknown = client.post("/api/cis/", {"ci_type": "spaceship", "name": "x"}, format="json")
    assert unknown.status_code == 400 and "ci_type" in unknown.json()
    ok = client.post(
        "/api/cis/",
        {
            "ci_type": "server",
            "name": "srv-x",
            "status": "live",
            "customers": [world.customer_a.pk],
            "attributes": {"cpu_cores": 2},
        },
        format="json",
    )
    assert ok.status_code == 201, ok.json()
    body = ok.json()
    assert body["attributes"] == {"cpu_cores": 2} and body["customers"] == [world.customer_a.pk]
    r = client.patch(f"/api/cis/{body['id']}/", {"name": "srv-y"}, format="json")
    assert r.status_code == 400 and "version" in r.json()
    r = client.patch(
        f"/api/cis/{body['id']}/",
        {"name": "srv-y", "version": body["version"], "change_reference": "CHG7"},
        format="json",
    )
    assert r.status_code == 400 and "change_reference" in r.json()
    authorising = approved_change(world)
    r = client.patch(
        f"/api/cis/{body['id']}/",
        {"name": "srv-y", "version": body["version"], "change_reference": authorising.number},
        format="json",
    )
    assert r.status_code == 200
    assert LiveChange.objects.get().change_reference == authorising.number


def test_api_impact_and_relationships(world, payroll, api_as):
    client = api_as(world.admin)
    r = client.get(f"/api/cis/{payroll['db'].pk}/impact/?limit=2")
    body = r.json()
    assert r.status_code == 200 and body["count"] == 3 and len(body["results"]) == 2
    r = client.get(f"/api/cis/{payroll['db'].pk}/impact/?offset=2")
    assert r.json()["results"][0]["explanation"] == "portal ← payroll-app ← db-01"
    assert client.get(f"/api/cis/{payroll['db'].pk}/impact/?depth=0").status_code == 400
    both = client.get(f"/api/cis/impact/?ids={payroll['db'].pk},{payroll['srv_b'].pk}").json()
    assert both["count"] == 3 and {s["name"] for s in both["services"]} == {"Email", "Beta ERP"}
    r = api_as(world.agent_a).get(f"/api/cis/impact/?ids={payroll['srv_b'].pk}")
    assert r.status_code == 400 and str(payroll["srv_b"].pk) in r.json()["ids"][0]
    assert client.get("/api/cis/impact/?ids=1,x").status_code == 400
    # Another customer's CI is not found, whether the graph knows it already or not.
    beta = payroll["srv_b"].pk
    assert api_as(world.agent_a).get(f"/api/cis/{beta}/impact/").status_code == 404
    assert api_as(world.customer_user_a).get(f"/api/cis/{beta}/impact/").status_code == 404
    assert api_as(world.agent_b).get(f"/api/cis/{beta}/impact/").status_code == 200
    graph.current().index.pop(beta)  # as if created elsewhere a moment ago
    assert api_as(world.agent_a).get(f"/api/cis/{beta}/impact/").status_code == 404
    assert api_as(world.agent_b).get(f"/api/cis/{beta}/impact/").json()["count"] == 0
    assert api_as(world.agent_b).get("/api/cis/99999999/impact/").status_code == 404
    new = client.post(
        "/api/relationships/",
        {"source": payroll["portal"].pk, "rel_type": "depends-on", "target": payroll["db"].pk},
        format="json",
    )
    assert new.status_code == 201, new.json()
    loop = client.post(
        "/api/relationships/",
        {"source": payroll["db"].pk, "rel_type": "depends-on", "target": payroll["portal"].pk},
        format="json",
    )
    assert loop.status_code == 400 and "loop" in str(loop.json())
    # Another customer's CI is not a valid end for agent_a.
    r = api_as(world.agent_a).post(
        "/api/relationships/",
        {"source": payroll["portal"].pk, "rel_type": "depends-on", "target": payroll["srv_b"].pk},
        format="json",
    )
    assert r.status_code == 400 and "target" in r.json()
    assert (
        api_as(world.agent_a).delete(f"/api/relationships/{new.json()['id']}/").status_code == 204
    )


# --- the affected CIs of an incident ---------------------------------------------------------
def test_incident_names_its_cis_and_shows_their_impact(client, world, payroll, make_incident):
    incident = make_incident()
    client.force_login(world.agent_a)
    page = client.get(incident.get_absolute_url())
    assert b"No configuration item named" in page.content
    from django.contrib.contenttypes.models import ContentType

    ct = ContentType.objects.get_for_model(type(incident))
    url = reverse("cmdb:affected", args=[ct.pk, incident.pk])
    client.post(url, {"ci": "db-01"})
    r = client.post(url, {"ci": "srv-b"}, follow=True)  # Beta's: not for agent_a
    assert "No configuration item “srv-b”" in r.content.decode()
    page = client.get(incident.get_absolute_url()).content.decode()
    assert "db-01" in page and "2 CIs downstream" in page and "Email" in page
    ci_page = client.get(payroll["db"].get_absolute_url()).content.decode()
    assert incident.number in ci_page
    client.post(url, {"remove": payroll["db"].pk})
    assert b"No configuration item named" in client.get(incident.get_absolute_url()).content


def test_old_graph_events_are_pruned_and_processes_reload(world, payroll, make_ci, link):
    import datetime

    from django.utils import timezone

    from accord.cmdb.models import GraphEvent
    from accord.cmdb.tasks import prune_graph_events

    assert graph.impact(world.admin, [payroll["db"].pk]).total == 3
    GraphEvent.objects.update(at=timezone.now() - datetime.timedelta(days=3))
    link(make_ci("late", "application"), "depends-on", payroll["db"])
    assert prune_graph_events() > 0
    assert list(GraphEvent.objects.values_list("op", flat=True)) == ["ci", "link+", "reload"]
    # Reloaded from the tables: nothing lost, nothing counted twice.
    assert graph.impact(world.admin, [payroll["db"].pk]).total == 4
    assert prune_graph_events() == 0


def test_journals_name_only_what_all_their_readers_may_see(client, world, make_ci, make_incident):
    # A shared CI is seen by every member of staff: its journal must not name Beta's
    # incident or Beta's CI to Alpha's agent; a CI of Beta's alone may name them.
    shared = make_ci("core-router")
    beta_ci = make_ci("beta-db", customers=[world.customer_b])
    incident = make_incident(customer=world.customer_b, short_description="Betasecret outage")
    with acting_as(world.admin, "test"):
        actions.link_record(shared, incident, world.admin)
        actions.link_record(beta_ci, incident, world.admin)
        actions.add_relationship(world.admin, beta_ci, shared, R("depends-on"))
    client.force_login(world.agent_a)
    page = client.get(shared.get_absolute_url()).content.decode()
    assert "Named on one of the incidents." in page
    assert "Betasecret" not in page and incident.number not in page and "beta-db" not in page
    assert f"Now used by configuration item #{beta_ci.pk}." in page
    client.force_login(world.agent_b)
    page = client.get(beta_ci.get_absolute_url()).content.decode()
    assert f"Named on {incident}." in page and "Now depends on core-router." in page
    # The incident's own journal names its CIs to Beta's staff, who may see them.
    page = client.get(incident.get_absolute_url()).content.decode()
    assert "Configuration item beta-db linked." in page
