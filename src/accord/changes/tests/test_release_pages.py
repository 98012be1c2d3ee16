"""The release pages: list and filters, plan and edit (changes by number, within what
the user may see), the record page and its actions with bad input shown on the page,
deployments and go-live, the post-release review's incidents as each user may see
them, the release policies; and who may do what there."""

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accord.changes import deployments, releases
from accord.changes.choices import Decision, DeploymentStatus, ReleaseStatus
from accord.changes.models import Release, ReleaseIncident, ReleasePolicy
from accord.core.context import acting_as

pytestmark = pytest.mark.django_db
H = datetime.timedelta(hours=1)
DAY = datetime.timedelta(days=1)


@pytest.fixture
def new_release(new_release, world):
    """Releases planned by the administrator, watched for the default 14 days."""

    def make(user=None, **fields):
        return new_release(user=user or world.admin, **{"review_days": 14, **fields})

    return make


@pytest.fixture
def as_user(client):
    def sign_in(user):
        client.force_login(user)
        return client

    return sign_in


def fresh(record):
    return type(record).objects.get(pk=record.pk)


def act(client, release, action, data, htmx=True):
    url = reverse("changes:release_action", args=[release.pk, action])
    headers = {"HTTP_HX_REQUEST": "true"} if htmx else {}
    return client.post(url, data, **headers)


def step(client, release, name, **data):
    return act(
        client, release, "transition", {"name": name, "version": fresh(release).version, **data}
    )


def to_acceptance(client, release):
    for name in ("start_build", "start_test", "start_acceptance"):
        assert step(client, release, name).status_code == 200
    return fresh(release)


# --- list and visibility -------------------------------------------------------------------------
def test_the_list_filters_and_shows_each_agent_their_customers_releases_only(
    world, new_release, as_user
):
    shared = new_release(short_description="Shared relay")
    alpha = new_release(
        short_description="Alpha portal", customers=[world.customer_a], kind="major"
    )
    beta = new_release(short_description="Beta billing", customers=[world.customer_b])
    client = as_user(world.agent_a)
    r = client.get(reverse("changes:release_list"))
    assert r.status_code == 200
    text = r.content.decode()
    assert shared.number in text and alpha.number in text and beta.number not in text
    assert r.context["total"] == 2
    r = client.get(reverse("changes:release_list"), {"kind": "major"})
    assert [row.pk for row in r.context["rows"]] == [alpha.pk]
    r = client.get(reverse("changes:release_list"), {"status": "deployed"})
    assert r.context["total"] == 0
    r = client.get(reverse("changes:release_list"), {"service": world.service_b_only.pk})
    assert r.context["total"] == 0
    assert client.get(beta.get_absolute_url()).status_code == 404
    assert act(client, beta, "transition", {"name": "start_build", "version": 1}).status_code == 404
    assert fresh(beta).status == ReleaseStatus.PLANNED
    # Agent B sees the shared one and their own.
    r = as_user(world.agent_b).get(reverse("changes:release_list"))
    assert {row.pk for row in r.context["rows"]} == {shared.pk, beta.pk}


def test_customers_are_refused_every_release_page(world, new_release, as_user):
    release = new_release(customers=[world.customer_a])
    client = as_user(world.customer_user_a)
    for url in (
        reverse("changes:release_list"),
        reverse("changes:release_create"),
        release.get_absolute_url(),
        reverse("changes:release_edit", args=[release.pk]),
        reverse("changes:release_policy_list"),
        reverse("changes:release_policy", args=[world.service.pk]),
    ):
        assert client.get(url).status_code == 403, url
    assert (
        act(client, release, "transition", {"name": "start_build", "version": 1}).status_code == 403
    )
    client.logout()
    r = client.get(reverse("changes:release_list"))
    assert r.status_code == 302 and "login" in r["Location"]


def test_the_list_costs_the_same_queries_for_more_rows(world, new_release, as_user):
    client = as_user(world.agent_a)
    new_release()
    client.get(reverse("changes:release_list"))  # once-a-minute lookups made here
    with CaptureQueriesContext(connection) as few:
        client.get(reverse("changes:release_list"))
    for n in range(5):
        new_release(short_description=f"Release {n}")
    with CaptureQueriesContext(connection) as many:
        r = client.get(reverse("changes:release_list"))
    assert r.context["total"] == 6
    assert len(many.captured_queries) == len(few.captured_queries)


# --- plan and edit --------------------------------------------------------------------------------
def test_plan_a_release_with_its_changes_named_by_number(world, approved_change, as_user):
    mine = approved_change()
    beta = approved_change(user=world.agent_b, customers=[world.customer_b])
    client = as_user(world.agent_a)
    url = reverse("changes:release_create")
    r = client.get(url, {"change": mine.pk})
    assert r.status_code == 200
    assert r.context["form"].initial["changes"] == mine.number
    data = {
        "short_description": "Mail relay 2",
        "release_version": "2.0",
        "kind": "minor",
        "services": [world.service.pk],
        "customers": [world.customer_a.pk],
        "review_days": 10,
        "changes": f"{mine.number}, {beta.number}",
    }
    r = client.post(url, data)
    assert r.status_code == 400
    assert r.context["form"].errors["changes"] == [f"You have no change {beta.number}."]
    r = client.post(url, {**data, "changes": mine.number, "services": [], "kind": "huge"})
    assert r.status_code == 400
    assert {"services", "kind"} <= set(r.context["form"].errors)
    assert 'id="id_services_errors"' in r.content.decode()
    assert not Release.objects.exists()
    r = client.post(url, {**data, "changes": mine.number})
    assert r.status_code == 302, r.context["form"].errors
    release = Release.objects.get()
    assert r["Location"] == release.get_absolute_url()
    assert (release.release_version, release.review_days, release.status) == ("2.0", 10, "planned")
    assert list(release.changes.all()) == [mine] and list(release.customers.all()) == [
        world.customer_a
    ]
    page = client.get(release.get_absolute_url()).content.decode()
    assert mine.number in page and "Mail relay 2" in page


def test_edit_keeps_what_the_user_cannot_see_and_refuses_a_stale_version(
    world, approved_change, new_release, as_user
):
    mine = approved_change()
    beta = approved_change(user=world.agent_b, customers=[world.customer_b])
    release = new_release(changes=[mine, beta])
    client = as_user(world.agent_a)
    url = reverse("changes:release_edit", args=[release.pk])
    r = client.get(url)
    assert r.status_code == 200
    form = r.context["form"]
    assert form.initial["changes"] == mine.number  # the hidden change is not named
    page = client.get(release.get_absolute_url())
    assert page.context["hidden_changes"] == 1 and beta.number not in page.content.decode()
    data = {
        "short_description": "Mail relay, second go",
        "release_version": "2.1",
        "kind": "minor",
        "services": [world.service.pk],
        "review_days": 14,
        "changes": mine.number,
        "version": release.version,
    }
    r = client.post(url, data)
    assert r.status_code == 302, r.context["form"].errors
    release = fresh(release)
    assert release.release_version == "2.1" and release.short_description == "Mail relay, second go"
    assert set(release.changes.all()) == {mine, beta}
    r = client.post(url, {**data, "release_version": "2.2"})
    assert r.status_code == 409
    assert "Someone else changed this record" in r.content.decode() and "2.2" in r.content.decode()
    assert fresh(release).release_version == "2.1"


# --- the record page ------------------------------------------------------------------------------
def test_the_record_page_refuses_bad_input_with_clear_messages(
    world, approved_change, new_release, make_ci, as_user
):
    mine = approved_change()
    other = approved_change()
    release = new_release(changes=[mine])
    ci = make_ci("Mail relay", version="1.9")
    client = as_user(world.agent_a)
    # Stage dates reversed.
    r = act(
        client,
        release,
        "add_stage",
        {"kind": "build", "starts_on": "2026-12-10", "ends_on": "2026-12-01"},
    )
    assert r.status_code == 400
    assert r.context["stage_form"].errors["ends_on"] == ["The stage can't end before it starts."]
    assert not release.stages.exists()
    r = act(
        client,
        release,
        "add_stage",
        {
            "kind": "rollout",
            "target": "Head office",
            "starts_on": "2026-12-01",
            "ends_on": "2026-12-10",
        },
    )
    assert r.status_code == 200 and "Head office" in r.content.decode()
    # A deployment change that is not the release's.
    planned = timezone.localtime(timezone.now() + DAY).strftime("%Y-%m-%dT%H:%M")
    r = act(
        client,
        release,
        "plan_deployment",
        {"ci": "Mail relay", "change": other.number, "planned_for": planned},
    )
    assert r.status_code == 400
    assert r.context["deployment_form"].errors["change"] == [
        f"{other.number} is not one of this release's changes."
    ]
    r = act(
        client,
        release,
        "plan_deployment",
        {"ci": "no-such", "change": "CHG9999999", "planned_for": "soon"},
    )
    assert r.status_code == 400
    assert {"ci", "change", "planned_for"} <= set(r.context["deployment_form"].errors)
    r = act(
        client,
        release,
        "plan_deployment",
        {"ci": "Mail relay", "change": mine.number, "planned_for": planned},
    )
    assert r.status_code == 200
    deployment = release.deployments.get()
    # Deploying before acceptance.
    r = act(client, release, "deploy", {"deployment": deployment.pk})
    assert r.status_code == 400
    assert "not accepted yet" in r.content.decode()
    r = step(client, release, "start_deployment")
    assert r.status_code == 400 and "not accepted yet" in r.content.decode()
    assert fresh(ci).attributes["version"] == "1.9"
    # Unknown actions and steps.
    assert act(client, release, "explode", {}).status_code == 404
    r = step(client, release, "teleport")
    assert r.status_code == 400 and "Unknown action" in r.content.decode()
    r = act(client, release, "transition", {"name": "start_build", "version": "x"})
    assert r.status_code == 400


def test_sign_off_accept_deploy_and_review_through_the_page(
    world, approved_change, new_release, make_ci, make_incident, as_user
):
    change = approved_change()
    release = new_release(changes=[change], customers=[world.customer_a])
    with acting_as(world.owner, "test"):
        releases.save_policy(
            world.service,
            world.owner,
            {"frequency": "Monthly, second Tuesday", "kinds": "k", "naming": "n", "rollback": "r"},
        )
    app = make_ci("Mail relay", customers=[world.customer_a], version="1.9")
    server = make_ci("srv-01", kind="server")
    client = as_user(world.agent_a)
    page = client.get(release.get_absolute_url()).content.decode()
    assert "Monthly, second Tuesday" in page  # the service's release policy
    release = to_acceptance(client, release)
    r = act(
        client, release, "add_criterion", {"text": "Mail flows", "approver": world.manager_a.pk}
    )
    assert r.status_code == 200
    criterion = release.criteria.get()
    # Not the named approver: refused on the page, nothing written.
    r = act(client, release, "sign_off", {"criterion": criterion.pk, "decision": "approve"})
    assert r.status_code == 400
    assert "Only manager_a, the named approver" in r.content.decode()
    assert fresh(criterion).decision == Decision.PENDING
    r = step(client, release, "accept")
    assert (
        r.status_code == 400 and "Not signed off yet: Mail flows (manager_a)" in r.content.decode()
    )
    approver = as_user(world.manager_a)
    page = approver.get(release.get_absolute_url())
    assert criterion.pk in page.context["sign_forms"]
    r = act(approver, release, "sign_off", {"criterion": criterion.pk, "decision": "reject"})
    assert r.status_code == 400 and "Say why you reject it." in r.content.decode()
    r = act(
        approver,
        release,
        "sign_off",
        {"criterion": criterion.pk, "decision": "approve", "comment": "ok"},
    )
    assert r.status_code == 200 and fresh(criterion).decision == Decision.APPROVE
    client = as_user(world.agent_a)
    assert step(client, release, "accept").status_code == 200
    planned = timezone.localtime(timezone.now() + H).strftime("%Y-%m-%dT%H:%M")
    for name in ("Mail relay", "srv-01"):
        r = act(
            client,
            release,
            "plan_deployment",
            {"ci": name, "change": change.number, "planned_for": planned},
        )
        assert r.status_code == 200
    page = client.get(release.get_absolute_url()).content.decode()
    assert "Its type keeps no version" in page  # the server
    for d in release.deployments.all():
        r = act(client, release, "deploy", {"deployment": d.pk})
        assert r.status_code == 200, r.content.decode()[:500]
    assert fresh(app).attributes["version"] == "2.0"
    assert "version" not in fresh(server).attributes
    assert step(client, release, "mark_deployed").status_code == 200
    release = fresh(release)
    assert release.status == ReleaseStatus.DEPLOYED
    # Incidents after the roll-out: each user sees only those they may see.
    alpha = make_incident(service=world.service, short_description="Alpha mail slow")
    beta = make_incident(
        customer=world.customer_b, service=world.service, short_description="Beta mail slow"
    )
    page = client.get(release.get_absolute_url())  # the page brings the list up to date
    assert ReleaseIncident.objects.filter(release=release).count() == 2
    text = page.content.decode()
    assert alpha.number in text and beta.number not in text and "Beta mail slow" not in text
    assert [i.pk for i, _link in page.context["incident_rows"]] == [alpha.pk]
    admin_page = as_user(world.admin).get(release.get_absolute_url()).content.decode()
    assert beta.number in admin_page
    client = as_user(world.agent_a)
    r = act(client, release, "review", {"review_notes": "", "version": release.version})
    assert r.status_code == 400 and "review_notes" in r.context["review_form"].errors
    r = act(
        client,
        release,
        "review",
        {"review_notes": "One incident, minor.", "version": release.version},
        htmx=False,
    )
    assert r.status_code == 302
    assert fresh(release).status == ReleaseStatus.REVIEWED


def test_roll_back_through_the_page(world, approved_change, new_release, make_ci, as_user):
    change = approved_change()
    release = new_release(changes=[change])
    app = make_ci("Mail relay", version="1.9")
    with acting_as(world.admin, "test"):
        release = releases.transition(release, world.admin, "start_build")
        release = releases.transition(release, world.admin, "start_test")
        release = releases.transition(release, world.admin, "start_acceptance")
        c = releases.add_criterion(release, world.admin, text="ok", approver=world.admin)
        releases.sign_off(release, world.admin, c.pk, Decision.APPROVE)
        release = releases.transition(release, world.admin, "accept")
        d = deployments.plan_deployment(
            release, world.admin, ci=app, change=change, planned_for=timezone.now()
        )
        deployments.complete_deployment(release, world.admin, d.pk)
    client = as_user(world.agent_a)
    r = act(client, release, "roll_back", {"deployment": d.pk, "note": ""})
    assert r.status_code == 400 and fresh(d).status == DeploymentStatus.DONE
    r = act(client, release, "roll_back", {"deployment": d.pk, "note": "Queue stalls"})
    assert r.status_code == 200
    assert (
        fresh(d).status == DeploymentStatus.ROLLED_BACK
        and fresh(app).attributes["version"] == "1.9"
    )


def test_an_auditor_reads_but_cannot_act(world, new_release, as_user):
    release = new_release()
    client = as_user(world.auditor)
    page = client.get(release.get_absolute_url())
    assert page.status_code == 200 and page.context["steps"] == []
    assert client.get(reverse("changes:release_create")).status_code == 403
    assert (
        act(client, release, "transition", {"name": "start_build", "version": 1}).status_code == 403
    )


# --- release policies -----------------------------------------------------------------------------
def test_the_policy_pages(world, as_user):
    client = as_user(world.agent_a)
    r = client.get(reverse("changes:release_policy_list"), {"policy": "no"})
    assert {s.pk for s in r.context["services"]} == {world.service.pk, world.service_b_only.pk}
    url = reverse("changes:release_policy", args=[world.service.pk])
    r = client.get(url)
    assert r.status_code == 200 and r.context["form"] is None  # agents read only
    assert client.post(url, {"frequency": "x"}).status_code == 403
    owner = as_user(world.owner)
    data = {
        "frequency": "Monthly",
        "kinds": "Minor; major twice a year",
        "naming": "YYYY.MM",
        "rollback": "",
    }
    r = owner.post(url, data)
    assert r.status_code == 400 and "rollback" in r.context["form"].errors
    assert not ReleasePolicy.objects.exists()
    r = owner.post(url, {**data, "rollback": "Restore the previous package"})
    assert r.status_code == 302
    policy = ReleasePolicy.objects.get()
    r = owner.post(
        url, {**data, "rollback": "Restore", "frequency": "Weekly", "version": policy.version}
    )
    assert r.status_code == 302
    r = owner.post(url, {**data, "rollback": "Late", "version": policy.version})
    assert r.status_code == 409
    page = as_user(world.agent_a).get(url)
    text = page.content.decode()
    assert "Weekly" in text and "Monthly" in text  # the text and its history
    r = client.get(reverse("changes:release_policy_list"), {"policy": "yes"})
    assert [s.pk for s in r.context["services"]] == [world.service.pk]
    assert client.get(reverse("changes:release_policy", args=[999999])).status_code == 404


def test_the_change_panel_lists_the_releases_the_user_may_see(world, approved_change, new_release):
    from accord.changes.views_releases import change_releases_panel

    change = approved_change()
    shared = new_release(changes=[change])
    beta = new_release(changes=[change], customers=[world.customer_b])
    panel = change_releases_panel(change, world.agent_a)
    assert panel["releases"] == [shared]
    assert panel["plan_url"].endswith(f"?change={change.pk}")
    assert change_releases_panel(change, world.admin)["releases"] == [shared, beta]
    assert change_releases_panel(change, world.customer_user_a) is None
    assert change_releases_panel(change, world.auditor)["plan_url"] is None


def test_huge_or_odd_ids_are_refused_not_a_server_error(world, new_release, as_user):
    release = new_release()
    client = as_user(world.admin)
    huge, long, odd = "9" * 30, "9" * 5000, "²"
    for action, field in (
        ("complete_stage", "stage"),
        ("remove_stage", "stage"),
        ("remove_criterion", "criterion"),
        ("sign_off", "criterion"),
        ("deploy", "deployment"),
        ("fail", "deployment"),
        ("roll_back", "deployment"),
        ("remove_deployment", "deployment"),
        ("unlink_incident", "incident"),
    ):
        for value in (huge, long, odd):
            r = act(client, release, action, {field: value, "note": "x", "decision": "approve"})
            assert r.status_code == 400, (action, value[:5], r.status_code)
    form = {
        "short_description": "Relay",
        "release_version": "3.0",
        "kind": "minor",
        "review_days": "7",
        "version": fresh(release).version,
    }
    for field in ("services", "customers"):
        for value in (huge, long, odd, "-1"):
            data = {"services": [world.service.pk], **form, field: [value]}
            for url in (
                reverse("changes:release_create"),
                reverse("changes:release_edit", args=[release.pk]),
            ):
                r = client.post(url, data)
                assert r.status_code == 400, (url, field, value[:5])
                assert r.context["form"].errors[field]
    r = client.post(
        reverse("changes:release_create"), {**form, "services": [world.service.pk], "changes": long}
    )
    assert r.status_code == 400 and r.context["form"].errors["changes"]
    for value in (huge, long, odd):
        r = client.get(reverse("changes:release_create"), {"change": value})
        assert r.status_code == 200
    assert Release.objects.count() == 1


def test_the_history_names_no_change_or_customer_the_reader_may_not_see(
    world, new_release, approved_change, as_user
):
    secret = approved_change(
        user=world.agent_b, customers=[world.customer_b], short_description="Beta secret"
    )
    release = new_release()
    with acting_as(world.admin, "test"):
        releases.update_release(
            release,
            world.admin,
            {},
            customers=[world.customer_a, world.customer_b],
            changes=[secret],
            expected_version=release.version,
        )
    text = as_user(world.agent_a).get(release.get_absolute_url()).content.decode()
    assert release.number in text
    for hidden in (secret.number, "Beta secret", world.customer_b.name):
        assert hidden not in text, hidden
    text = as_user(world.agent_b).get(release.get_absolute_url()).content.decode()
    assert secret.number in text and world.customer_b.name in text


def test_the_release_page_costs_the_same_queries_for_more_deployments(
    world, new_release, approved_change, make_ci, as_user
):
    change = approved_change()
    release = new_release(changes=[change])
    client = as_user(world.admin)

    def plan(name):
        with acting_as(world.admin, "test"):
            deployments.plan_deployment(
                release, world.admin, ci=make_ci(name), change=change, planned_for=timezone.now()
            )

    plan("app-1")
    client.get(release.get_absolute_url())
    with CaptureQueriesContext(connection) as few:
        assert client.get(release.get_absolute_url()).status_code == 200
    for i in range(2, 6):
        plan(f"app-{i}")
    with CaptureQueriesContext(connection) as many:
        assert client.get(release.get_absolute_url()).status_code == 200
    assert len(many.captured_queries) == len(few.captured_queries)
