"""The trend analysis page in a real browser: a run started with the keyboard (a bad
window refused, naming the field), the clusters an agent may see, a cluster's
incidents, raising a problem in one click, and a running run followed until it ends.

Every test also fails if the browser reported a console error, an uncaught script
error or a Content Security Policy violation (see the ``page`` fixture).
"""

import datetime
import re

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from accord.incidents.models import Incident
from accord.problems.models import Problem, TrendRun

pytestmark = [
    pytest.mark.browser,
    pytest.mark.xdist_group("browser"),
    pytest.mark.django_db(transaction=True),
]


@pytest.fixture
def history(world, make_incident):
    """Alpha: four "VPN drops" incidents on Email, three about the badge reader; Beta:
    three "VPN drops" of its own on its ERP service."""
    made = []
    rows = [
        *[(world.customer_a, world.service, "VPN tunnel drops every hour", 1)] * 4,
        *[(world.customer_a, None, "Badge reader at gate rejects cards", 3)] * 3,
        *[(world.customer_b, world.service_b_only, "VPN tunnel drops every hour", 2)] * 3,
    ]
    for i, (customer, service, text, impact) in enumerate(rows):
        incident = make_incident(
            customer=customer, service=service, short_description=text, impact=impact
        )
        Incident.objects.filter(pk=incident.pk).update(
            created=timezone.now() - datetime.timedelta(days=3, hours=i)
        )
        made.append(incident)
    return made


def test_agent_runs_the_analysis_and_raises_a_problem(page, sign_in, world, history, screenshot):
    sign_in("agent_a")
    page.goto("/problems/trends/")
    expect(page.get_by_role("heading", name="Trend analysis", exact=True)).to_be_visible()
    expect(page.get_by_text("No finished run yet")).to_be_visible()

    # A window of 0 days is refused, and the message names the field.
    page.allow_http_errors(400)
    window = page.get_by_label("Window (days)")
    window.fill("0")
    window.press("Enter")
    refusal = "Window (days): enter a whole number of days from 1 to 3650."
    expect(page.get_by_text(refusal)).to_be_visible()
    expect(page.get_by_label("Window (days)")).to_have_value("0")

    # With the keyboard: the window, then Tab to the smallest cluster, Enter.
    page.get_by_label("Window (days)").fill("30")
    page.keyboard.press("Tab")
    expect(page.get_by_label("Smallest cluster")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/problems/trends/$"))
    expect(page.get_by_role("alert").filter(has_text="Trend run queued")).to_be_visible()
    expect(page.get_by_role("status").filter(has_text="Latest run finished")).to_be_visible()
    # How many incidents the run looked at (every customer's) is not agent A's to know.
    expect(page.get_by_text("incidents looked at")).to_have_count(0)

    table = page.locator("#clusters")
    rows = table.locator("tbody tr")
    # Alpha's clusters only: the VPN words (4), the Email service (4), the badge
    # words (3). Beta's VPN incidents are neither shown nor counted.
    expect(rows).to_have_count(3)
    expect(rows.nth(0)).to_contain_text("4")
    expect(table).not_to_contain_text("Beta ERP")
    vpn = rows.filter(has_text="Similar descriptions").filter(has_text="vpn")
    expect(vpn.locator("td[data-count]")).to_have_text("4")
    # The cluster spans Beta too: agent A's impact score is their share of it by
    # count (4 of 7 incidents of 4 x 3 + 3 x 2 = 18), marked as such.
    expect(vpn.locator("td").nth(4)).to_have_text("≈10")
    badge = rows.filter(has_text="Similar descriptions").filter(has_text="badge")
    expect(badge.locator("td").nth(4)).to_have_text("3")  # low impact: 1 each
    page.locator("#how summary").click()
    expect(page.get_by_text("each high-impact incident counts 3")).to_be_visible()
    shot = screenshot(page, "clusters")
    assert shot.exists()

    # The cluster's incidents.
    vpn.get_by_role("link").click()
    expect(page.locator("#cluster-incidents tbody tr")).to_have_count(4)
    expect(page.locator("#cluster-incidents")).not_to_contain_text("Beta")
    screenshot(page, "cluster")

    # One click raises the problem with the four incidents linked.
    page.get_by_role("button", name="Raise problem").click()
    problem = Problem.objects.get()
    expect(page).to_have_url(re.compile(re.escape(problem.get_absolute_url()) + "$"))
    expect(page.get_by_text("raised with 4 incidents linked")).to_be_visible()
    assert problem.incident_links.count() == 4
    page.goto("/problems/trends/")
    expect(page.locator("#clusters").get_by_role("link", name=problem.number)).to_be_visible()


def test_a_manager_sets_a_trend_aside_and_restores_it(page, sign_in, world, history, screenshot):
    from accord.core.context import acting_as
    from accord.problems import trends

    with acting_as(world.admin, "test"):
        run = trends.start_run(world.admin, window_days=30)
    trends.run_trends(run.pk)
    sign_in("manager_a")
    page.goto("/problems/trends/")
    rows = page.locator("#clusters tbody tr")
    expect(rows).to_have_count(3)
    rows.filter(has_text="badge").get_by_role("link").click()
    page.get_by_text("Set this trend aside").click()
    # Without a reason it is refused beside the field; then with the keyboard.
    page.allow_http_errors(400)
    page.get_by_role("button", name="Set aside").click()
    expect(page.get_by_text("Say why this trend is set aside.")).to_be_visible()
    page.get_by_label("Why it is set aside").fill("Gate readers are replaced next week.")
    page.get_by_role("button", name="Set aside").focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("alert").filter(has_text="set aside")).to_be_visible()
    expect(rows).to_have_count(2)
    expect(page.locator("#clusters")).not_to_contain_text("badge")
    tab = page.get_by_role("link", name=re.compile(r"Set aside\s+1"))
    tab.click()
    expect(rows).to_have_count(1)
    expect(tab).to_have_attribute("aria-current", "page")
    expect(page.get_by_role("link", name="All", exact=True)).not_to_have_attribute(
        "aria-current", "page"
    )
    expect(rows.first).to_contain_text("Gate readers are replaced next week.")
    screenshot(page, "set-aside")
    rows.first.get_by_role("button", name=re.compile("Restore the trend")).click()
    expect(page.get_by_role("alert").filter(has_text="Trend restored")).to_be_visible()
    page.goto("/problems/trends/")
    expect(rows).to_have_count(3)


def test_a_running_run_is_followed_until_it_ends(page, sign_in, world, screenshot):
    now = timezone.now()
    run = TrendRun.objects.create(
        state=TrendRun.State.RUNNING, since=now - datetime.timedelta(days=90), until=now
    )
    sign_in("admin")
    page.goto("/problems/trends/")
    status = page.locator("#trend-status [role=status]")
    expect(status).to_have_attribute("data-state", "running")
    expect(status).to_contain_text("incidents read so far")
    screenshot(page, "running")
    TrendRun.objects.filter(pk=run.pk).update(
        state=TrendRun.State.DONE, finished_at=timezone.now(), incidents_scanned=1234
    )
    # The page polls and reloads itself when the run has ended.
    expect(status).to_have_attribute("data-state", "done", timeout=8000)
    expect(page.get_by_text("1,234 incidents without a problem")).to_be_visible()


def test_the_reports_page(page, sign_in, world, make_incident, screenshot):
    from accord.core.context import acting_as
    from accord.problems import actions

    with acting_as(world.admin, "test"):
        for impact, urgency in ((1, 1), (2, 2), (2, 2), (3, 3)):
            actions.create_problem(
                world.admin,
                {"short_description": "Report me", "impact": impact, "urgency": urgency},
                incidents=[make_incident()],
            )
    sign_in("agent_a")
    page.goto("/problems/reports/")
    expect(page.get_by_role("heading", name="Problem management reports")).to_be_visible()
    ages = page.locator('table[data-report="open_by_age"]')
    expect(ages.locator("tfoot tr")).to_have_text(re.compile(r"Total\s*1\s*0\s*2\s*0\s*1\s*4"))
    expect(page.locator("table.report")).to_have_count(5)
    screenshot(page, "reports")
    page.allow_http_errors(400)
    months = page.get_by_label("Months (monthly reports)")
    months.fill("0")
    months.press("Enter")
    expect(page.get_by_role("alert")).to_have_text("Months: enter a whole number from 1 to 120.")
    expect(page.get_by_label("Months (monthly reports)")).to_have_value("0")
