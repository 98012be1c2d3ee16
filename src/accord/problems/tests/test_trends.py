"""Trend analysis: clusters of each kind among incidents without a problem, in the
run's window; what each user sees of them; raising a problem from one; runs started
from the page and by the schedule; refused settings."""

import datetime

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse
from django.utils import timezone

from accord.cmdb import actions as cmdb_actions
from accord.cmdb.models import CILink, CIType, ConfigurationItem
from accord.core.context import acting_as
from accord.incidents.models import Category, Incident
from accord.problems import actions, clusters, trends
from accord.problems.choices import ClusterKind, Origin
from accord.problems.models import Problem, ProblemIncident, TrendCluster, TrendRun


@pytest.fixture(autouse=True)
def _no_cached_parts():
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def incidents(world, make_incident):
    """make(n, days_ago=10, **fields) -> n incidents logged ``days_ago`` days ago."""

    def make(n, days_ago=10, **fields):
        made = []
        for i in range(n):
            incident = make_incident(**fields)
            at = timezone.now() - datetime.timedelta(days=days_ago, minutes=i)
            Incident.objects.filter(pk=incident.pk).update(created=at)
            incident.created = at
            made.append(incident)
        return made

    return make


def run(user=None, window_days=90, min_count=3, django_capture_on_commit_callbacks=None):
    """A run started as from the page and analysed as the worker does."""
    with acting_as(user, "test"):
        started = trends.start_run(user, window_days=window_days, min_count=min_count)
    trends.run_trends(started.pk)
    started.refresh_from_db()
    assert started.state == TrendRun.State.DONE, started.error
    return started


def stored(run_, kind=None):
    """The run's stored clusters by key."""
    rows = TrendCluster.objects.filter(run=run_)
    if kind:
        rows = rows.filter(kind=kind)
    return {c.key: c for c in rows}


def test_words_make_an_explainable_signature():
    assert trends.words("VPN client keeps disconnecting (3rd time!)") == (
        "client",
        "disconnecting",
        "keep",
        "time",
        "vpn",
    )
    # Numbers, punctuation, one-letter and common words go; plurals lose their "s".
    assert trends.words("The printers on floor 3 are NOT working - error 0x80070005") == (
        "floor",
        "printer",
    )
    assert trends.words("") == ()


def test_clusters_by_service_category_ci_and_similar_words(world, incidents):
    ensure = __import__("accord.cmdb.testing", fromlist=["x"]).ensure_starting_types
    ensure()
    network = Category.objects.create(name="Network")
    with acting_as(world.admin, "test"):
        ci = ConfigurationItem(name="vpn-gw-01", ci_type=CIType.objects.get(key="server"))
        cmdb_actions.save_ci(ci, customers=[world.customer_a])
    on_service = incidents(3, service=world.service, short_description="Mailbox full")
    in_category = incidents(3, category=network, short_description="Switch port flapping")
    on_ci = incidents(3, short_description="Gateway reboot loop")
    for incident in on_ci:
        with acting_as(world.admin, "test"):
            cmdb_actions.link_record(ci, incident, world.admin)
    texts = incidents(2, short_description="VPN client keeps disconnecting every 5 minutes")
    texts += incidents(1, short_description="vpn CLIENT keeps disconnecting!!")
    incidents(2, short_description="Printer jammed")  # too few
    result = run(world.admin)

    service = stored(result, ClusterKind.SERVICE)
    assert set(service) == {str(world.service.pk)}
    assert service[str(world.service.pk)].count == 3
    assert service[str(world.service.pk)].label == "Email"
    assert {m[0] for m in service[str(world.service.pk)].members} == {i.pk for i in on_service}

    category = stored(result, ClusterKind.CATEGORY)[str(network.pk)]
    assert category.count == 3 and category.label == "Network"
    assert sorted(m[0] for m in category.members) == sorted(i.pk for i in in_category)

    by_ci = stored(result, ClusterKind.CI)[str(ci.pk)]
    assert by_ci.count == 3 and by_ci.label == "vpn-gw-01"

    text = stored(result, ClusterKind.TEXT)
    # "mailbox full", "switch port flapping" and "gateway reboot loop" are three each
    # as well; the VPN ones share a signature despite case, numbers and punctuation.
    # Four words are in all three (as rare as each other): the first three
    # alphabetically make the signature.
    vpn = text["client disconnecting keep"]
    assert vpn.label.startswith("client disconnecting keep — e.g. “VPN client keeps")
    assert sorted(m[0] for m in vpn.members) == sorted(i.pk for i in texts)
    assert not any("printer" in key for key in text)
    # Impact score: medium impact (2) counts 2 per incident.
    assert vpn.impact_score == 6
    assert result.incidents_scanned == 3 + 3 + 3 + 3 + 2
    assert vpn.first_seen <= vpn.last_seen


def test_ranked_by_count_then_impact(world, incidents):
    incidents(4, short_description="Scanner offline", impact=3)
    incidents(3, short_description="Badge reader dead", impact=1)
    incidents(3, short_description="Kiosk frozen", impact=3)
    result = run(world.admin)
    text = sorted(
        TrendCluster.objects.filter(run=result, kind=ClusterKind.TEXT),
        key=lambda c: (-c.count, -c.impact_score),
    )
    assert [(c.count, c.impact_score) for c in text] == [(4, 4), (3, 9), (3, 3)]
    assert [v.cluster.pk for v in clusters.visible_clusters(result, world.admin, "text")] == [
        c.pk for c in text
    ]


def test_incidents_with_a_problem_or_cancelled_are_left_out(world, incidents):
    linked = incidents(4, service=world.service, short_description="Mail slow")
    with acting_as(world.admin, "test"):
        actions.create_problem(
            world.admin,
            {"short_description": "Slow mail", "impact": 2, "urgency": 2},
            incidents=linked[:2],
        )
    Incident.objects.filter(pk=linked[2].pk).update(status="cancelled")
    result = run(world.admin)
    assert result.incidents_scanned == 1
    assert not TrendCluster.objects.filter(run=result).exists()


def test_the_window_is_respected(world, incidents):
    incidents(2, days_ago=10, short_description="Disk quota exceeded")
    incidents(2, days_ago=100, short_description="Disk quota exceeded")
    assert run(world.admin, window_days=90).incidents_scanned == 2
    assert not TrendCluster.objects.filter(kind=ClusterKind.TEXT).exists()
    wider = run(world.admin, window_days=120)
    assert wider.incidents_scanned == 4
    assert stored(wider, ClusterKind.TEXT)["disk exceeded quota"].count == 4


def test_each_user_sees_only_their_customers_part(world, incidents):
    alpha = incidents(3, service=world.service, short_description="Calendar sync stuck")
    beta = incidents(
        2, customer=world.customer_b, service=world.service, short_description="Calendar sync stuck"
    )
    only_alpha = incidents(3, short_description="Intranet search empty")
    result = run(world.admin)

    def seen(user, kind):
        return {v.cluster.key: v for v in clusters.visible_clusters(result, user, kind)}

    as_admin = seen(world.admin, "service")[str(world.service.pk)]
    assert as_admin.count == 5 and as_admin.impact_score == 10

    as_b = seen(world.agent_b, "service")[str(world.service.pk)]
    assert as_b.count == 2 and not as_b.approximate
    assert as_b.impact_score == 4 and as_b.score_approximate
    assert not as_admin.score_approximate
    # The user's own first and last incidents, not the cluster's.
    clusters.own_dates([as_b])
    assert as_b.last_seen == max(i.created for i in beta)
    assert as_b.first_seen == min(i.created for i in beta)
    detail = clusters.cluster_for(world.agent_b, as_b.cluster.pk)
    assert sorted(detail.incident_ids) == sorted(i.pk for i in beta)
    assert (detail.count, detail.impact_score) == (2, 4)
    # Alpha's own cluster does not exist for agent B at all.
    assert "empty intranet search" not in seen(world.agent_b, "text")
    for view in seen(world.agent_b, None).values():
        members = clusters.cluster_for(world.agent_b, view.cluster.pk).members
        assert members and all(m[1] == world.customer_b.pk for m in members)
    as_a = seen(world.agent_a, None)
    assert as_a[str(world.service.pk)].count == 3
    intranet = clusters.cluster_for(world.agent_a, as_a["empty intranet search"].cluster.pk)
    assert sorted(intranet.incident_ids) == sorted(i.pk for i in only_alpha)
    service = clusters.cluster_for(world.agent_a, as_a[str(world.service.pk)].cluster.pk)
    assert {i.pk for i in alpha} == set(service.incident_ids)
    # Customer users see none.
    assert clusters.visible_clusters(result, world.customer_user_b) == []
    assert clusters.cluster_for(world.agent_b, as_a["empty intranet search"].cluster.pk) is None


def test_a_capped_cluster_keeps_every_customer_and_its_true_count(world, incidents, monkeypatch):
    monkeypatch.setattr(trends, "MEMBER_CAP", 4)
    incidents(7, service=world.service, short_description="Login loop")
    incidents(2, customer=world.customer_b, service=world.service, short_description="Login loop")
    result = run(world.admin)
    cluster = stored(result, ClusterKind.SERVICE)[str(world.service.pk)]
    assert cluster.count == 9 and len(cluster.members) == 4
    assert {m[1] for m in cluster.members} == {world.customer_a.pk, world.customer_b.pk}
    # Latest first.
    created = dict(Incident.objects.values_list("pk", "created"))
    stamps = [created[m[0]] for m in cluster.members]
    assert stamps == sorted(stamps, reverse=True)
    as_b = clusters.cluster_for(world.agent_b, cluster.pk)
    assert as_b.approximate and 1 <= as_b.count <= 3
    assert all(m[1] == world.customer_b.pk for m in as_b.members)
    assert not clusters.cluster_for(world.admin, cluster.pk).approximate


def test_the_list_and_the_cluster_page_agree_on_each_users_part(world, incidents, monkeypatch):
    """The list works the user's part out for every cluster at once (on PostgreSQL
    in SQL), a cluster's page from its decoded members: the same figures."""
    monkeypatch.setattr(trends, "MEMBER_CAP", 5)
    incidents(6, service=world.service, short_description="Slow login")
    incidents(3, customer=world.customer_b, service=world.service, short_description="Slow login")
    incidents(3, customer=world.customer_b, short_description="Token expired")
    result = run(world.admin)
    for user in (world.agent_a, world.agent_b, world.admin):
        listed = clusters.visible_clusters(result, user)
        clusters.own_dates(listed)
        assert listed
        for view in listed:
            one = clusters.cluster_for(user, view.cluster.pk)
            assert (view.count, view.impact_score, view.approximate, view.score_approximate) == (
                one.count,
                one.impact_score,
                one.approximate,
                one.score_approximate,
            )
            assert (view.first_seen, view.last_seen) == (one.first_seen, one.last_seen)
    assert any(v.approximate for v in clusters.visible_clusters(result, world.agent_b))


def test_quotas_are_proportional_with_every_customer_once():
    assert trends.quotas({1: 3, 2: 1}, cap=10) == {1: 3, 2: 1}
    got = trends.quotas({1: 9000, 2: 900, 3: 1}, cap=100)
    assert got[3] == 1 and sum(got.values()) <= 100 and got[1] > got[2] > 1
    many = trends.quotas({c: 1 + c for c in range(50)}, cap=10)
    assert len(many) == 10 and set(many.values()) == {1}


def test_raise_problem_links_the_visible_incidents(world, incidents):
    alpha = incidents(3, service=world.service, short_description="Shared drive offline")
    beta = incidents(
        2, customer=world.customer_b, service=world.service, short_description="Shared drive x"
    )
    result = run(world.admin)
    cluster = stored(result, ClusterKind.SERVICE)[str(world.service.pk)]
    with acting_as(world.agent_a, "test"):
        problem, linked, skipped = clusters.raise_problem(world.agent_a, cluster.pk)
    assert (linked, skipped) == (3, 0)
    assert problem.origin == Origin.TREND
    assert set(
        ProblemIncident.objects.filter(problem=problem).values_list("incident", flat=True)
    ) == {i.pk for i in alpha}
    assert list(problem.customers.all()) == [world.customer_a]
    assert "Email" in problem.short_description and problem.urgency == 3
    cluster.refresh_from_db()
    assert cluster.problem_id == problem.pk
    with acting_as(world.agent_a, "test"), pytest.raises(ValidationError) as exc:
        clusters.raise_problem(world.agent_a, cluster.pk)
    assert problem.number in str(exc.value.message_dict["cluster"])
    # Agent B cannot see Alpha's problem: they raise their own for Beta's incidents,
    # and the cluster keeps the first.
    with acting_as(world.agent_b, "test"):
        other, linked, _skipped = clusters.raise_problem(world.agent_b, cluster.pk)
    assert linked == 2
    assert set(other.incident_links.values_list("incident", flat=True)) == {i.pk for i in beta}
    cluster.refresh_from_db()
    assert cluster.problem_id == problem.pk
    with acting_as(world.auditor, "test"), pytest.raises(PermissionDenied):
        clusters.raise_problem(world.auditor, cluster.pk)


def test_raise_problem_from_a_ci_cluster_names_the_ci_and_skips_linked(world, incidents):
    __import__("accord.cmdb.testing", fromlist=["x"]).ensure_starting_types()
    with acting_as(world.admin, "test"):
        ci = ConfigurationItem(name="db-07", ci_type=CIType.objects.get(key="server"))
        cmdb_actions.save_ci(ci)
    made = incidents(4, short_description="Timeouts")
    for incident in made:
        with acting_as(world.admin, "test"):
            cmdb_actions.link_record(ci, incident, world.admin)
    result = run(world.admin)
    cluster = stored(result, ClusterKind.CI)[str(ci.pk)]
    with acting_as(world.admin, "test"):
        actions.create_problem(
            world.admin, {"short_description": "x", "impact": 2, "urgency": 2}, incidents=made[:1]
        )
        problem, linked, skipped = clusters.raise_problem(world.admin, cluster.pk)
    assert (linked, skipped) == (3, 1)
    assert CILink.objects.filter(
        ci=ci, object_id=problem.pk, content_type__model="problem"
    ).exists()


def test_bad_settings_are_refused_naming_the_field(world):
    for window in (0, 3651, "abc", None):
        with pytest.raises(ValidationError) as exc:
            trends.check_settings(window, 3)
        assert "Window (days)" in exc.value.message_dict["window_days"][0]
    with pytest.raises(ValidationError) as exc:
        trends.check_settings(90, 1)
    assert "Smallest cluster" in exc.value.message_dict["min_count"][0]
    assert trends.check_settings("3650", "2") == (3650, 2)
    with pytest.raises(PermissionDenied):
        trends.start_run(world.auditor)


def test_one_run_at_a_time_and_the_schedule_runs_once(world, incidents):
    incidents(3, short_description="Projector flickers")
    with acting_as(world.admin, "test"):
        trends.start_run(world.admin)
        with pytest.raises(ValidationError):
            trends.start_run(world.admin)
    assert trends.scheduled_run() is None  # a run is queued
    TrendRun.objects.update(state=TrendRun.State.DONE)
    nightly = trends.scheduled_run()
    assert nightly.state == TrendRun.State.DONE and nightly.requested_by is None
    assert TrendCluster.objects.filter(run=nightly, kind="text").count() == 1
    assert trends.scheduled_run() is None  # ran recently
    # A run claimed once is not analysed again.
    assert trends.run_trends(nightly.pk).state == TrendRun.State.DONE
    assert TrendCluster.objects.filter(run=nightly).count() == 1


def test_a_failed_run_says_why(world, incidents, monkeypatch):
    def boom(*args, **kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(trends, "analyse", boom)
    with acting_as(world.admin, "test"):
        started = trends.start_run(world.admin)
    done = trends.run_trends(started.pk)
    assert done.state == TrendRun.State.FAILED and "disk on fire" in done.error


def test_a_stale_run_does_not_block_new_ones(world):
    TrendRun.objects.create(
        state=TrendRun.State.RUNNING,
        since=timezone.now(),
        until=timezone.now(),
        created=timezone.now() - datetime.timedelta(hours=3),
    )
    with acting_as(world.admin, "test"):
        assert trends.start_run(world.admin).state == TrendRun.State.QUEUED


# --- pages ------------------------------------------------------------------------------
def test_the_page_starts_a_run_through_the_worker(
    world, incidents, client, django_capture_on_commit_callbacks
):
    incidents(3, customer=world.customer_b, short_description="Fax to email lost")
    client.force_login(world.agent_b)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("problems:trend_start"), {"window_days": 30, "min_count": 3})
    assert response.status_code == 302
    latest = TrendRun.objects.get()
    assert latest.state == TrendRun.State.DONE and latest.requested_by == world.agent_b
    page = client.get(reverse("problems:trends"))
    assert page.status_code == 200
    assert "Fax to email lost" in page.content.decode()


def test_bad_input_on_the_page_names_the_field(world, client):
    client.force_login(world.agent_a)
    for window in ("0", "3651", "x", ""):
        response = client.post(
            reverse("problems:trend_start"), {"window_days": window, "min_count": 3}
        )
        assert response.status_code == 400
        assert "Window (days): enter a whole number of days from 1 to 3650." in (
            response.content.decode()
        )
    response = client.post(reverse("problems:trend_start"), {"window_days": 90, "min_count": 0})
    assert response.status_code == 400 and "Smallest cluster:" in response.content.decode()
    assert not TrendRun.objects.exists()


def test_the_page_shows_each_user_their_part(world, incidents, client):
    incidents(3, service=world.service, short_description="Alpha only trouble")
    beta = incidents(
        2, customer=world.customer_b, service=world.service, short_description="Beta trouble"
    )
    result = run(world.admin)
    client.force_login(world.agent_b)
    body = client.get(reverse("problems:trends")).content.decode()
    assert "Alpha only trouble" not in body
    assert 'data-count="2"' in body and 'data-count="5"' not in body
    service = stored(result, ClusterKind.SERVICE)[str(world.service.pk)]
    detail = client.get(reverse("problems:trend_cluster", args=[service.pk])).content.decode()
    assert all(i.number in detail for i in beta)
    assert Incident.objects.filter(customer=world.customer_a).first().number not in detail
    alpha_text = TrendCluster.objects.get(run=result, kind="text", key__contains="alpha")
    assert client.get(reverse("problems:trend_cluster", args=[alpha_text.pk])).status_code == 404
    client.force_login(world.customer_user_b)
    assert client.get(reverse("problems:trends")).status_code == 403


def test_raise_problem_from_the_page(world, incidents, client):
    incidents(3, service=world.service, short_description="Wiki pages blank")
    result = run(world.admin)
    cluster = stored(result, ClusterKind.SERVICE)[str(world.service.pk)]
    client.force_login(world.agent_a)
    response = client.post(reverse("problems:trend_raise", args=[cluster.pk]))
    assert response.status_code == 302
    problem = Problem.objects.get(origin=Origin.TREND)
    assert problem.incident_links.count() == 3
    again = client.post(
        reverse("problems:trend_raise", args=[cluster.pk]), {"back": "/problems/trends/"}
    )
    assert again.status_code == 302
    page = client.get(reverse("problems:trends"))
    assert "already been raised" in page.content.decode()
    assert problem.number in page.content.decode()
    client.force_login(world.auditor)
    assert client.post(reverse("problems:trend_raise", args=[cluster.pk])).status_code == 403


def test_a_trend_set_aside_is_listed_apart_in_later_runs_until_restored(world, incidents, client):
    incidents(3, service=world.service, short_description="Mailbox full")
    first = run(world.admin)
    mail = stored(first, ClusterKind.SERVICE)[str(world.service.pk)]
    # Agents may not set trends aside; a reason is required; the day must be ahead.
    with acting_as(world.agent_a, "test"), pytest.raises(PermissionDenied):
        clusters.dismiss(world.agent_a, mail.pk, reason="noise")
    client.force_login(world.manager_a)
    url = reverse("problems:trend_dismiss", args=[mail.pk])
    refused = client.post(url, {"reason": " "})
    assert refused.status_code == 400 and "Say why this trend is set aside." in (
        refused.content.decode()
    )
    yesterday = timezone.localdate() - datetime.timedelta(days=1)
    refused = client.post(url, {"reason": "Expected", "until": yesterday.isoformat()})
    assert refused.status_code == 400 and "Give a day after today" in refused.content.decode()
    assert client.post(url, {"reason": "Mailbox quotas: expected demand"}).status_code == 302
    # The next run's cluster of the same service is listed apart, with the reason.
    incidents(1, service=world.service, short_description="Mailbox full again")
    second = run(world.admin)
    again = stored(second, ClusterKind.SERVICE)[str(world.service.pk)]
    assert clusters.visible_clusters(second, world.agent_a, ClusterKind.SERVICE) == []
    [apart] = clusters.visible_clusters(second, world.agent_a, dismissed=True)
    assert apart.cluster == again and apart.dismissal.reason.startswith("Mailbox quotas")
    page = client.get(reverse("problems:trends")).content.decode()
    assert f'data-cluster="{again.pk}"' not in page and "Set aside" in page
    page = client.get(reverse("problems:trends"), {"view": "dismissed"}).content.decode()
    assert f'data-cluster="{again.pk}"' in page and "Mailbox quotas" in page
    # Customers and other staff cannot restore it; the manager can.
    dismissal = apart.dismissal
    client.force_login(world.agent_a)
    restore = reverse("problems:trend_restore", args=[dismissal.pk])
    assert client.post(restore).status_code == 403
    client.force_login(world.manager_a)
    assert client.post(restore).status_code == 302
    back = clusters.visible_clusters(second, world.agent_a, ClusterKind.SERVICE)
    assert [v.cluster for v in back] == [again]
    assert clusters.visible_clusters(second, world.agent_a, dismissed=True) == []


def test_a_trend_set_aside_until_a_day_comes_back_on_that_day(world, incidents):
    incidents(3, service=world.service, short_description="Mailbox full")
    result = run(world.admin)
    mail = stored(result, ClusterKind.SERVICE)[str(world.service.pk)]
    soon = timezone.localdate() + datetime.timedelta(days=7)
    with acting_as(world.manager_a, "test"):
        clusters.dismiss(world.manager_a, mail.pk, reason="Known, wait a week", until=soon)
    assert (mail.kind, mail.key) in clusters.active_dismissals()
    assert (mail.kind, mail.key) not in clusters.active_dismissals(today=soon)
