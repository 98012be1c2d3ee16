"""Change management's main flow in a real browser: an agent raises a normal change
(a slot ending before it starts is refused on the field), submits it, answers the
risk questionnaire and asks for approval; the team manager finds it among their
approvals and approves it; the change is scheduled, carried out and closed with its
outcome.

Every test also fails if the browser reported a console error, an uncaught script
error or a Content Security Policy violation (see the ``page`` fixture).
"""

import re

import pytest
from playwright.sync_api import expect

from accord.changes.models import Change, RiskOption, RiskQuestion

pytestmark = [
    pytest.mark.browser,
    pytest.mark.xdist_group("browser"),
    pytest.mark.django_db(transaction=True),
]


@pytest.fixture
def questionnaire(db):
    for text, scores in (("Tested in staging?", (0, 4)), ("Outage needed?", (0, 6))):
        question = RiskQuestion.objects.create(text=text)
        for score in scores:
            RiskOption.objects.create(question=question, label=f"Score {score}", score=score)


def test_a_change_from_request_to_closure(page, context, sign_in, world, questionnaire, screenshot):
    sign_in("agent_a")
    page.get_by_role("button", name="Changes", exact=True).click()
    page.get_by_role("link", name="Change requests", exact=True).click()
    expect(page.get_by_role("heading", name=re.compile("^Changes"))).to_be_visible()
    page.get_by_role("link", name="New").click()
    page.get_by_role("link", name=re.compile("^Normal change")).click()
    expect(page.get_by_role("heading", name="New change: normal")).to_be_visible()

    page.get_by_label("Short description").fill("Upgrade the mail relay")
    page.get_by_label("Reason for the change").fill("The relay's version is out of support")
    page.get_by_label("Implementation plan").fill("1. Drain\n2. Upgrade\n3. Enable")
    page.get_by_label("Back-out plan").fill("Restore the snapshot")
    page.get_by_label("Planned start").fill("2031-03-02T02:00")
    page.get_by_label("Planned end").fill("2031-03-02T01:00")
    page.get_by_label("Team").select_option(label="Desk A")
    page.allow_http_errors(400)
    page.get_by_role("button", name="Save").click()
    expect(page.locator("#id_planned_end_errors")).to_have_text(
        "The planned end must be after the start."
    )
    expect(page.get_by_label("Short description")).to_have_value("Upgrade the mail relay")
    page.get_by_label("Planned end").fill("2031-03-02T04:00")
    page.get_by_role("button", name="Save").click()

    change = Change.objects.get()
    expect(page).to_have_url(re.compile(re.escape(change.get_absolute_url()) + "$"))
    expect(page.get_by_role("heading", name=re.compile(change.number))).to_be_visible()
    status = page.locator("#change-status")
    expect(status).to_have_text("Draft")

    page.get_by_role("button", name="Submit").click()
    expect(status).to_have_text("Submitted")
    page.get_by_role("group", name="Tested in staging?").get_by_label("Score 4").check()
    page.get_by_role("group", name="Outage needed?").get_by_label("Score 0").check()
    page.get_by_role("button", name="Assess the risk").click()
    expect(page.locator("#risk-summary")).to_contain_text("Score 4: Low risk.")
    expect(page.locator("#risk-summary")).to_contain_text("manager_a, manager of Desk A")
    page.get_by_role("button", name="Mark assessed").click()
    expect(status).to_have_text("Assessed")
    page.get_by_role("button", name="Ask for approval").click()
    expect(status).to_have_text("Awaiting approval")
    expect(page.locator("#approvals")).to_contain_text("Pending")

    # The team manager decides.
    context.clear_cookies()
    sign_in("manager_a")
    page.goto("/changes/approvals/")
    rows = page.locator("#pending-approvals tbody tr")
    expect(rows).to_have_count(1)
    rows.get_by_role("link", name=change.number).click()
    decision = page.locator("#decide-form")
    decision.get_by_label("Reject").check()
    decision.get_by_role("button", name="Record my decision").click()
    expect(page.locator("#decide-form")).to_contain_text("Say why you reject it.")
    decision = page.locator("#decide-form")
    decision.get_by_label("Approve").check()
    decision.get_by_label("Comment").fill("Go ahead on Sunday")
    decision.get_by_role("button", name="Record my decision").click()
    expect(status).to_have_text("Approved")
    expect(page.locator("#approvals")).to_contain_text("Go ahead on Sunday")
    screenshot(page, "approved")

    # Carried out and closed with its outcome.
    page.get_by_role("button", name="Confirm the schedule").click()
    expect(status).to_have_text("Scheduled")
    page.get_by_role("button", name="Start implementing").click()
    expect(status).to_have_text("Implementing")
    page.get_by_role("button", name="Record the outcome…").click()
    form = page.locator("#step-finish")
    form.get_by_label("Outcome").select_option(label="Successful")
    form.get_by_role("button", name="Record the outcome").click()
    expect(status).to_have_text("Implemented")
    page.get_by_role("button", name="Close", exact=True).click()
    expect(status).to_have_text("Closed")
    expect(page.locator("ol.timeline")).to_contain_text("Status changed to Closed.")
    screenshot(page, "closed")
