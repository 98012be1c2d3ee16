"""The releases API: staff read the releases of their customers with plan, acceptance,
deployments and review incidents (only those they may see); the lifecycle and the
named approver's sign-off go through the same rules as the pages."""

from accord.changes import deployments, releases
from accord.changes.choices import Decision, ReleaseStatus
from accord.changes.models import Release, ReleaseIncident
from accord.core.context import acting_as

from .test_releases import accepted, go

URL = "/api/releases/"


def test_staff_read_a_release_with_its_plan_and_customers_get_nothing(
    world, api_as, new_release, approved_change, make_ci, make_incident
):
    change = approved_change()
    release = accepted(world, new_release(changes=[change]))
    ci = make_ci("mail-relay-app", customers=[world.customer_a], version="1.9")
    with acting_as(world.agent_a, "test"):
        deployment = deployments.plan_deployment(
            release, world.agent_a, ci=ci, change=change, planned_for=change.planned_start
        )
        deployments.complete_deployment(release, world.agent_a, deployment.pk)
    release = go(release, world.agent_a, "mark_deployed")
    seen = make_incident(customer=world.customer_a, service=world.service)
    unseen = make_incident(customer=world.customer_b, service=world.service)
    ReleaseIncident.objects.create(release=release, incident=seen)
    ReleaseIncident.objects.create(release=release, incident=unseen)

    body = api_as(world.agent_a).get(f"{URL}{release.pk}/").json()
    assert body["number"] == release.number and body["release_version"] == "2.0"
    assert body["status"] == ReleaseStatus.DEPLOYED and body["accepted"] is True
    assert body["changes"] == [change.number]
    assert body["criteria"][0]["decision"] == Decision.APPROVE
    assert body["criteria"][0]["approver"] == world.manager_a.username
    [row] = body["deployments"]
    assert row["ci_name"] == "mail-relay-app" and row["change"] == change.number
    assert row["status"] == "done" and row["previous_version"] == "1.9"
    # The agent serves Alpha only: Beta's incident is neither named nor counted.
    assert body["incidents"] == [seen.number]
    assert api_as(world.admin).get(f"{URL}{release.pk}/").json()["incidents"] == sorted(
        [seen.number, unseen.number]
    )
    listed = api_as(world.agent_a).get(URL).json()["results"]
    assert [r["number"] for r in listed] == [release.number]
    customer = api_as(world.customer_user_a)
    assert customer.get(f"{URL}{release.pk}/").status_code == 403
    assert customer.get(URL).status_code == 403


def test_another_customers_release_is_not_found(world, api_as, new_release):
    release = new_release(user=world.admin, customers=[world.customer_b])
    assert api_as(world.agent_a).get(f"{URL}{release.pk}/").status_code == 404
    assert api_as(world.agent_b).get(f"{URL}{release.pk}/").status_code == 200


def test_the_lifecycle_and_sign_off_follow_the_rules(world, api_as, new_release):
    release = new_release()
    client = api_as(world.agent_a)

    def step(name, **extra):
        version = Release.objects.get(pk=release.pk).version
        return client.post(
            f"{URL}{release.pk}/transition/",
            {"name": name, "version": version, **extra},
            format="json",
        )

    assert step("start_build").json()["status"] == ReleaseStatus.BUILD
    # Deploying before acceptance is refused, naming why.
    refused = step("start_deployment")
    assert refused.status_code == 400 and "accepted" in str(refused.json()).lower()
    # A stale version changes nothing.
    stale = client.post(
        f"{URL}{release.pk}/transition/", {"name": "start_test", "version": 1}, format="json"
    )
    assert stale.status_code == 409
    assert step("start_test").status_code == 200
    assert step("start_acceptance").status_code == 200
    with acting_as(world.agent_a, "test"):
        criterion = releases.add_criterion(
            Release.objects.get(pk=release.pk),
            world.agent_a,
            text="Mail flows",
            approver=world.manager_a,
        )
    sign = {"criterion": criterion.pk, "decision": "approve"}
    # Only the named approver signs off; a rejection needs its reason.
    assert client.post(f"{URL}{release.pk}/sign_off/", sign, format="json").status_code == 403
    manager = api_as(world.manager_a)
    reject = manager.post(
        f"{URL}{release.pk}/sign_off/", {**sign, "decision": "reject"}, format="json"
    )
    assert reject.status_code == 400 and "comment" in reject.json()
    assert manager.post(f"{URL}{release.pk}/sign_off/", sign, format="json").status_code == 200
    assert step("accept").json()["accepted"] is True
    bad = client.post(
        f"{URL}{release.pk}/transition/", {"name": "fly", "version": 1}, format="json"
    )
    assert bad.status_code == 400 and "name" in bad.json()
    # An auditor reads but moves nothing.
    auditor = api_as(world.auditor)
    assert auditor.get(f"{URL}{release.pk}/").status_code == 200
    version = Release.objects.get(pk=release.pk).version
    assert (
        auditor.post(
            f"{URL}{release.pk}/transition/",
            {"name": "cancel", "note": "x", "version": version},
            format="json",
        ).status_code
        == 403
    )


def test_a_release_is_planned_accepted_deployed_and_reviewed_through_the_api(
    world, api_as, new_release, approved_change, make_ci, make_incident
):
    from accord.cmdb.models import ConfigurationItem, LiveChange

    change = approved_change()
    ci = make_ci("relay-app", customers=[world.customer_a], version="1.9")
    release = new_release(changes=[change])
    client = api_as(world.agent_a)
    url = f"{URL}{release.pk}"

    def post(action, body, who=client):
        return who.post(f"{url}/{action}/", body, format="json")

    def version():
        return Release.objects.get(pk=release.pk).version

    # The plan: a stage ending before it starts is refused on the field.
    bad = post("stages", {"kind": "build", "starts_on": "2026-12-05", "ends_on": "2026-12-01"})
    assert bad.status_code == 400 and "ends_on" in bad.json()
    body = post(
        "stages",
        {"kind": "rollout", "target": "HQ", "starts_on": "2026-12-01", "ends_on": "2026-12-02"},
    ).json()
    assert body["stages"][0]["target"] == "HQ"
    assert post("criteria", {"text": "Mail flows", "approver": "nobody"}).status_code == 400
    body = post("criteria", {"text": "Mail flows", "approver": world.manager_a.username}).json()
    criterion = body["criteria"][0]["id"]
    # A deployment names a CI and a change the caller may see, of this release.
    assert (
        post(
            "deployments",
            {"ci": "no-such-ci", "change": change.number, "planned_for": "2026-12-01T22:00"},
        ).status_code
        == 400
    )
    body = post(
        "deployments",
        {"ci": "relay-app", "change": change.number.lower(), "planned_for": "2026-12-01T22:00:00Z"},
    ).json()
    [row] = body["deployments"]
    assert row["ci_name"] == "relay-app" and row["status"] == "planned"
    # Going live before acceptance is refused; nothing is written to the CI.
    refused = post("deployment", {"deployment": row["id"], "step": "done"})
    assert refused.status_code == 400 and "not accepted" in str(refused.json())
    assert ConfigurationItem.objects.get(pk=ci.pk).attributes["version"] == "1.9"
    for name in ("start_build", "start_test", "start_acceptance"):
        assert post("transition", {"name": name, "version": version()}).status_code == 200
    manager = api_as(world.manager_a)
    signed = post("sign_off", {"criterion": criterion, "decision": "approve"}, manager)
    assert signed.status_code == 200
    assert post("transition", {"name": "accept", "version": version()}).status_code == 200
    body = post("deployment", {"deployment": row["id"], "step": "done", "note": "ok"}).json()
    assert body["deployments"][0]["status"] == "done" and body["status"] == "deploying"
    assert ConfigurationItem.objects.get(pk=ci.pk).attributes["version"] == "2.0"
    assert LiveChange.objects.filter(ci=ci, change_reference=change.number).exists()
    assert post("deployment", {"deployment": row["id"], "step": "fly"}).status_code == 400
    assert post("transition", {"name": "mark_deployed", "version": version()}).status_code == 200
    # The review: an incident linked by hand (one of another customer is not found).
    mine = make_incident(customer=world.customer_a)
    theirs = make_incident(customer=world.customer_b)
    assert post("incidents", {"incident": theirs.number}).status_code == 400
    assert post("incidents", {"incident": mine.number}).json()["incidents"] == [mine.number]
    assert post("review", {"review_notes": "", "version": version()}).status_code == 400
    body = post("review", {"review_notes": "Quiet roll-out.", "version": version()}).json()
    assert body["status"] == ReleaseStatus.REVIEWED and body["review_notes"] == "Quiet roll-out."
    # Another customer's agent finds nothing of that customer's release.
    alpha = new_release(customers=[world.customer_a])
    for action in ("stages", "criteria", "deployments", "deployment", "incidents", "review"):
        r = api_as(world.agent_b).post(f"{URL}{alpha.pk}/{action}/", {}, format="json")
        assert r.status_code == 404, action


def test_the_api_names_only_customers_the_caller_serves(world, api_as, new_release):
    release = new_release(user=world.admin, customers=[world.customer_a, world.customer_b])
    body = api_as(world.agent_a).get(f"{URL}{release.pk}/").json()
    assert body["customers"] == [world.customer_a.pk]
    listed = api_as(world.agent_a).get(URL).json()["results"]
    assert [r["customers"] for r in listed] == [[world.customer_a.pk]]
    body = api_as(world.admin).get(f"{URL}{release.pk}/").json()
    assert sorted(body["customers"]) == sorted([world.customer_a.pk, world.customer_b.pk])


def test_the_list_costs_the_same_queries_for_more_releases(
    world, api_as, new_release, approved_change, make_ci, make_incident
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = api_as(world.agent_a)

    def one(n):
        change = approved_change()
        release = new_release(changes=[change], customers=[world.customer_a])
        ci = make_ci(f"app-{n}", customers=[world.customer_a], version="1.0")
        with acting_as(world.agent_a, "test"):
            deployments.plan_deployment(
                release, world.agent_a, ci=ci, change=change, planned_for=change.planned_start
            )
            releases.add_criterion(release, world.agent_a, text="Works", approver=world.manager_a)
        ReleaseIncident.objects.create(release=release, incident=make_incident())

    one(0)
    with CaptureQueriesContext(connection) as few:
        first = client.get(URL).json()["results"]
    for n in range(1, 5):
        one(n)
    with CaptureQueriesContext(connection) as many:
        rows = client.get(URL).json()["results"]
    assert len(rows) == 5 and len(first) == 1
    assert all(r["changes"] and r["deployments"][0]["ci_name"] and r["incidents"] for r in rows)
    assert len(many.captured_queries) == len(few.captured_queries)
