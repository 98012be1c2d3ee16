"""Known errors in a real browser: an agent opens an incident, sees the matching known
error with its workaround, applies it with the keyboard and finds it in the journal;
while logging an incident the suggestions appear as the short description is typed.

Every test also fails if the browser reported a console error, an uncaught script
error or a Content Security Policy violation (see the ``page`` fixture).
"""

import re

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from accord.core.context import acting_as
from accord.problems import actions, suggestions
from accord.problems.models import KnownError

pytestmark = [
    pytest.mark.browser,
    pytest.mark.xdist_group("browser"),
    pytest.mark.django_db(transaction=True),
]

WORKAROUND = (
    "1. Close Outlook.\n"
    "2. Run `klist purge` in a command prompt.\n"
    "3. Start Outlook and sign in **once**.\n\n"
    "<script>alert('not run')</script>"
)


@pytest.fixture(autouse=True)
def _fresh_word_index():
    suggestions.forget()
    yield
    suggestions.forget()


@pytest.fixture
def mail_known_error(world):
    with acting_as(world.admin, "test"):
        known = actions.save_known_error(
            KnownError(
                short_description="Outlook asks for the password again and again",
                symptoms="After the password change Outlook prompts every few minutes.",
                root_cause="A stale Kerberos ticket is cached.",
                workaround=WORKAROUND,
            ),
            world.admin,
            services=[world.service],
        )
        actions.save_known_error(
            KnownError(
                short_description="Beta ERP export times out",
                symptoms="The export stops after 30 minutes.",
                workaround="Run it at night.",
            ),
            world.admin,
            services=[world.service_b_only],
            customers=[world.customer_b],
        )
    return known


def test_agent_sees_a_suggestion_on_the_incident_and_applies_it(
    page, sign_in, world, make_incident, mail_known_error, screenshot
):
    incident = make_incident(
        service=world.service,
        short_description="Outlook keeps asking for the password",
        description="Since this morning the caller is asked for the password every minute.",
    )
    sign_in("agent_a")
    page.goto(incident.get_absolute_url())
    panel = page.get_by_role("region", name="Known errors that may match")
    expect(panel).to_be_visible()
    suggestion = panel.locator(f'[data-known-error="{mail_known_error.pk}"]')
    expect(suggestion).to_contain_text(mail_known_error.number)
    expect(suggestion).to_contain_text("Same service")
    # The workaround, rendered: a numbered list with code; the script is only text.
    expect(suggestion.locator("ol li")).to_have_count(3)
    expect(suggestion.locator("code")).to_have_text("klist purge")
    expect(suggestion).to_contain_text("<script>alert('not run')</script>")
    expect(panel).not_to_contain_text("Beta ERP")
    screenshot(page, "suggested")

    # Keyboard: focus the button and press Enter.
    button = suggestion.get_by_role(
        "button", name=f"Apply the workaround of {mail_known_error.number}"
    )
    button.focus()
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(re.escape(incident.get_absolute_url()) + "$"))
    expect(page.get_by_role("alert").filter(has_text="applied")).to_contain_text(
        f"Workaround from {mail_known_error.number} applied"
    )
    suggestion = page.get_by_role("region", name="Known errors that may match").locator(
        f'[data-known-error="{mail_known_error.pk}"]'
    )
    expect(suggestion.get_by_text("Applied", exact=True)).to_be_visible()
    expect(suggestion.get_by_role("button", name=re.compile("Apply the workaround"))).to_have_count(
        0
    )
    journal = page.locator("ol.timeline > li").filter(
        has_text=f"Workaround from {mail_known_error}"
    )
    expect(journal).to_contain_text("klist purge")
    screenshot(page, "applied")
    assert KnownError.objects.get(pk=mail_known_error.pk).use_count == 1


def test_suggestions_appear_while_the_short_description_is_typed(
    page, sign_in, world, mail_known_error, screenshot
):
    sign_in("agent_a")
    page.goto(reverse("incidents:create"))
    # The incident form carries the suggestions' script itself.
    expect(page.locator("script[src$='known_error_suggest.js']")).to_have_count(1)
    page.get_by_label("Short description").press_sequentially("Outlook asks for the password")
    box = page.locator("#known-error-suggest")
    expect(box).to_have_attribute("aria-live", "polite")
    suggestion = box.locator(f'[data-known-error="{mail_known_error.pk}"]')
    expect(suggestion).to_contain_text(mail_known_error.short_description)
    expect(suggestion.locator("code")).to_have_text("klist purge")
    expect(box).not_to_contain_text("Beta ERP")
    expect(box.get_by_role("button", name=re.compile("Apply"))).to_have_count(0)
    screenshot(page, "while-logging")
    # The suggestion's link is reachable with the keyboard.
    link = suggestion.get_by_role("link", name=re.compile(mail_known_error.number))
    link.focus()
    expect(link).to_be_focused()
    # Words that match nothing clear the list.
    page.get_by_label("Short description").fill("Zebra crossing paint")
    expect(box).to_contain_text("No open known error matches.")


def test_agent_records_a_known_error_and_finds_it_in_the_list(
    page, sign_in, world, mail_known_error, screenshot
):
    sign_in("agent_a")
    page.goto(reverse("problems:known_error_list"))
    expect(page.get_by_role("heading", name=re.compile("Known errors"))).to_be_visible()
    rows = page.locator("table tbody tr[data-href]")
    expect(rows).to_have_count(1)  # Beta's known error is not listed for Alpha's agent
    page.get_by_role("link", name="New").click()

    page.get_by_label("Title").fill("VPN tunnel drops every ten minutes")
    page.get_by_label("Symptoms").fill("The tunnel closes and reconnects by itself.")
    page.get_by_label("Root cause").fill("The concentrator's idle timeout is too short.")
    page.get_by_label("Workaround").fill(
        "1. Open the VPN client.\n2. Tick **Keep alive**.\n3. See [the guide](https://example.com/vpn)."
    )
    page.get_by_label("Services").select_option(label="Email")
    page.get_by_label("Problem").fill("PRB404")
    page.allow_http_errors(400)
    page.get_by_role("button", name="Save").click()
    # A bad problem number is named next to its field; the rest is kept.
    expect(page.locator("#id_problem_errors")).to_have_text(re.compile("No problem PRB404"))
    expect(page.get_by_label("Title")).to_have_value("VPN tunnel drops every ten minutes")
    page.get_by_label("Problem").fill("")
    page.get_by_label("Problem").press("Enter")

    expect(page.get_by_role("heading", level=1)).to_contain_text("VPN tunnel drops")
    workaround = page.get_by_role("region", name="Workaround")
    expect(workaround.locator("ol li")).to_have_count(3)
    expect(workaround.locator("strong")).to_have_text("Keep alive")
    expect(workaround.get_by_role("link", name="the guide")).to_have_attribute(
        "rel", "nofollow noopener"
    )
    expect(page.get_by_text("Its workaround has served 0 incidents.")).to_be_visible()
    screenshot(page, "detail")

    page.goto(reverse("problems:known_error_list") + "?q=tunnel")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("VPN tunnel drops every ten minutes")
    screenshot(page, "list")
