"""The service desk's main flows in a real browser, asserting what the user sees.

Every test also fails if the browser reported a console error, an uncaught script
error or a Content Security Policy violation (see the ``page`` fixture).
"""

import re

import pytest
from playwright.sync_api import expect

from accord.core.context import acting_as

pytestmark = [
    pytest.mark.browser,
    pytest.mark.xdist_group("browser"),
    pytest.mark.django_db(transaction=True),
]


def record_path(incident):
    return re.compile(re.escape(incident.get_absolute_url()) + "$")


def timeline_entry(page, text):
    return page.locator("ol.timeline > li").filter(has_text=text)


def test_agent_signs_in_and_works_the_queue_with_the_keyboard(
    page, sign_in, world, make_incident, screenshot
):
    urgent = make_incident(short_description="Payroll server unreachable", impact=1, urgency=1)
    other = make_incident(short_description="Printer on floor 3 jams")
    make_incident(customer=world.customer_b, short_description="Beta only: not in scope")

    sign_in("agent_a")

    # Nothing is assigned to the agent yet, so the queue opens on "All open".
    expect(page).to_have_url(re.compile(r"/incidents/\?queue=open$"))
    expect(page.get_by_role("heading", name="Incidents")).to_be_visible()
    tabs = page.get_by_role("list", name="Queues")
    expect(tabs.get_by_role("link")).to_have_text(
        [
            re.compile(r"My work\s+0"),
            re.compile(r"My teams\s+0"),
            re.compile(r"Unassigned\s+2"),
            re.compile(r"All open\s+2"),
            "All",
        ]
    )
    expect(tabs.get_by_role("link", name=re.compile("All open"))).to_have_attribute(
        "aria-current", "page"
    )
    rows = page.locator("table.table-queue tbody tr[data-href]")
    expect(rows).to_have_count(2)
    # Sorted by priority: the P1 comes first. Another customer's record is not shown.
    expect(rows.nth(0)).to_contain_text(urgent.number)
    expect(rows.nth(0)).to_contain_text("P1 - Critical")
    expect(rows.nth(1)).to_contain_text(other.number)
    expect(page.get_by_text("Beta only")).to_have_count(0)
    screenshot(page, "queue")

    # "/" jumps to the search box.
    page.keyboard.press("/")
    expect(page.locator("#global-search")).to_be_focused()
    expect(page.locator("#global-search")).to_have_value("")
    page.locator("#global-search").blur()

    # "?" lists the shortcuts.
    page.keyboard.press("?")
    shortcuts = page.get_by_role("dialog", name="Keyboard shortcuts")
    expect(shortcuts).to_be_visible()
    expect(shortcuts).to_contain_text("Next / previous row in a list, Enter opens it")
    expect(shortcuts).to_be_focused()  # shown and ready: Escape closes it
    page.keyboard.press("Escape")
    expect(shortcuts).to_be_hidden()

    # "j" highlights the first row; Enter opens it.
    page.keyboard.press("j")
    expect(rows.nth(0)).to_have_class(re.compile(r"\brow-focus\b"))
    expect(rows.nth(1)).not_to_have_class(re.compile(r"\brow-focus\b"))
    page.keyboard.press("j")
    expect(rows.nth(1)).to_have_class(re.compile(r"\brow-focus\b"))
    page.keyboard.press("k")
    expect(rows.nth(0)).to_have_class(re.compile(r"\brow-focus\b"))
    page.keyboard.press("Enter")

    expect(page).to_have_url(record_path(urgent))
    expect(page.get_by_role("heading", level=1)).to_contain_text(urgent.number)
    expect(page.get_by_role("heading", level=1)).to_contain_text("Payroll server unreachable")


def test_agent_assigns_works_and_resolves_an_incident(
    page, sign_in, world, make_incident, screenshot
):
    incident = make_incident(short_description="VPN drops every hour")
    sign_in("agent_a")
    page.goto(incident.get_absolute_url())
    details = page.get_by_role("region", name="Details")
    expect(details).to_contain_text("— / unassigned")
    status = page.locator("#record h1 ~ .badge").nth(1)
    expect(status).to_have_text("New")

    # Buttons post through htmx: the record panel is swapped in place, the page is
    # not reloaded (a marker set on the window survives) and the URL stays.
    page.evaluate("window.__sameDocument = true")
    page.get_by_role("button", name="Assign to me").click()
    expect(details).to_contain_text("Desk A / agent_a")
    expect(status).to_have_text("Assigned")
    expect(page.get_by_role("button", name="Assign to me")).to_have_count(0)
    assert page.evaluate("window.__sameDocument") is True
    expect(page).to_have_url(record_path(incident))

    page.get_by_role("button", name="Start work").click()
    expect(status).to_have_text("In progress")

    # An internal work note, then a reply to the customer.
    page.get_by_label(re.compile("Add to the journal")).fill("Checked the VPN concentrator logs.")
    page.get_by_label("Internal work note").check()
    page.get_by_role("button", name="Post").click()
    note = timeline_entry(page, "Checked the VPN concentrator logs.")
    expect(note).to_have_class(re.compile(r"\bkind-work_note\b"))
    expect(note).to_contain_text("Work note")
    expect(page.get_by_label(re.compile("Add to the journal"))).to_have_value("")

    page.get_by_label(re.compile("Add to the journal")).fill("We are on it; please retry now.")
    expect(page.get_by_label("Reply to customer")).to_be_checked()
    page.get_by_role("button", name="Post").click()
    reply = timeline_entry(page, "We are on it; please retry now.")
    expect(reply).to_have_class(re.compile(r"\bkind-reply\b"))
    expect(reply).to_contain_text("agent_a")
    # Newest first.
    expect(page.locator("ol.timeline > li").first).to_contain_text("please retry now")
    assert page.evaluate("window.__sameDocument") is True
    screenshot(page, "in-progress")

    # "Resolve…" opens its form; submitting it empty is refused with a clear error.
    resolve_form = page.locator("form#transition-resolve")
    expect(resolve_form).to_be_hidden()
    page.get_by_role("button", name="Resolve…").click()
    expect(resolve_form).to_be_visible()
    page.allow_http_errors(400)
    resolve_form.get_by_role("button", name="Resolve").click()
    alert = page.get_by_role("alert")
    expect(alert.first).to_be_visible()
    expect(alert).to_contain_text(["Choose a resolution code.", "Say how it was resolved."])
    expect(status).to_have_text("In progress")
    screenshot(page, "resolve-refused")

    # The refused form stays open with what was typed, so nothing is lost.
    expect(resolve_form).to_be_visible()
    resolve_form.get_by_label("Resolution notes").fill("Replaced the faulty firmware.")
    resolve_form.get_by_role("button", name="Resolve").click()
    expect(alert).to_have_text(["Choose a resolution code."])
    expect(resolve_form.get_by_label("Resolution notes")).to_have_value(
        "Replaced the faulty firmware."
    )
    resolve_form.get_by_label("Resolution code").select_option(label="Solved (permanently)")
    resolve_form.get_by_role("button", name="Resolve").click()
    expect(status).to_have_text("Resolved")
    expect(page.get_by_role("alert")).to_have_count(0)
    expect(page.get_by_role("region", name="Description")).to_contain_text(
        "Solved (permanently) — Replaced the faulty firmware."
    )
    expect(details).to_contain_text("Resolved")
    expect(page).to_have_url(record_path(incident))
    assert page.evaluate("window.__sameDocument") is True
    screenshot(page, "resolved")


def test_customer_logs_an_incident_and_never_sees_internal_notes(page, sign_in, world, screenshot):
    from accord.incidents.actions import add_comment
    from accord.incidents.models import Incident

    sign_in("cust_a")
    # A customer user starts on their organisation's open records: no staff queues.
    expect(page).to_have_url(re.compile(r"/incidents/\?queue=open$"))
    tabs = page.get_by_role("list", name="Queues")
    expect(tabs.get_by_role("link")).to_have_text([re.compile(r"All open\s+0"), "All"])
    expect(page.get_by_text("Nothing matches these filters.")).to_be_visible()

    page.get_by_role("link", name="New").click()
    expect(page.get_by_role("heading", name="New incident")).to_be_visible()
    # Only the services Alpha uses are offered (not Beta's ERP).
    service = page.get_by_label("Service")
    expect(service.locator("option")).to_have_text(["---------", "Email"])
    expect(page.get_by_label("Customer")).to_have_count(0)
    expect(page.get_by_label("Assignment team")).to_have_count(0)
    service.select_option(label="Email")
    page.get_by_label("Short description").fill("Cannot send mail to external addresses")
    page.get_by_label("Description", exact=True).fill("Since 9:00, every external mail bounces.")
    page.get_by_label("Impact").select_option(label="2 - Medium")
    page.get_by_label("Urgency").select_option(label="1 - High")
    screenshot(page, "create-form")
    page.get_by_role("button", name="Save").click()

    expect(page).to_have_url(re.compile(r"/incidents/\d+/$"))
    incident = Incident.objects.get(short_description="Cannot send mail to external addresses")
    expect(page).to_have_url(record_path(incident))
    expect(page.get_by_role("heading", level=1)).to_contain_text(incident.number)
    details = page.get_by_role("region", name="Details")
    expect(details).to_contain_text("Alpha Ltd")
    expect(details).to_contain_text("Email")
    expect(details).not_to_contain_text("Assignment")

    # Meanwhile the desk picks it up: an internal note and a reply.
    with acting_as(world.agent_a, "test"):
        add_comment(incident, world.agent_a, "work_note", "Customer's MX record looks wrong.")
        add_comment(incident, world.agent_a, "reply", "Could you send us a bounce message?")

    page.get_by_role("link", name="Incidents").click()
    rows = page.locator("table.table-queue tbody tr[data-href]")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text(incident.number)
    expect(rows.first).to_contain_text("Cannot send mail to external addresses")
    rows.first.get_by_role("link", name=incident.number).click()

    expect(page).to_have_url(record_path(incident))
    expect(timeline_entry(page, "Could you send us a bounce message?")).to_be_visible()
    expect(page.get_by_text("MX record")).to_have_count(0)
    expect(page.locator("li.kind-work_note")).to_have_count(0)
    # No staff-only controls either.
    expect(page.get_by_label("Internal work note")).to_have_count(0)
    expect(page.get_by_role("button", name="Assign to me")).to_have_count(0)
    expect(page.get_by_role("button", name=re.compile("Declare major"))).to_have_count(0)

    page.get_by_label(re.compile("^Reply")).fill("Attached: 550 5.7.1 relay denied.")
    page.get_by_role("button", name="Post").click()
    mine = timeline_entry(page, "550 5.7.1 relay denied.")
    expect(mine).to_have_class(re.compile(r"\bkind-reply\b"))
    expect(mine).to_contain_text("cust_a")
    expect(page.get_by_text("MX record")).to_have_count(0)
    screenshot(page, "customer-record")


def test_stale_edit_is_refused_and_keeps_what_the_user_typed(
    page, sign_in, world, make_incident, screenshot
):
    from accord.incidents.actions import update_ticket
    from accord.incidents.models import Incident

    incident = make_incident(short_description="Laptop will not boot")
    sign_in("agent_a")
    page.goto(incident.get_absolute_url())
    page.keyboard.press("e")  # the Edit shortcut
    expect(page).to_have_url(re.compile(rf"/incidents/{incident.pk}/edit/$"))
    expect(page.get_by_role("heading", name=f"Edit {incident.number}")).to_be_visible()
    short = page.get_by_label("Short description")
    expect(short).to_have_value("Laptop will not boot")

    short.fill("Laptop will not boot after BIOS update")
    page.get_by_label("Workaround").fill("Use the loan laptop from the desk.")

    # Someone else saves the record while the form is open.
    fresh = Incident.objects.get(pk=incident.pk)
    with acting_as(world.manager_a, "test"):
        update_ticket(fresh, world.manager_a, {"urgency": 1}, expected_version=fresh.version)

    page.allow_http_errors(409)
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("alert")).to_contain_text("Someone else changed this record")
    expect(page).to_have_url(re.compile(rf"/incidents/{incident.pk}/edit/$"))
    # Nothing typed is lost.
    expect(short).to_have_value("Laptop will not boot after BIOS update")
    expect(page.get_by_label("Workaround")).to_have_value("Use the loan laptop from the desk.")
    screenshot(page, "stale")
    # Nothing was saved over the other change.
    fresh.refresh_from_db()
    assert fresh.short_description == "Laptop will not boot"
    assert fresh.urgency == 1


def test_major_incident_cannot_close_before_its_review(
    page, sign_in, world, make_incident, screenshot
):
    incident = make_incident(short_description="Email down for all customers", impact=1)
    sign_in("agent_a")
    page.goto(incident.get_absolute_url())
    major = page.get_by_role("region", name="Major incident")
    expect(major).to_contain_text("Declare major incident…")
    expect(page.locator("#record h1 ~ .badge").filter(has_text="Major incident")).to_have_count(0)

    declare = page.locator("form#declare-major")
    expect(declare).to_be_hidden()
    major.get_by_role("button", name="Declare major incident…").click()
    expect(declare).to_be_visible()
    declare.get_by_label("Why is this a major incident?").fill("No customer can send email.")
    declare.get_by_label("Major incident manager").select_option(label="manager_a")
    declare.get_by_role("button", name="Declare").click()

    badge = page.locator("#record h1 ~ .badge").filter(has_text="Major incident")
    expect(badge).to_be_visible()
    expect(major).to_contain_text("Manager: manager_a")
    expect(major).to_contain_text("No customer can send email.")
    expect(major).to_contain_text("The review must be completed before this incident can be")
    expect(timeline_entry(page, "Declared a major incident")).to_contain_text("manager_a")

    # A timeline update for the major incident.
    major.get_by_label("Update").fill("Mail relay restarted; monitoring.")
    major.get_by_role("button", name="Add").click()
    expect(major).to_contain_text("Mail relay restarted; monitoring.")

    # Resolve it, then try to close before the review: refused, with the reason.
    page.get_by_role("button", name="Resolve…").click()
    resolve = page.locator("form#transition-resolve")
    resolve.get_by_label("Resolution code").select_option(label="Solved (permanently)")
    resolve.get_by_label("Resolution notes").fill("Relay certificate renewed.")
    resolve.get_by_role("button", name="Resolve").click()
    status = page.locator("#record h1 ~ .badge").nth(1)
    expect(status).to_have_text("Resolved")

    page.allow_http_errors(400)
    page.get_by_role("button", name="Confirm and close").click()
    expect(page.get_by_role("alert")).to_have_text(
        "Complete the major incident review before closing."
    )
    expect(status).to_have_text("Resolved")
    expect(badge).to_be_visible()
    screenshot(page, "close-refused")

    # Complete the review; then it closes.
    major.get_by_role("button", name="Write the review…").click()
    review = page.locator("form#review-form")
    review.get_by_label("Summary").fill("Expired relay certificate stopped outbound mail.")
    review.get_by_label("Root cause").fill("No expiry monitoring on the relay.")
    review.get_by_label("Mark the review complete").check()
    review.get_by_role("button", name="Save review").click()
    expect(major.get_by_text("Complete", exact=True)).to_be_visible()
    expect(major).to_contain_text("Expired relay certificate stopped outbound mail.")

    page.get_by_role("button", name="Confirm and close").click()
    expect(status).to_have_text("Closed")
    expect(page.get_by_role("alert")).to_have_count(0)
    expect(badge).to_be_visible()
    screenshot(page, "closed")


def test_the_browser_checks_catch_csp_violations_and_script_errors(page, problems):
    """The watch kept on every page is not blind: a blocked inline style and an
    uncaught error are both reported, and pages carry the strict policy."""
    response = page.goto("/login/")
    policy = response.headers["content-security-policy"]
    assert "script-src 'self'" in policy
    assert "style-src 'self'" in policy
    assert "unsafe-inline" not in policy
    expect(page.get_by_role("heading", name="Sign in to Accord")).to_be_visible()

    with page.expect_console_message(lambda m: m.text.startswith("CSP violation")):
        page.evaluate("document.body.setAttribute('style', 'color: red')")
    with page.expect_event("pageerror"):
        page.evaluate("setTimeout(() => { throw new Error('boom from the canary'); })")
    assert any("CSP violation: style-src-attr" in m for m in problems.messages)
    assert any("boom from the canary" in m for m in problems.messages)
    problems.messages.clear()  # expected here; any other test would fail on them
