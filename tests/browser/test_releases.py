"""Release management's main flow in a real browser: a release manager plans a release
grouping an approved change, adds its plan and an acceptance criterion naming an
approver, takes it through build and test into acceptance (going live before
acceptance is refused, with the reason on the page), the approver signs off, the
release is accepted, deployed to an application CI under the change (the CI then
shows the new version) and marked deployed. And the release policies, written by a
service owner.

Every test also fails if the browser reported a console error, an uncaught script
error or a Content Security Policy violation (see the ``page`` fixture).
"""

import datetime
import re

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from accord.changes import actions
from accord.changes.choices import ReleaseStatus, Status
from accord.changes.models import ChangeTemplate, Release, ReleasePolicy
from accord.core.context import acting_as

pytestmark = [
    pytest.mark.browser,
    pytest.mark.xdist_group("browser"),
    pytest.mark.django_db(transaction=True),
]


@pytest.fixture
def approved_change(world):
    """A standard change from a template: approved as soon as it is assessed."""
    template = ChangeTemplate.objects.create(
        name="Deploy a release",
        description="Roll out a tested package",
        implementation_plan="Install the package",
        backout_plan="Reinstall the previous package",
    )
    start = timezone.now() + datetime.timedelta(days=2)
    data = {
        "kind": "standard",
        "template": template,
        "short_description": "Install mail relay 2.0",
        "reason": "The 1.x line is out of support",
        "planned_start": start,
        "planned_end": start + datetime.timedelta(hours=2),
    }
    with acting_as(world.agent_a, "test"):
        change = actions.create_change(world.agent_a, data, services=[world.service])
        actions.transition(change, world.agent_a, "submit")
        actions.transition(change, world.agent_a, "assess")
    assert change.status == Status.APPROVED
    return change


@pytest.fixture
def mail_relay(world):
    """An application CI at version 1.9."""
    from accord.cmdb import actions as cmdb_actions
    from accord.cmdb.models import CIType, ConfigurationItem
    from accord.cmdb.testing import ensure_starting_types

    ensure_starting_types()
    with acting_as(world.admin, "test"):
        return cmdb_actions.save_ci(
            ConfigurationItem(
                name="Mail relay",
                ci_type=CIType.objects.get(key="application"),
                status="live",
                attributes={"version": "1.9"},
            )
        )


def test_a_release_from_plan_to_deployment(
    page, context, sign_in, world, approved_change, mail_relay, screenshot
):
    change = approved_change
    sign_in("agent_a")
    page.get_by_role("button", name="Changes", exact=True).click()
    page.get_by_role("link", name="Releases", exact=True).click()
    expect(page.get_by_role("heading", name=re.compile("^Releases"))).to_be_visible()
    screenshot(page, "list-empty")

    # Plan the release, grouping the approved change.
    page.get_by_role("link", name="New").click()
    expect(page.get_by_role("heading", name="New release")).to_be_visible()
    page.get_by_label("Name").fill("Mail relay")
    page.get_by_label("Version").fill("2.0")
    page.get_by_label("Kind").select_option(label="Minor")
    expect(page.get_by_label("Release manager")).to_have_value(str(world.agent_a.pk))
    page.get_by_label("Services").select_option(label="Email")
    page.get_by_label("Changes").fill(change.number)
    screenshot(page, "form")
    page.get_by_role("button", name="Save").click()

    release = Release.objects.get()
    expect(page).to_have_url(re.compile(re.escape(release.get_absolute_url()) + "$"))
    status = page.locator("#release-status")
    expect(status).to_have_text("Planned")
    expect(page.locator("#release-changes")).to_contain_text(change.number)
    screenshot(page, "planned")

    # The plan: build, then a roll-out wave.
    stage_form = page.get_by_role("form", name="Add a stage")
    stage_form.get_by_label("Stage").select_option(label="Build")
    stage_form.get_by_label("From").fill("2031-03-01")
    stage_form.get_by_label("Until").fill("2031-03-05")
    stage_form.get_by_role("button", name="Add the stage").click()
    stages = page.locator("#stages tbody tr")
    expect(stages).to_have_count(1)
    expect(stages.first).to_contain_text("Build")
    stage_form = page.get_by_role("form", name="Add a stage")
    stage_form.get_by_label("Stage").select_option(label="Roll-out")
    stage_form.get_by_label("Where").fill("Head office")
    stage_form.get_by_label("From").fill("2031-03-10")
    stage_form.get_by_label("Until").fill("2031-03-11")
    stage_form.get_by_role("button", name="Add the stage").click()
    expect(stages).to_have_count(2)
    expect(stages.nth(1)).to_contain_text("Head office")

    # The acceptance criterion and who signs it off.
    criterion_form = page.get_by_role("form", name="Add an acceptance criterion")
    criterion_form.get_by_label("Criterion").fill("Mail flows end to end")
    criterion_form.get_by_label("Signed off by").select_option(label="manager_a")
    criterion_form.get_by_role("button", name="Add the criterion").click()
    criteria = page.locator("#criteria tbody tr")
    expect(criteria).to_have_count(1)
    expect(criteria.first).to_contain_text("Mail flows end to end")
    expect(criteria.first).to_contain_text("manager_a")
    expect(criteria.first).to_contain_text("Pending")

    # The deployment to the application, under the change.
    deployment_form = page.get_by_role("form", name="Plan a deployment")
    deployment_form.get_by_label("Configuration item").fill("Mail relay")
    deployment_form.get_by_label("Authorising change").fill(change.number)
    deployment_form.get_by_label("Planned").fill("2031-03-10T22:00")
    deployment_form.get_by_role("button", name="Plan the deployment").click()
    row = page.locator("#deployments tbody tr").first
    expect(row).to_contain_text("Mail relay")
    expect(row).to_contain_text(change.number)
    expect(row).to_contain_text("Planned")

    # Build, test, acceptance: the first step from the keyboard.
    page.get_by_role("button", name="Start the build").focus()
    page.keyboard.press("Enter")
    expect(status).to_have_text("Build")
    page.get_by_role("button", name="Start testing").click()
    expect(status).to_have_text("Test")
    page.get_by_role("button", name="Start acceptance").click()
    expect(status).to_have_text("Acceptance")
    expect(page.locator("#acceptance-blockers")).to_contain_text(
        "Not signed off yet: Mail flows end to end (manager_a)."
    )

    # Going live before acceptance is refused, and nothing is written to the CI.
    page.allow_http_errors(400)
    page.get_by_role("button", name="Mark done (go live)").click()
    expect(page.locator("#record-errors")).to_contain_text("Nothing was saved")
    expect(page.locator("#deployments").get_by_role("alert")).to_have_text(
        "This release is not accepted yet: it can't be deployed before every acceptance "
        "criterion is signed off and the release is marked accepted."
    )
    expect(page.locator("#deployments tbody tr").first).to_contain_text("Planned")
    screenshot(page, "deploy-refused")
    mail_relay.refresh_from_db()
    assert mail_relay.attributes["version"] == "1.9"
    page.get_by_role("button", name="Mark accepted").click()
    expect(page.locator("#record-errors")).to_contain_text(
        "Not signed off yet: Mail flows end to end (manager_a)."
    )
    expect(status).to_have_text("Acceptance")
    screenshot(page, "acceptance-refused")

    # The named approver signs off.
    context.clear_cookies()
    sign_in("manager_a")
    page.goto(release.get_absolute_url())
    sign_off = page.get_by_role("form", name="Your sign-off: Mail flows end to end")
    sign_off.get_by_label("Approve").check()
    sign_off.get_by_label("Comment").fill("Tested with the partner domains")
    screenshot(page, "sign-off")
    sign_off.get_by_role("button", name="Record my decision").click()
    expect(criteria.first).to_contain_text("Approved")
    expect(criteria.first).to_contain_text("Tested with the partner domains")
    expect(page.locator("#acceptance-blockers")).to_have_count(0)

    # The release manager accepts it and deploys.
    context.clear_cookies()
    sign_in("agent_a")
    page.goto(release.get_absolute_url())
    page.get_by_role("button", name="Mark accepted").click()
    expect(status).to_have_text("Accepted")
    screenshot(page, "accepted")
    row = page.locator("#deployments tbody tr").first
    row_steps = page.locator("#deployments tbody tr").nth(1)
    row_steps.get_by_label("Note", exact=True).fill("Installed in the evening window")
    row_steps.get_by_role("button", name="Mark done (go live)").click()
    expect(row).to_contain_text("Done")
    expect(row).to_contain_text("1.9")  # the version before
    expect(status).to_have_text("Deploying")
    screenshot(page, "deploying")

    # The CMDB shows the new version.
    row.get_by_role("link", name="Mail relay").click()
    expect(page.get_by_role("heading", name="Mail relay", level=1)).to_be_visible()
    attributes = page.get_by_role("region", name="Attributes")
    expect(attributes).to_contain_text("2.0")
    expect(attributes).not_to_contain_text("1.9")
    screenshot(page, "ci-after")

    page.goto(release.get_absolute_url())
    page.get_by_role("button", name="Mark deployed").click()
    expect(status).to_have_text("Deployed")
    expect(page.get_by_role("region", name="Post-release review")).to_be_visible()
    screenshot(page, "deployed")
    assert Release.objects.get().status == ReleaseStatus.DEPLOYED

    page.get_by_role("navigation", name="breadcrumb").get_by_role("link", name="Releases").click()
    expect(page.get_by_role("heading", name=re.compile("^Releases"))).to_be_visible()
    rows = page.locator("table.table-queue tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text(release.number)
    expect(rows.first).to_contain_text("Deployed")
    screenshot(page, "list")


def test_a_service_owner_writes_the_release_policy(page, sign_in, world, screenshot):
    sign_in("owner")
    page.goto("/changes/releases/policies/")
    expect(page.get_by_role("heading", name="Release policies")).to_be_visible()
    table = page.locator("#policies")
    expect(table.get_by_role("row", name=re.compile("^Email"))).to_contain_text("No policy")
    screenshot(page, "list-before")
    table.get_by_role("link", name="Email").click()
    expect(page.get_by_role("heading", name="Release policy of Email")).to_be_visible()
    screenshot(page, "empty")

    page.get_by_label("Release frequency").fill("Monthly, the second Tuesday")
    page.get_by_label("Kinds of release").fill("Minor monthly; major twice a year")
    page.get_by_label("Naming and versioning").fill("YYYY.MM")
    page.allow_http_errors(400)
    page.get_by_role("button", name="Save").click()
    expect(page.locator("#policy-rollback_errors")).to_be_visible()
    expect(page.get_by_label("Release frequency")).to_have_value("Monthly, the second Tuesday")
    page.get_by_label("Roll-back rules").fill("Restore the previous package within an hour")
    page.get_by_label("Roll-back rules").press("Tab")
    page.keyboard.press("Enter")
    expect(page.get_by_role("alert").filter(has_text="Release policy saved.")).to_be_visible()
    assert ReleasePolicy.objects.get(service=world.service).naming == "YYYY.MM"
    screenshot(page, "saved")

    page.get_by_role("link", name="Release policies").first.click()
    page.get_by_label("Release policy", exact=True).select_option(label="With a policy")
    page.get_by_role("button", name="Filter").click()
    rows = table.locator("tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Has a policy")
    screenshot(page, "list-after")
