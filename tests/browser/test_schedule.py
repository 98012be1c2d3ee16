"""The forward schedule in a real browser: the week and month grids as an agent sees
them (another customer's change absent), a blackout window and a conflict marked,
moving through weeks and days with the keyboard alone, and opening a change.

Every test also fails if the browser reported a console error, an uncaught script
error or a Content Security Policy violation (see the ``page`` fixture).
"""

import datetime
import re

import pytest
from playwright.sync_api import expect

from accord.changes import actions
from accord.changes.choices import ConflictKind, Status
from accord.changes.models import BlackoutWindow, Change, Conflict
from accord.core.context import acting_as

pytestmark = [
    pytest.mark.browser,
    pytest.mark.xdist_group("browser"),
    pytest.mark.django_db(transaction=True),
]


def at(text):
    return datetime.datetime.fromisoformat(text).replace(tzinfo=datetime.UTC)


@pytest.fixture
def week(world):
    """The week of Monday 9 March 2026, as agent A (Alpha) and B (Beta) would plan it."""

    def make(text, start, end, customers=(), kind="normal", status=Status.SCHEDULED, **extra):
        with acting_as(world.admin, "test"):
            change = actions.create_change(
                world.admin,
                {
                    "short_description": text,
                    "reason": "r",
                    "implementation_plan": "i",
                    "backout_plan": "b",
                    "planned_start": at(start),
                    "planned_end": at(end),
                    "kind": "emergency" if kind == "emergency" else "normal",
                    "emergency_reason": "e" if kind == "emergency" else "",
                    "assignment_team": world.team_a,
                    **extra,
                },
                customers=customers,
            )
        # A standard change needs a template to be raised; here only its kind matters.
        Change.objects.filter(pk=change.pk).update(status=status, kind=kind)
        return change

    made = {
        "relay": make(
            "Patch the mail relay", "2026-03-10T08:00", "2026-03-10T10:00", [world.customer_a]
        ),
        "dns": make("Move DNS resolvers", "2026-03-10T09:00", "2026-03-10T11:00"),
        "firewall": make(
            "Firewall rule for the payment gateway",
            "2026-03-11T14:00",
            "2026-03-11T15:00",
            kind="emergency",
        ),
        "storage": make("Storage array migration", "2026-03-12T20:00", "2026-03-14T04:00"),
        "logs": make("Rotate logs", "2026-03-13T07:00", "2026-03-13T07:30", kind="standard"),
        "beta": make(
            "Beta ERP upgrade", "2026-03-10T12:00", "2026-03-10T13:00", [world.customer_b]
        ),
        "next": make("Certificate renewal", "2026-03-17T09:00", "2026-03-17T09:30"),
    }
    Conflict.objects.create(
        change=made["dns"],
        other=made["relay"],
        kind=ConflictKind.DEPENDENT_CI,
        explanation="relay depends on dns",
    )
    with acting_as(world.admin, "test"):
        BlackoutWindow(
            name="Quarter close",
            starts_at=at("2026-03-15T00:00"),
            ends_at=at("2026-03-16T00:00"),
            reason="Finance closes the books",
        ).save()
    return made


def test_agent_reads_and_walks_the_schedule_by_keyboard(page, sign_in, world, week, screenshot):
    sign_in("agent_a")
    page.goto("/changes/schedule/?view=week&date=2026-03-10")
    expect(page.get_by_role("heading", name="Forward schedule of changes")).to_be_visible()
    grid = page.get_by_role("table", name="Week 11: 9 March to 15 March 2026")
    expect(grid).to_be_visible()
    expect(grid.get_by_role("columnheader")).to_have_count(7)
    expect(grid.get_by_role("columnheader").first).to_have_text("Mon 9 Mar")

    tuesday = grid.locator('td[data-date="2026-03-10"]')
    relay = week["relay"]
    expect(tuesday.get_by_role("link", name=f"{relay.number} Patch the mail relay")).to_be_visible()
    expect(tuesday).to_contain_text("08:00–10:00 · Normal · Scheduled")
    # The conflict is marked on both changes, and says what kind it is.
    expect(tuesday.locator(".has-conflict")).to_have_count(2)
    expect(tuesday).to_contain_text("Overlaps a change on a CI that depends on it")
    # Beta's change is not agent A's to see.
    expect(page.get_by_text("Beta ERP upgrade")).to_have_count(0)
    expect(page.get_by_text(week["beta"].number)).to_have_count(0)
    # Over three days, and a blackout on Sunday.
    storage = grid.get_by_role("link", name=re.compile("Storage array migration"))
    expect(storage).to_have_count(3)
    expect(grid.locator('td[data-date="2026-03-13"]')).to_contain_text("all day (continued)")
    expect(grid.locator('td[data-date="2026-03-15"]')).to_contain_text("Blackout: Quarter close")
    expect(grid.locator('td[data-date="2026-03-11"] .kind-emergency')).to_contain_text("Emergency")
    expect(page.locator("#schedule-summary")).to_contain_text(
        "5 changes on this calendar, 2 with conflicts"
    )
    screenshot(page, "week")

    # The keyboard alone: n for the next week, p back.
    page.keyboard.press("n")
    expect(page).to_have_url(re.compile(r"date=2026-03-17"))
    expect(page.get_by_role("link", name=re.compile("Certificate renewal"))).to_be_visible()
    page.keyboard.press("p")
    expect(page).to_have_url(re.compile(r"date=2026-03-10"))

    # Into the calendar with Tab, the arrows from day to day, Tab into a day's changes.
    page.locator('td[data-date="2026-03-09"]').focus()
    page.keyboard.press("ArrowRight")
    expect(page.locator('td[data-date="2026-03-10"]')).to_be_focused()
    page.keyboard.press("ArrowRight")
    expect(page.locator('td[data-date="2026-03-11"]')).to_be_focused()
    page.keyboard.press("ArrowLeft")
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name=f"{relay.number} Patch the mail relay")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(rf"/changes/{relay.pk}/$"))


def test_the_month_view_and_the_subscription_help(page, sign_in, world, week, screenshot):
    sign_in("agent_a")
    page.goto("/changes/schedule/?view=week&date=2026-03-10")
    page.keyboard.press("m")
    expect(page).to_have_url(re.compile(r"view=month"))
    grid = page.get_by_role("table", name="March 2026")
    expect(grid).to_be_visible()
    expect(grid.locator("tbody tr")).to_have_count(6)
    expect(grid.locator('td[data-date="2026-03-17"]')).to_contain_text("Certificate renewal")
    expect(grid.locator('td[data-date="2026-02-23"]')).to_have_class(re.compile("out-of-range"))
    # Down a week with the arrow keys.
    page.locator('td[data-date="2026-03-10"]').focus()
    page.keyboard.press("ArrowDown")
    expect(page.locator('td[data-date="2026-03-17"]')).to_be_focused()
    screenshot(page, "month")

    # How to subscribe, with the filters of the page.
    page.get_by_label("Team").select_option(label="Desk A")
    page.get_by_role("button", name="Show").click()
    expect(page).to_have_url(re.compile(rf"team={world.team_a.pk}"))
    page.get_by_text("Subscribe in your calendar program").click()
    address = page.locator("#feed-address")
    expect(address).to_be_visible()
    expect(address).to_contain_text(
        f"/changes/schedule.ics?team={world.team_a.pk}&token=YOUR-TOKEN"
    )
    screenshot(page, "subscribe")


def test_a_bad_date_is_refused_naming_it(page, sign_in, world):
    sign_in("agent_a")
    page.allow_http_errors(400)
    page.goto("/changes/schedule/?view=week&date=2026-02-30")
    expect(page.get_by_role("alert")).to_contain_text("date: give a date as YYYY-MM-DD")


def test_the_reports_page(page, sign_in, world, week, screenshot):
    from django.utils import timezone

    now = timezone.now()
    Change.objects.filter(pk=week["relay"].pk).update(
        status=Status.CLOSED,
        is_open=False,
        outcome="successful",
        submitted_at=now - datetime.timedelta(days=5),
        actual_start=now - datetime.timedelta(days=2, hours=2),
        actual_end=now - datetime.timedelta(days=2),
        closed_at=now - datetime.timedelta(days=1),
    )
    sign_in("agent_a")
    page.goto("/changes/schedule/")
    page.get_by_role("link", name="Reports").click()
    expect(page.get_by_role("heading", name="Change management reports")).to_be_visible()
    by_month = page.locator('table[data-report="by_month"]')
    expect(by_month.locator("tfoot")).to_contain_text("100.0%")
    expect(
        page.get_by_text("between the start of its implementation and 7 days after")
    ).to_have_count(1)
    backlog = page.locator('table[data-report="backlog"]')
    expect(backlog.locator("tbody tr").filter(has_text="Scheduled")).to_contain_text("5")
    screenshot(page, "reports")
