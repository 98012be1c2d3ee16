"""Service levels in a real browser: an administrator sets up a calendar and an
agreement through the forms, an agent sees the clocks of a record and how its
deadline was reached, and the queue shows what is due first."""

import re

import pytest
from playwright.sync_api import expect

from accord.calendars.models import Calendar
from accord.slas.models import Agreement

pytestmark = [
    pytest.mark.browser,
    pytest.mark.xdist_group("browser"),
    pytest.mark.django_db(transaction=True),
]


def test_admin_sets_up_a_calendar_and_an_agreement(page, sign_in, world, screenshot):
    sign_in("admin")
    page.get_by_role("button", name="Service levels").click()
    page.get_by_role("link", name="Calendars").click()
    page.get_by_role("link", name=re.compile("New")).click()
    page.locator("#id_name").fill("London office")
    page.get_by_label("Time zone").select_option("Europe/London")
    page.get_by_label("Monday").fill("09:00-12:30, 13:30-17:30")
    page.get_by_label("Friday").fill("09:00-12:00, 11:00-15:00")
    holidays = page.get_by_label("Holidays", exact=True)
    holidays.fill("12-25 Christmas Day\n2026-12-28 Boxing Day (substitute)")
    page.allow_http_errors(400)
    page.get_by_role("button", name="Save").click()
    # The overlap is refused next to Friday, and what was typed is kept.
    expect(page.locator("#id_hours_fri_errors")).to_contain_text("overlap")
    expect(page.get_by_label("Holidays", exact=True)).to_have_value(re.compile("Boxing Day"))
    page.get_by_label("Friday").fill("09:00-15:00")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("heading", name="London office")).to_be_visible()
    expect(page.locator("body")).to_contain_text("Christmas Day")
    screenshot(page, "calendar")

    page.get_by_role("button", name="Service levels").click()
    page.get_by_role("link", name="Agreements", exact=True).click()
    page.get_by_role("link", name=re.compile("New")).click()
    page.locator("#id_name").fill("Alpha standard")
    page.locator("#id_customer").select_option(label="Alpha Ltd")
    page.get_by_label("Calendar (service hours)").select_option(label="London office")
    page.locator("#id_status").select_option("agreed")
    page.get_by_label("Response P1").fill("30m")
    page.get_by_label("Resolution P1").fill("four hours")
    page.get_by_role("button", name="Save").click()
    expect(page.locator("#id_target_resolution_1_errors")).to_contain_text("duration")
    page.get_by_label("Resolution P1").fill("4h")
    page.get_by_label("Resolution P3").fill("2d")
    page.get_by_role("button", name="Save").click()
    expect(page.locator("#id_target_resolution_3_errors")).to_be_visible()
    page.get_by_label("Resolution P3").fill("16h")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("heading", name="Alpha standard")).to_be_visible()
    expect(page.locator("table").first).to_contain_text("16h")
    agreement = Agreement.objects.get(name="Alpha standard")
    assert agreement.calendar == Calendar.objects.get(name="London office")
    assert {(t.metric, t.priority) for t in agreement.targets.all()} == {
        ("response", 1),
        ("resolution", 1),
        ("resolution", 3),
    }


def test_agent_sees_the_clocks_and_why_the_deadline_is_where_it_is(
    page, sign_in, world, sla, make_incident, screenshot
):
    make_incident(short_description="Printer jammed")
    make_incident(short_description="Scanner offline")
    sign_in("agent_a")
    page.goto("/incidents/?queue=open&sort=sla_due")
    rows = page.locator("table tbody tr")
    expect(rows.first).to_contain_text("Printer jammed")
    headers = [h.strip() for h in page.locator("table thead th").all_inner_texts()]
    due = next(i for i, h in enumerate(headers) if h.startswith("Due"))
    expect(rows.first.locator("td").nth(due)).to_contain_text(re.compile(r"in \d+m"))

    page.get_by_role("link", name="Printer jammed").click()
    panel = page.get_by_role("region", name="Service levels")
    expect(panel).to_contain_text("Response")
    expect(panel).to_contain_text("Alpha gold")
    page.get_by_role("button", name="Assign to me").click()
    expect(panel.locator(".sla-clock").first).to_contain_text("met")
    page.get_by_role("button", name="Start work").click()
    page.locator("summary", has_text="How this deadline was reached").nth(1).click()
    expect(panel).to_contain_text("started")
    screenshot(page, "clocks")
