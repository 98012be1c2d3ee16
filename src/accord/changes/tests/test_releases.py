"""Release management's rules: the lifecycle and its refusals, acceptance sign-off by
the named approvers, deployments authorised by the release's changes writing the CI's
version to the CMDB (and rolling it back), and the incidents linked to the
post-release review by the worker (window and scope)."""

import datetime

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from accord.changes import actions, deployments, releases
from accord.changes.choices import Decision, DeploymentStatus, ReleaseStatus
from accord.changes.models import Release, ReleaseIncident
from accord.core.context import acting_as
from accord.core.models import JournalEntry

H = datetime.timedelta(hours=1)
DAY = datetime.timedelta(days=1)


def go(release, user, *names, **kwargs):
    with acting_as(user, "test"):
        for name in names:
            release = releases.transition(Release.objects.get(pk=release.pk), user, name, **kwargs)
    return release


def accepted(world, release):
    """Through build and test into acceptance, signed off, accepted."""
    release = go(release, world.agent_a, "start_build", "start_test", "start_acceptance")
    with acting_as(world.agent_a, "test"):
        criterion = releases.add_criterion(
            release, world.agent_a, text="Mail flows", approver=world.manager_a
        )
    with acting_as(world.manager_a, "test"):
        releases.sign_off(release, world.manager_a, criterion.pk, Decision.APPROVE)
    return go(release, world.agent_a, "accept")


def journal_of(record):
    from django.contrib.contenttypes.models import ContentType

    return list(
        JournalEntry.objects.filter(
            content_type=ContentType.objects.get_for_model(type(record)), object_id=record.pk
        ).values_list("body", flat=True)
    )


def fresh(record):
    return type(record).objects.get(pk=record.pk)


# --- lifecycle -------------------------------------------------------------------------------
def test_the_lifecycle_in_order_with_the_steps_journalled(
    world, new_release, approved_change, make_ci
):
    change = approved_change()
    release = new_release(changes=[change])
    assert release.number.startswith("REL") and release.status == ReleaseStatus.PLANNED
    with pytest.raises(ValidationError) as exc:
        go(release, world.agent_a, "start_test")
    assert "not possible while the release is planned" in str(exc.value)
    release = go(release, world.agent_a, "start_build", "start_test", "start_acceptance")
    # Accepted only with at least one criterion, all approved.
    with pytest.raises(ValidationError) as exc:
        go(release, world.agent_a, "accept")
    assert "at least one acceptance criterion" in str(exc.value)
    with acting_as(world.agent_a, "test"):
        first = releases.add_criterion(
            release, world.agent_a, text="Mail flows", approver=world.manager_a
        )
        second = releases.add_criterion(
            release, world.agent_a, text="Spam caught", approver=world.owner
        )
    with acting_as(world.manager_a, "test"):
        releases.sign_off(release, world.manager_a, first.pk, Decision.APPROVE, comment="fine")
    with pytest.raises(ValidationError) as exc:
        go(release, world.agent_a, "accept")
    assert "Spam caught (owner)" in str(exc.value)
    with acting_as(world.owner, "test"):
        releases.sign_off(release, world.owner, second.pk, Decision.APPROVE)
    release = go(release, world.agent_a, "accept")
    assert release.status == ReleaseStatus.ACCEPTED and release.accepted_at is not None
    ci = make_ci("Mail relay", version="1.9")
    with acting_as(world.agent_a, "test"):
        deployment = deployments.plan_deployment(
            release, world.agent_a, ci=ci, change=change, planned_for=timezone.now()
        )
    release = go(release, world.agent_a, "start_deployment")
    with pytest.raises(ValidationError) as exc:
        go(release, world.agent_a, "mark_deployed")
    assert "still planned on Mail relay" in str(exc.value)
    with acting_as(world.agent_a, "test"):
        deployments.complete_deployment(release, world.agent_a, deployment.pk)
    release = go(release, world.agent_a, "mark_deployed")
    assert release.status == ReleaseStatus.DEPLOYED and release.deployed_at is not None
    with pytest.raises(ValidationError) as exc, acting_as(world.agent_a, "test"):
        releases.review(release, world.agent_a, "  ")
    assert "review_notes" in exc.value.message_dict
    with acting_as(world.agent_a, "test"):
        release = releases.review(release, world.agent_a, "Went as planned.")
    assert release.status == ReleaseStatus.REVIEWED and release.reviewed_at is not None
    events = journal_of(release)
    for status in ("Build", "Test", "Acceptance", "Accepted", "Deploying", "Deployed"):
        assert f"Status changed to {status}." in events
    assert "Post-release review done; the release is complete." in events
    # The history keeps every status the release went through.
    from accord.core.models import ObjectChange

    statuses = [
        c.changes["status"][1]
        for c in ObjectChange.objects.filter(object_id=release.pk, action="update").order_by("pk")
        if "status" in c.changes and c.content_type.model == "release"
    ]
    assert statuses == [
        "build",
        "test",
        "acceptance",
        "accepted",
        "deploying",
        "deployed",
        "reviewed",
    ]


def test_cancelled_before_deploying_only_and_with_a_reason(world, new_release):
    release = new_release()
    with pytest.raises(ValidationError) as exc:
        go(release, world.agent_a, "cancel")
    assert "note" in exc.value.message_dict
    release = go(release, world.agent_a, "cancel", note="Superseded by 2.1")
    assert release.status == ReleaseStatus.CANCELLED
    assert "Status changed to Cancelled. Superseded by 2.1" in journal_of(release)
    other = accepted(world, new_release())
    other = go(other, world.agent_a, "start_deployment")
    with pytest.raises(ValidationError) as exc:
        go(other, world.agent_a, "cancel", note="too late")
    assert "not possible while the release is deploying" in str(exc.value)


def test_a_release_cannot_be_deployed_before_acceptance(
    world, new_release, approved_change, make_ci
):
    change = approved_change()
    release = go(new_release(changes=[change]), world.agent_a, "start_build")
    with pytest.raises(ValidationError) as exc:
        go(release, world.agent_a, "start_deployment")
    assert "not accepted yet" in str(exc.value)
    ci = make_ci("Mail relay", version="1.9")
    with acting_as(world.agent_a, "test"):
        deployment = deployments.plan_deployment(
            release, world.agent_a, ci=ci, change=change, planned_for=timezone.now()
        )
        with pytest.raises(ValidationError) as exc:
            deployments.complete_deployment(release, world.agent_a, deployment.pk)
    assert "not accepted yet" in str(exc.value)
    assert fresh(deployment).status == DeploymentStatus.PLANNED
    assert fresh(ci).attributes["version"] == "1.9"
    assert fresh(release).status == ReleaseStatus.BUILD


def test_only_the_named_approver_signs_off_and_a_rejection_needs_a_comment(world, new_release):
    release = go(new_release(), world.agent_a, "start_build", "start_test")
    with acting_as(world.agent_a, "test"):
        criterion = releases.add_criterion(
            release, world.agent_a, text="Load test passed", approver=world.manager_a
        )
        # An approver must be staff who can see the release.
        with pytest.raises(ValidationError) as exc:
            releases.add_criterion(release, world.agent_a, text="x", approver=world.customer_user_a)
    assert "approver" in exc.value.message_dict
    # Not yet in acceptance.
    with acting_as(world.manager_a, "test"), pytest.raises(ValidationError) as exc:
        releases.sign_off(release, world.manager_a, criterion.pk, Decision.APPROVE)
    assert "in acceptance" in str(exc.value)
    release = go(release, world.agent_a, "start_acceptance")
    with acting_as(world.agent_a, "test"), pytest.raises(PermissionDenied) as denied:
        releases.sign_off(release, world.agent_a, criterion.pk, Decision.APPROVE)
    assert "Only manager_a, the named approver" in str(denied.value)
    with acting_as(world.manager_a, "test"), pytest.raises(ValidationError) as exc:
        releases.sign_off(release, world.manager_a, criterion.pk, Decision.REJECT, comment=" ")
    assert "comment" in exc.value.message_dict
    assert fresh(criterion).decision == Decision.PENDING
    with acting_as(world.manager_a, "test"):
        releases.sign_off(
            release, world.manager_a, criterion.pk, Decision.REJECT, comment="Too slow"
        )
    with pytest.raises(ValidationError) as exc:
        go(release, world.agent_a, "accept")
    assert "Rejected: Load test passed" in str(exc.value)
    # Back to build: the new build is signed off afresh.
    release = go(release, world.agent_a, "rebuild", note="Tune the queue")
    assert fresh(criterion).decision == Decision.PENDING and fresh(criterion).comment == ""
    assert release.status == ReleaseStatus.BUILD


def test_stage_dates_reversed_are_refused_naming_the_field(world, new_release):
    release = new_release()
    today = timezone.localdate()
    with acting_as(world.agent_a, "test"):
        with pytest.raises(ValidationError) as exc:
            releases.add_stage(
                release, world.agent_a, kind="build", starts_on=today, ends_on=today - DAY
            )
        assert exc.value.message_dict == {"ends_on": ["The stage can't end before it starts."]}
        assert not release.stages.exists()
        stage = releases.add_stage(
            release,
            world.agent_a,
            kind="rollout",
            target="Head office",
            starts_on=today,
            ends_on=today,
        )
        releases.complete_stage(release, world.agent_a, stage.pk)
        with pytest.raises(ValidationError):
            releases.remove_stage(release, world.agent_a, stage.pk)
    assert fresh(stage).done_at is not None
    assert "Stage planned: Roll-out Head office" in " ".join(journal_of(release))


def test_an_auditor_or_a_customer_cannot_write(world, new_release):
    release = new_release()
    with acting_as(world.auditor, "test"), pytest.raises(PermissionDenied):
        releases.transition(release, world.auditor, "start_build")
    with acting_as(world.customer_user_a, "test"), pytest.raises(PermissionDenied):
        releases.create_release(
            world.customer_user_a,
            {"short_description": "x", "release_version": "1", "kind": "minor"},
            services=[world.service],
        )
    with acting_as(world.agent_a, "test"), pytest.raises(ValidationError) as exc:
        releases.create_release(
            world.agent_a,
            {"short_description": "x", "release_version": "1", "kind": "minor"},
            services=[],
        )
    assert "services" in exc.value.message_dict


def test_an_agent_cannot_act_on_another_customers_release(world, new_release):
    release = new_release(user=world.admin, customers=[world.customer_b])
    with acting_as(world.agent_a, "test"), pytest.raises(PermissionDenied):
        releases.transition(release, world.agent_a, "start_build")
    assert fresh(release).status == ReleaseStatus.PLANNED


# --- deployments ----------------------------------------------------------------------------------
def test_go_live_writes_the_version_with_the_authorising_change_and_rolls_back(
    world, new_release, approved_change, make_ci
):
    from accord.cmdb.models import LiveChange

    change = approved_change()
    release = accepted(world, new_release(changes=[change], release_version="2.0"))
    ci = make_ci("Mail relay", version="1.9", vendor="Acme")
    with acting_as(world.agent_a, "test"):
        deployment = deployments.plan_deployment(
            release, world.agent_a, ci=ci, change=change, planned_for=timezone.now()
        )
        deployments.complete_deployment(release, world.agent_a, deployment.pk, note="smooth")
    deployment = fresh(deployment)
    assert deployment.status == DeploymentStatus.DONE and deployment.done_at is not None
    assert deployment.previous_version == "1.9"
    assert fresh(ci).attributes == {"version": "2.0", "vendor": "Acme"}
    assert fresh(release).status == ReleaseStatus.DEPLOYING  # the first go-live starts it
    live = LiveChange.objects.get(ci=ci)
    assert (live.change_reference, live.summary) == (change.number, "Changed: attributes")
    assert any(
        f"deployed under {change.number}: version 1.9 → 2.0" in body for body in journal_of(ci)
    )
    with acting_as(world.agent_a, "test"):
        with pytest.raises(ValidationError) as exc:
            deployments.roll_back(release, world.agent_a, deployment.pk, note="")
        assert "note" in exc.value.message_dict
        deployments.roll_back(release, world.agent_a, deployment.pk, note="Queue stalls")
    assert fresh(deployment).status == DeploymentStatus.ROLLED_BACK
    assert fresh(ci).attributes["version"] == "1.9"
    assert [lc.change_reference for lc in LiveChange.objects.filter(ci=ci)] == [change.number] * 2
    assert any("rolled back under" in body for body in journal_of(ci))


def test_roll_back_is_refused_when_the_ci_changed_since(
    world, new_release, approved_change, make_ci
):
    from accord.cmdb import actions as cmdb_actions

    change = approved_change()
    release = accepted(world, new_release(changes=[change]))
    ci = make_ci("Mail relay", version="1.9")
    with acting_as(world.agent_a, "test"):
        deployment = deployments.plan_deployment(
            release, world.agent_a, ci=ci, change=change, planned_for=timezone.now()
        )
        deployments.complete_deployment(release, world.agent_a, deployment.pk)
        ci = fresh(ci)
        ci.attributes = {"version": "2.0.1"}
        cmdb_actions.save_ci(ci, change_reference="CHG0000999")
        with pytest.raises(ValidationError) as exc:
            deployments.roll_back(release, world.agent_a, deployment.pk, note="undo")
    assert "now at version 2.0.1" in str(exc.value)
    assert fresh(deployment).status == DeploymentStatus.DONE


def test_a_ci_without_a_version_attribute_is_journalled_only(
    world, new_release, approved_change, make_ci
):
    from accord.cmdb.models import LiveChange

    change = approved_change()
    release = accepted(world, new_release(changes=[change]))
    server = make_ci("srv-01", kind="server", hostname="srv01")
    with acting_as(world.agent_a, "test"):
        deployment = deployments.plan_deployment(
            release, world.agent_a, ci=server, change=change, planned_for=timezone.now()
        )
        deployments.complete_deployment(release, world.agent_a, deployment.pk)
    assert fresh(deployment).status == DeploymentStatus.DONE
    assert fresh(server).attributes == {"hostname": "srv01"}
    assert not LiveChange.objects.filter(ci=server).exists()
    assert any("its type keeps no version" in body for body in journal_of(server))


def test_the_authorising_change_must_be_the_releases_and_cleared(
    world, new_release, approved_change, make_ci
):
    mine = approved_change()
    draft = approved_change(approved=False)
    stranger = approved_change()
    release = new_release(changes=[mine, draft])
    ci = make_ci("Mail relay", version="1.9")
    now = timezone.now()
    with acting_as(world.agent_a, "test"):
        with pytest.raises(ValidationError) as exc:
            deployments.plan_deployment(
                release, world.agent_a, ci=ci, change=stranger, planned_for=now
            )
        assert exc.value.message_dict == {
            "change": [f"{stranger.number} is not one of this release's changes."]
        }
        with pytest.raises(ValidationError) as exc:
            deployments.plan_deployment(
                release, world.agent_a, ci=ci, change=draft, planned_for=now
            )
        assert f"{draft.number} is draft" in exc.value.message_dict["change"][0]
        deployment = deployments.plan_deployment(
            release, world.agent_a, ci=ci, change=mine, planned_for=now
        )
        with pytest.raises(ValidationError) as exc:
            deployments.plan_deployment(release, world.agent_a, ci=ci, change=mine, planned_for=now)
        assert "already has a deployment on Mail relay" in str(exc.value)
        # A change that authorises a deployment stays on the release.
        with pytest.raises(ValidationError) as exc:
            releases.update_release(fresh(release), world.agent_a, {}, changes=[draft])
        assert mine.number in exc.value.message_dict["changes"][0]
    assert list(fresh(release).changes.order_by("pk")) == [mine, draft]
    # Cancelled since: it no longer authorises the go-live, and nothing is written.
    release = accepted(world, release)
    with acting_as(world.agent_a, "test"):
        actions.transition(fresh(mine), world.agent_a, "cancel", note="replaced")
        with pytest.raises(ValidationError) as exc:
            deployments.complete_deployment(release, world.agent_a, deployment.pk)
    assert "is cancelled" in str(exc.value)
    assert fresh(ci).attributes["version"] == "1.9"
    assert fresh(deployment).status == DeploymentStatus.PLANNED
    assert fresh(release).status == ReleaseStatus.ACCEPTED


def test_mark_deployed_needs_one_done_and_none_planned(
    world, new_release, approved_change, make_ci
):
    change = approved_change()
    release = accepted(world, new_release(changes=[change]))
    a, b = make_ci("app-a", version="1"), make_ci("app-b", version="1")
    with acting_as(world.agent_a, "test"):
        da = deployments.plan_deployment(
            release, world.agent_a, ci=a, change=change, planned_for=timezone.now()
        )
        db_ = deployments.plan_deployment(
            release, world.agent_a, ci=b, change=change, planned_for=timezone.now()
        )
    release = go(release, world.agent_a, "start_deployment")
    with acting_as(world.agent_a, "test"):
        with pytest.raises(ValidationError) as exc:
            deployments.fail_deployment(release, world.agent_a, da.pk, note="")
        assert "note" in exc.value.message_dict
        deployments.fail_deployment(release, world.agent_a, da.pk, note="disk full")
    with pytest.raises(ValidationError) as exc:
        go(release, world.agent_a, "mark_deployed")
    assert "still planned on app-b" in str(exc.value)
    with acting_as(world.agent_a, "test"):
        deployments.fail_deployment(release, world.agent_a, db_.pk, note="disk full")
    with pytest.raises(ValidationError) as exc:
        go(release, world.agent_a, "mark_deployed")
    assert "No deployment of this release is done" in str(exc.value)
    with acting_as(world.agent_a, "test"):
        deployments.complete_deployment(release, world.agent_a, da.pk)  # retried
    release = go(release, world.agent_a, "mark_deployed")
    assert release.status == ReleaseStatus.DEPLOYED
    assert fresh(a).attributes["version"] == "2.0" and fresh(b).attributes["version"] == "1"


# --- post-release review --------------------------------------------------------------------------
@pytest.fixture
def deployed(world, new_release, approved_change, make_ci):
    """A release deployed on a CI of customer A, on the shared Email service."""
    change = approved_change()
    release = accepted(world, new_release(changes=[change], review_days=7))
    ci = make_ci("Alpha app", customers=[world.customer_a], version="1")
    with acting_as(world.agent_a, "test"):
        deployment = deployments.plan_deployment(
            release, world.agent_a, ci=ci, change=change, planned_for=timezone.now()
        )
        deployments.complete_deployment(release, world.agent_a, deployment.pk)
    release = go(release, world.agent_a, "mark_deployed")
    return release, ci


def _at(incident, moment):
    type(incident).objects.filter(pk=incident.pk).update(created=moment)


def test_the_job_links_incidents_of_the_window_on_services_and_cis(
    world, deployed, make_incident, new_release
):
    from accord.changes.tasks import link_release_incidents_job
    from accord.cmdb import actions as cmdb_actions

    release, ci = deployed
    start = release.deployed_at
    on_service_b = make_incident(customer=world.customer_b, service=world.service)
    on_ci = make_incident(short_description="App slow")
    with acting_as(world.admin, "test"):
        cmdb_actions.link_record(ci, on_ci, world.admin)
    before = make_incident(service=world.service)
    at_end = make_incident(service=world.service)
    last_second = make_incident(service=world.service)
    elsewhere = make_incident(customer=world.customer_b, service=world.service_b_only)
    _at(on_service_b, start)  # the window includes its start
    _at(on_ci, start + 3 * DAY)
    _at(before, start - datetime.timedelta(seconds=1))
    _at(at_end, start + 7 * DAY)  # and ends before its end
    _at(last_second, start + 7 * DAY - datetime.timedelta(seconds=1))
    _at(elsewhere, start + DAY)
    # A release still deploying is not linked yet.
    other = new_release()
    link_release_incidents_job.call_local()
    linked = set(
        ReleaseIncident.objects.filter(release=release).values_list("incident_id", flat=True)
    )
    assert linked == {on_service_b.pk, on_ci.pk, last_second.pk}
    assert not ReleaseIncident.objects.filter(release=other).exists()
    assert all(link.automatic for link in ReleaseIncident.objects.all())
    # Safe to repeat.
    link_release_incidents_job.call_local()
    assert ReleaseIncident.objects.filter(release=release).count() == 3


def test_review_brings_the_incidents_up_to_date_and_hand_links_stay(world, deployed, make_incident):
    release, _ci = deployed
    late = make_incident(service=world.service)
    by_hand = make_incident(customer=world.customer_a, short_description="Odd bounce")
    _at(by_hand, release.deployed_at - 10 * DAY)
    with acting_as(world.agent_a, "test"):
        releases.link_incident(release, world.agent_a, by_hand)
        with pytest.raises(ValidationError):
            releases.link_incident(release, world.agent_a, by_hand)
        release = releases.review(release, world.agent_a, "Two incidents after roll-out.")
    links = {
        link.incident_id: link.automatic for link in ReleaseIncident.objects.filter(release=release)
    }
    assert links == {late.pk: True, by_hand.pk: False}
    # The journal of the release names no incident number.
    assert not any(by_hand.number in body for body in journal_of(release))


def test_staff_link_only_incidents_they_may_see(world, deployed, make_incident):
    release, _ci = deployed
    beta = make_incident(customer=world.customer_b, short_description="Beta")
    with acting_as(world.agent_a, "test"), pytest.raises(ValidationError) as exc:
        releases.link_incident(release, world.agent_a, beta)
    assert "incident" in exc.value.message_dict
    assert not ReleaseIncident.objects.exists()


# --- release policy -------------------------------------------------------------------------------
def test_the_release_policy_is_written_by_administrators_and_owners_with_history(world):
    from accord.core.models import ObjectChange
    from accord.core.records import StaleRecordError

    text = {
        "frequency": "Monthly",
        "kinds": "Minor only",
        "naming": "YYYY.MM",
        "rollback": "Restore",
    }
    with acting_as(world.agent_a, "test"), pytest.raises(PermissionDenied):
        releases.save_policy(world.service, world.agent_a, text)
    with acting_as(world.auditor, "test"), pytest.raises(PermissionDenied):
        releases.save_policy(world.service, world.auditor, text)
    with acting_as(world.owner, "test"), pytest.raises(ValidationError) as exc:
        releases.save_policy(world.service, world.owner, {**text, "rollback": " "})
    assert "rollback" in exc.value.message_dict
    with acting_as(world.owner, "test"):
        policy = releases.save_policy(world.service, world.owner, text)
    with acting_as(world.admin, "test"):
        policy = releases.save_policy(
            world.service, world.admin, {**text, "frequency": "Weekly"}, expected_version=1
        )
        with pytest.raises(StaleRecordError):
            releases.save_policy(world.service, world.admin, text, expected_version=1)
    assert policy.frequency == "Weekly" and policy.version == 2
    rows = ObjectChange.objects.filter(object_id=policy.pk, content_type__model="releasepolicy")
    assert [r.action for r in rows.order_by("pk")] == ["create", "update"]
    assert rows.order_by("pk").last().changes == {"frequency": ["Monthly", "Weekly"]}


def test_a_release_names_only_customers_the_user_serves(world, new_release):
    with pytest.raises(ValidationError) as exc:
        new_release(customers=[world.customer_b])
    assert exc.value.message_dict == {"customers": ["You do not serve Beta plc."]}
    release = new_release(user=world.admin, customers=[world.customer_a, world.customer_b])
    with acting_as(world.agent_b, "test"):
        # Customer A stays on the release although agent B does not serve it.
        releases.update_release(
            release, world.agent_b, {}, customers=[world.customer_a, world.customer_b]
        )
    assert set(fresh(release).customers.all()) == {world.customer_a, world.customer_b}
    beta_only = new_release(user=world.admin, customers=[world.customer_b])
    with acting_as(world.agent_b, "test"), pytest.raises(ValidationError) as exc:
        releases.update_release(
            beta_only, world.agent_b, {}, customers=[world.customer_a, world.customer_b]
        )
    assert exc.value.message_dict == {"customers": ["You do not serve Alpha Ltd."]}
    assert list(fresh(beta_only).customers.all()) == [world.customer_b]


def test_the_release_journal_names_a_ci_only_if_all_its_readers_may_see_it(
    world, new_release, approved_change, make_ci
):
    # A release of no customer is read by all staff; Alpha's CI is not seen by Beta's.
    change = approved_change()
    release = accepted(world, new_release(changes=[change]))
    alpha_ci = make_ci("alphasecret-app", customers=[world.customer_a], version="1.0")
    shared_ci = make_ci("shared-app", version="1.0")
    with acting_as(world.agent_a, "test"):
        for ci in (alpha_ci, shared_ci):
            deployment = deployments.plan_deployment(
                release, world.agent_a, ci=ci, change=change, planned_for=timezone.now()
            )
            deployments.complete_deployment(release, world.agent_a, deployment.pk)
    text = " ".join(journal_of(release))
    assert "alphasecret" not in text
    assert "Deployed on one of the configuration items under" in text
    assert "Deployed on shared-app under" in text


def test_a_sign_off_read_before_a_rebuild_is_refused(world, new_release):
    """Two users at once: the approver's page was read in acceptance, then the release
    went back to build; the late sign-off must not approve the new build."""
    release = go(new_release(), world.agent_a, "start_build", "start_test", "start_acceptance")
    with acting_as(world.agent_a, "test"):
        criterion = releases.add_criterion(
            release, world.agent_a, text="Mail flows", approver=world.manager_a
        )
    seen_by_approver = Release.objects.get(pk=release.pk)
    go(release, world.agent_a, "rebuild", note="New build")
    with acting_as(world.manager_a, "test"), pytest.raises(ValidationError) as exc:
        releases.sign_off(seen_by_approver, world.manager_a, criterion.pk, Decision.APPROVE)
    assert "in acceptance" in str(exc.value)
    assert fresh(criterion).decision == Decision.PENDING


def test_a_planned_deployment_stays_once_the_roll_out_is_over(
    world, new_release, approved_change, make_ci
):
    """A deployment is removed from the plan only while the release is planned; one read
    before the release was cancelled is not removed afterwards."""
    change = approved_change()
    release = go(new_release(changes=[change]), world.agent_a, "start_build")
    ci = make_ci("Mail relay", version="1.9")
    with acting_as(world.agent_a, "test"):
        deployment = deployments.plan_deployment(
            release, world.agent_a, ci=ci, change=change, planned_for=timezone.now()
        )
    stale = Release.objects.get(pk=release.pk)
    go(release, world.agent_a, "cancel", note="Dropped")
    with acting_as(world.agent_a, "test"), pytest.raises(ValidationError) as exc:
        deployments.remove_deployment(stale, world.agent_a, deployment.pk)
    assert "can no longer change" in str(exc.value)
    assert fresh(deployment).status == DeploymentStatus.PLANNED


def test_only_a_roll_out_under_way_records_a_failed_deployment(
    world, new_release, approved_change, make_ci
):
    change = approved_change()
    release = go(new_release(changes=[change]), world.agent_a, "start_build")
    with acting_as(world.agent_a, "test"):
        deployment = deployments.plan_deployment(
            release, world.agent_a, ci=make_ci("relay"), change=change, planned_for=timezone.now()
        )
        with pytest.raises(ValidationError) as exc:
            deployments.fail_deployment(release, world.agent_a, deployment.pk, note="disk full")
    assert "not being rolled out" in str(exc.value)
    assert fresh(deployment).status == DeploymentStatus.PLANNED


def test_customers_that_would_hide_the_release_from_an_approver_are_refused(world, new_release):
    release = new_release(user=world.admin, customers=[world.customer_a])
    with acting_as(world.admin, "test"):
        releases.add_criterion(release, world.admin, text="Mail flows", approver=world.manager_a)
        with pytest.raises(ValidationError) as exc:
            releases.update_release(
                Release.objects.get(pk=release.pk), world.admin, {}, customers=[world.customer_b]
            )
    assert "manager_a" in str(exc.value.message_dict["customers"])
    assert list(Release.objects.get(pk=release.pk).customers.all()) == [world.customer_a]
    # Adding a customer keeps the approver's own: allowed.
    with acting_as(world.admin, "test"):
        releases.update_release(
            Release.objects.get(pk=release.pk),
            world.admin,
            {},
            customers=[world.customer_a, world.customer_b],
        )
    assert Release.objects.get(pk=release.pk).customers.count() == 2
