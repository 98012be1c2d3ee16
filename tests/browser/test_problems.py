"""Problem management's main flow in a real browser: raise a problem from incidents
(the queue's bulk action and the incident page's button), then take it to a known
error, with the refusals shown beside the fields."""

import re

import pytest
from playwright.sync_api import expect

from accord.problems.models import Problem

pytestmark = [
    pytest.mark.browser,
    pytest.mark.xdist_group("browser"),
    pytest.mark.django_db(transaction=True),
]


def test_agent_raises_a_problem_from_incidents_and_declares_a_known_error(
    page, sign_in, world, make_incident, screenshot
):
    first = make_incident(short_description="Mail bounces for external senders", impact=1)
    second = make_incident(short_description="Mail to partners delayed")
    make_incident(short_description="Printer jams")
    sign_in("agent_a")

    # The queue: tick two incidents, then raise one problem from them.
    expect(page).to_have_url(re.compile(r"/incidents/\?queue=open$"))
    page.get_by_label(f"Select {first.number}").check()
    page.get_by_label(f"Select {second.number}").check()
    screenshot(page, "queue-selection")
    page.get_by_role("button", name="Raise a problem from the selected incidents").click()

    expect(page).to_have_url(re.compile(r"/problems/new/\?incidents="))
    expect(page.get_by_role("heading", name="New problem")).to_be_visible()
    expect(page.get_by_label("Incidents to link")).to_have_value(f"{first.number}, {second.number}")
    raised_from = page.get_by_role("list", name="Incidents this problem is raised from")
    expect(raised_from.get_by_role("listitem")).to_have_count(2)
    expect(page.get_by_label("Short description")).to_have_value(first.short_description)
    expect(page.get_by_label("Impact")).to_have_value("1")
    page.get_by_label("Short description").fill("External mail relay rejects messages")
    page.get_by_label("Problem owner").select_option(label="agent_a")
    screenshot(page, "create-form")
    page.get_by_role("button", name="Save").click()

    problem = Problem.objects.get()
    expect(page).to_have_url(re.compile(re.escape(problem.get_absolute_url()) + "$"))
    heading = page.get_by_role("heading", level=1)
    expect(heading).to_contain_text(problem.number)
    status = page.locator("#problem-status")
    expect(status).to_have_text("New")
    linked = page.locator("#linked-incidents")
    expect(linked).to_contain_text(first.number)
    expect(linked).to_contain_text(second.number)

    # The incident page shows the problem, and offers raising another.
    page.goto(first.get_absolute_url())
    panel = page.get_by_role("region", name="Problems")
    expect(panel.get_by_role("link", name=problem.number)).to_be_visible()
    expect(page.get_by_role("link", name="Raise problem")).to_have_attribute(
        "href", f"/problems/new/?incidents={first.pk}"
    )
    panel.get_by_role("link", name=problem.number).click()

    # Investigate, then declare the known error: refused empty, beside each field.
    page.evaluate("window.__sameDocument = true")
    page.get_by_role("button", name="Start investigation").click()
    expect(status).to_have_text("Under investigation")
    page.get_by_role("button", name="Declare known error…").click()
    form = page.locator("form#step-known_error")
    expect(form).to_be_visible()
    page.allow_http_errors(400)
    form.get_by_role("button", name="Declare known error").click()
    expect(page.get_by_role("alert").first).to_contain_text("Nothing was saved")
    form = page.locator("form#step-known_error")
    expect(form).to_be_visible()
    expect(form.locator("#tr-known_error-root_cause_errors")).to_have_text(
        "Describe the root cause."
    )
    expect(form.locator("#tr-known_error-workaround_errors")).to_have_text(
        "Describe the workaround."
    )
    expect(form.get_by_label("Root cause")).to_have_attribute(
        "aria-describedby", "tr-known_error-root_cause_errors"
    )
    expect(status).to_have_text("Under investigation")
    screenshot(page, "known-error-refused")

    form.get_by_label("Root cause").fill("The relay's certificate chain is incomplete.")
    form.get_by_label("Workaround").fill("1. Send through the backup relay\n2. Retry")
    form.get_by_role("button", name="Declare known error").click()
    expect(status).to_have_text("Known error")
    expect(page.locator("#root-cause")).to_have_text("The relay's certificate chain is incomplete.")
    known = Problem.objects.get().known_errors.get()
    expect(page.locator("#known-errors")).to_contain_text(known.number)
    history = page.locator("ol.timeline > li")
    expect(history.filter(has_text="Status changed to Known error.")).to_have_count(1)
    assert page.evaluate("window.__sameDocument") is True
    screenshot(page, "known-error")
