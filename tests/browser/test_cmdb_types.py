"""An administrator edits a CI type on Accord's own page in a real browser: adds an
attribute, meets a refusal that would leave a CI invalid, saves, and the CIs of the
type get the new field. The page is used with the keyboard too.

Every test also fails if the browser reported a console error, an uncaught script
error or a Content Security Policy violation (see the ``page`` fixture).
"""

import re

import pytest
from playwright.sync_api import expect

from accord.cmdb import actions
from accord.cmdb.models import AttributeDefinition, CIType, ConfigurationItem, RelationshipType
from accord.cmdb.testing import ensure_starting_types
from accord.core.context import acting_as

pytestmark = [
    pytest.mark.browser,
    pytest.mark.xdist_group("browser"),
    pytest.mark.django_db(transaction=True),
]


@pytest.fixture(autouse=True)
def starting_types(transactional_db):
    ensure_starting_types()


@pytest.fixture
def switches(world):
    """The network device type without a firmware attribute (the starting set has
    one: the administrator adds it here), and two devices: a router and a switch."""
    device = CIType.objects.get(key="network-device")
    AttributeDefinition.objects.filter(ci_type=device, key="firmware").delete()
    out = {}
    with acting_as(world.admin, "test"):
        for name, role in (("core-rt-01", "router"), ("edge-sw-02", "switch")):
            ci = ConfigurationItem(name=name, ci_type=device, attributes={"role": role})
            out[name] = actions.save_ci(ci)
    return out


def row_field(page, label, row):
    return page.get_by_label(f"{label}, row {row}", exact=True)


def test_admin_adds_an_attribute_meets_a_refusal_and_saves(
    page, sign_in, world, switches, screenshot
):
    sign_in("admin")
    page.goto("/cmdb/types/")
    page.get_by_role("link", name="Network device").click()
    page.get_by_role("link", name="Edit").click()
    expect(page.get_by_role("heading", name="Edit Network device")).to_be_visible()
    # The key is locked while CIs of the type exist, and the page says why.
    expect(page.get_by_role("textbox", name="Key", exact=True)).to_be_disabled()
    expect(
        page.get_by_text("The key cannot change while CIs of this type exist (2 now).")
    ).to_be_visible()
    rows = page.locator("table.type-attributes tbody tr[data-row]")
    expect(rows).to_have_count(4)  # role, IP address, model and a blank row
    expect(rows.nth(0)).to_contain_text("2 CIs")
    screenshot(page, "edit")

    # "Add a row" with the keyboard: one more blank row, nothing saved.
    page.get_by_role("button", name="Add a row").focus()
    page.keyboard.press("Enter")
    expect(rows).to_have_count(5)

    # A new text attribute, and a bad change: "router" dropped from the roles while a
    # device is a router.
    row_field(page, "Key", 4).fill("firmware")
    page.keyboard.press("Tab")
    expect(row_field(page, "Label", 4)).to_be_focused()
    page.keyboard.type("Firmware")
    row_field(page, "Kind", 4).select_option(label="Text")
    row_field(page, "Order", 4).fill("5")
    row_field(page, "Choices (one per line)", 1).fill(
        "switch\nfirewall\naccess point\nload balancer"
    )
    page.allow_http_errors(400)
    page.get_by_role("button", name="Save", exact=True).click()
    alert = page.locator("#type-problems")
    expect(alert).to_contain_text("Nothing was saved.")
    expect(alert).to_contain_text(
        "Row 1 (Role), choices: 1 CI holds a value the new definition refuses (core-rt-01)"
    )
    expect(alert).to_contain_text("Role must be one of switch, firewall")
    expect(row_field(page, "Choices (one per line)", 1)).to_have_class(re.compile("is-invalid"))
    expect(row_field(page, "Key", 4)).to_have_value("firmware")  # the input is kept
    screenshot(page, "refused")
    assert not AttributeDefinition.objects.filter(key="firmware", ci_type__key="network-device")

    # Put "router" back and save with Enter from a field.
    row_field(page, "Choices (one per line)", 1).fill(
        "router\nswitch\nfirewall\naccess point\nload balancer"
    )
    row_field(page, "Label", 4).press("Enter")
    expect(page).to_have_url(re.compile(r"/cmdb/types/\d+/$"))
    expect(page.get_by_role("alert")).to_contain_text("CI type “Network device” saved.")
    expect(page.get_by_role("cell", name="Firmware", exact=True)).to_be_visible()
    screenshot(page, "saved")

    # A device's edit form now has the field, and it saves.
    page.goto(f"/cmdb/{switches['edge-sw-02'].pk}/edit/")
    page.get_by_label("Firmware").fill("17.3.4")
    screenshot(page, "ci-form")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("17.3.4", exact=True)).to_be_visible()
    switches["edge-sw-02"].refresh_from_db()
    assert switches["edge-sw-02"].attributes == {"role": "switch", "firmware": "17.3.4"}


def test_admin_adds_an_allowed_pair_with_the_keyboard(page, sign_in, world, screenshot):
    sign_in("admin")
    page.goto("/cmdb/types/")
    page.get_by_role("link", name="runs on", exact=True).click()
    expect(page.get_by_role("heading", name="Edit relationship type “runs on”")).to_be_visible()
    rows = page.locator("table.reltype-pairs tbody tr[data-row]")
    expect(rows).to_have_count(6)  # the five starting pairs and a blank row

    # "Add a row" with the keyboard: one more blank row, nothing saved.
    page.get_by_role("button", name="Add a row").focus()
    page.keyboard.press("Enter")
    expect(rows).to_have_count(7)

    # Choose the pair by typing into the lists, moving on with Tab.
    row_field(page, "Source type", 7).focus()
    page.keyboard.type("Database")
    page.keyboard.press("Tab")
    expect(row_field(page, "Target type", 7)).to_be_focused()
    page.keyboard.type("Storage")
    expect(row_field(page, "Source type", 7)).to_have_value(
        str(CIType.objects.get(key="database").pk)
    )
    screenshot(page, "pair")
    page.get_by_role("button", name="Save", exact=True).focus()
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/cmdb/types/#relationships$"))
    expect(page.get_by_role("alert")).to_contain_text("Relationship type “runs on” saved.")
    expect(page.get_by_role("cell", name=re.compile("Database → Storage"))).to_be_visible()
    screenshot(page, "saved")
    pairs = RelationshipType.objects.get(key="runs-on").allowed_pairs
    assert pairs.filter(source_type__key="database", target_type__key="storage").exists()
    assert pairs.count() == 6
