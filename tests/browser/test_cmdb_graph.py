"""A CI's neighbourhood graph in a real browser: drawn from graph.json on the CI page,
expanded with the mouse and the keyboard, deepened with the depth selector, never
showing another customer's CIs, readable when crowded and on a narrow screen.

Every test also fails if the browser reported a console error, an uncaught script
error or a Content Security Policy violation (see the ``page`` fixture).
"""

import re

import pytest
from playwright.sync_api import expect

from accord.cmdb import actions
from accord.cmdb.models import CIType, ConfigurationItem, Relationship, RelationshipType
from accord.cmdb.testing import ensure_starting_types
from accord.core.context import acting_as

from .conftest import SCREENSHOT_DIR

pytestmark = [
    pytest.mark.browser,
    pytest.mark.xdist_group("browser"),
    pytest.mark.django_db(transaction=True),
]


@pytest.fixture(autouse=True)
def starting_types(transactional_db):
    """The starting CI and relationship types, which the flush after each browser
    test empties."""
    ensure_starting_types()


@pytest.fixture
def estate(world):
    """payroll (Alpha) —runs on→ vm-01 (shared) —runs on→ srv-01 (shared) —connects to→
    san-01 (shared); payroll —depends on→ payroll-db (Alpha) —runs on→ srv-01;
    erp-b (Beta) —runs on→ vm-01."""
    a, b = world.customer_a, world.customer_b
    rows = [
        ("payroll", "application", [a], "live"),
        ("payroll-db", "database", [a], "live"),
        ("vm-01", "virtual-machine", [], "maintenance"),
        ("srv-01", "server", [], "live"),
        ("san-01", "storage", [], "retired"),
        ("erp-b", "application", [b], "planned"),
    ]
    links = [
        ("payroll", "runs-on", "vm-01"),
        ("payroll", "depends-on", "payroll-db"),
        ("payroll-db", "runs-on", "srv-01"),
        ("vm-01", "runs-on", "srv-01"),
        ("srv-01", "connects-to", "san-01"),
        ("erp-b", "runs-on", "vm-01"),
    ]
    cis = {}
    with acting_as(world.admin, "test"):
        for name, type_key, customers, status in rows:
            ci = ConfigurationItem(name=name, ci_type=CIType.objects.get(key=type_key))
            ci.status = status
            cis[name] = actions.save_ci(ci, customers=customers)
        for source, key, target in links:
            rel_type = RelationshipType.objects.get(key=key)
            actions.add_relationship(world.admin, cis[source], cis[target], rel_type)
    return cis


@pytest.fixture
def graph_shot(request):
    """Save a screenshot of the graph's card alone, named after the test."""

    def take(page, name):
        SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOT_DIR / f"{request.node.name}-{name}-graph.png"
        graph_of(page).screenshot(path=str(path), caret="initial")
        return path

    return take


def graph_of(page):
    return page.locator("[data-cigraph]")


def ci_node(page, name):
    """A CI in the graph, found as the user's assistive technology names it."""
    return graph_of(page).get_by_role("button", name=re.compile("^" + re.escape(name) + ", "))


def no_boxes_overlap(page):
    """The CIs' boxes as drawn on the screen: none covers another."""
    boxes = (
        graph_of(page)
        .locator(".cigraph-box")
        .evaluate_all(
            "els => els.map(e => { const r = e.getBoundingClientRect();"
            " return [r.left, r.top, r.right, r.bottom]; })"
        )
    )
    for i, a in enumerate(boxes):
        for b in boxes[i + 1 :]:
            apart = a[2] <= b[0] or b[2] <= a[0] or a[3] <= b[1] or b[3] <= a[1]
            assert apart, f"boxes overlap: {a} {b}"
    return len(boxes)


def test_agent_explores_the_neighbourhood_with_mouse_and_keyboard(
    page, sign_in, world, estate, screenshot, graph_shot
):
    sign_in("agent_a")
    page.goto(estate["payroll"].get_absolute_url())
    graph = graph_of(page)
    expect(graph.get_by_role("status")).to_have_text("CIs shown: 3; relationships: 2.")
    svg = graph.locator("svg[role=group]")
    expect(svg.locator("title").first).to_have_text("Neighbourhood of payroll")
    expect(ci_node(page, "payroll")).to_have_attribute("aria-label", "payroll, Application, Live")
    # vm-01 has one neighbour agent_a may see and that is not drawn yet (srv-01);
    # erp-b, Beta's, is neither drawn nor counted.
    expect(ci_node(page, "vm-01")).to_have_attribute(
        "aria-label", "vm-01, Virtual machine, Maintenance, 1 more not shown"
    )
    labels = graph.locator(".cigraph-edge-label").evaluate_all("els => els.map(e => e.textContent)")
    assert sorted(labels) == ["depends on", "runs on"]
    screenshot(page, "depth-1")
    graph_shot(page, "depth-1")

    # A click selects vm-01 and adds its neighbours; the panel links to its page.
    ci_node(page, "vm-01").click()
    expect(ci_node(page, "srv-01")).to_be_visible()
    expect(graph.get_by_role("status")).to_contain_text("Neighbours of vm-01 added: 1.")
    panel = graph.get_by_role("complementary", name="Selected CI")
    expect(panel.get_by_role("heading", name="vm-01")).to_be_visible()
    expect(panel).to_contain_text("Maintenance")
    expect(panel).to_contain_text("→ runs on srv-01")
    expect(panel).to_contain_text("← payroll runs on")
    expect(panel.get_by_role("link", name="Open its page")).to_have_attribute(
        "href", estate["vm-01"].get_absolute_url()
    )
    # payroll-db runs on srv-01 too: that link is drawn, and nothing about it is left
    # to expand.
    expect(ci_node(page, "payroll-db")).to_have_attribute(
        "aria-label", "payroll-db, Database, Live"
    )
    expect(graph.locator(".cigraph-edge")).to_have_count(4)

    # The keyboard: Tab reaches the CIs, Enter expands the focused one.
    ci_node(page, "srv-01").focus()
    page.keyboard.press("Enter")
    expect(ci_node(page, "san-01")).to_be_visible()
    expect(ci_node(page, "srv-01")).to_be_focused()
    expect(ci_node(page, "san-01")).to_have_attribute("aria-label", "san-01, Storage, Retired")
    expect(graph.locator(".cigraph-node")).to_have_count(5)
    expect(page.get_by_text("erp-b")).to_have_count(0)
    # Arrow keys move between CIs; Home goes back to the centre.
    page.keyboard.press("Home")
    expect(ci_node(page, "payroll")).to_be_focused()
    page.keyboard.press("ArrowRight")
    expect(graph.locator(".cigraph-node:focus")).not_to_have_attribute(
        "data-id", str(estate["payroll"].pk)
    )
    screenshot(page, "expanded")
    graph_shot(page, "expanded")

    # The depth selector redraws from the centre.
    graph.get_by_label("Depth").select_option("3")
    expect(graph.get_by_role("status")).to_have_text("CIs shown: 5; relationships: 5.")
    graph_shot(page, "depth-3")
    graph.get_by_label("Depth").select_option("1")
    expect(graph.locator(".cigraph-node")).to_have_count(3)

    # The second action opens the selected CI's page, whose graph centres on it.
    ci_node(page, "payroll-db").click()
    panel.get_by_role("link", name="Open its page").click()
    expect(page).to_have_url(re.compile(re.escape(estate["payroll-db"].get_absolute_url()) + "$"))
    expect(page.get_by_role("heading", name="payroll-db", exact=True).first).to_be_visible()
    expect(graph_of(page).locator(".cigraph-node.is-center")).to_have_attribute(
        "data-id", str(estate["payroll-db"].pk)
    )


def test_a_customer_sees_only_their_own_cis_in_the_graph(page, sign_in, world, estate):
    page.goto("/login/")
    page.get_by_label("Username").fill("cust_a")
    page.get_by_label("Password").fill("pw-cust_a")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()
    page.goto(estate["payroll"].get_absolute_url())
    graph = graph_of(page)
    graph.get_by_label("Depth").select_option("3")
    expect(graph.get_by_role("status")).to_have_text("CIs shown: 2; relationships: 1.")
    expect(graph.locator(".cigraph-node")).to_have_count(2)
    for hidden in ("vm-01", "srv-01", "erp-b", "san-01"):
        expect(ci_node(page, hidden)).to_have_count(0)


def test_a_crowded_neighbourhood_stays_readable(page, sign_in, world, screenshot, graph_shot):
    """A switch with 24 servers, each running two applications; a few in other states."""
    with acting_as(world.admin, "test"):
        switch = ConfigurationItem(
            name="core-switch-01", ci_type=CIType.objects.get(key="network-device")
        )
        switch.status = "live"
        actions.save_ci(switch)
    server, app = CIType.objects.get(key="server"), CIType.objects.get(key="application")
    states = ["live", "live", "live", "maintenance", "planned", "retired", "in_stock", "ordered"]
    hosts = ConfigurationItem.objects.bulk_create(
        [
            ConfigurationItem(
                name=f"srv-{i:02}.example.org", ci_type=server, status=states[i % len(states)]
            )
            for i in range(24)
        ]
    )
    apps = ConfigurationItem.objects.bulk_create(
        [
            ConfigurationItem(name=f"application-{i:02}", ci_type=app, status="live")
            for i in range(48)
        ]
    )
    connects = RelationshipType.objects.get(key="connects-to")
    runs_on = RelationshipType.objects.get(key="runs-on")
    Relationship.objects.bulk_create(
        [Relationship(source=h, target=switch, rel_type=connects) for h in hosts]
        + [
            Relationship(source=a, target=hosts[i // 2], rel_type=runs_on)
            for i, a in enumerate(apps)
        ]
    )
    sign_in("admin")
    page.goto(switch.get_absolute_url())
    graph = graph_of(page)
    expect(graph.locator(".cigraph-node")).to_have_count(25)
    assert no_boxes_overlap(page) == 25
    # Many relationships: their labels show beside the selected CI only.
    ci_node(page, "srv-03.example.org").click()
    expect(graph.locator(".cigraph-node")).to_have_count(27)
    expect(graph.locator(".cigraph-edge-label.is-active")).to_have_count(3)
    expect(graph.locator(".cigraph-edge-label.is-active").first).to_be_visible()
    expect(graph.locator(".cigraph-edge-label:not(.is-active)").first).to_be_hidden()
    screenshot(page, "hub-1440")
    graph_shot(page, "hub-1440")
    graph.get_by_label("Depth").select_option("2")
    expect(graph.locator(".cigraph-node")).to_have_count(73)
    assert no_boxes_overlap(page) == 73
    graph_shot(page, "hub-depth-2")
    # "Fit to the frame" shows the whole drawing at once.
    graph.get_by_role("button", name="Fit to the frame").click()
    frame = graph.locator("[data-cigraph-canvas]").bounding_box()
    corners = graph.locator(".cigraph-box").evaluate_all(
        "els => els.map(e => { const r = e.getBoundingClientRect();"
        " return [r.left, r.top, r.right, r.bottom]; })"
    )
    assert all(
        frame["x"] <= left
        and right <= frame["x"] + frame["width"] + 1
        and frame["y"] <= top
        and bottom <= frame["y"] + frame["height"] + 1
        for left, top, right, bottom in corners
    )
    graph_shot(page, "hub-depth-2-fit")

    page.set_viewport_size({"width": 1000, "height": 800})
    page.reload()
    expect(graph.locator(".cigraph-node")).to_have_count(25)
    assert no_boxes_overlap(page) == 25
    # The drawing keeps readable text: it scrolls inside its frame rather than shrink.
    font = (
        ci_node(page, "core-switch-01")
        .locator(".cigraph-name")
        .evaluate("e => e.getBoundingClientRect().height")
    )
    assert font >= 9
    screenshot(page, "hub-1000")
    graph_shot(page, "hub-1000")

    page.set_viewport_size({"width": 390, "height": 844})
    page.reload()
    expect(graph.locator(".cigraph-node")).to_have_count(25)
    frame = graph.locator("[data-cigraph-canvas]").bounding_box()
    assert frame["x"] >= 0 and frame["x"] + frame["width"] <= 390
    ci_node(page, "core-switch-01").click()
    panel = graph.get_by_role("complementary", name="Selected CI")
    expect(panel.get_by_role("link", name="Open its page")).to_be_visible()
    box = panel.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= 390
    screenshot(page, "hub-narrow")
    graph_shot(page, "hub-narrow")
