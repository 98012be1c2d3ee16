"""SLA clocks through the real actions: start, response, pauses, resolution, reopen,
retargeting, warnings and breaches (once only), escalation, calendar edits."""

import datetime

import pytest
from django.core import mail
from django.utils import timezone

from accord.calendars.models import Calendar
from accord.core.context import acting_as
from accord.incidents.actions import transition, update_ticket
from accord.incidents.models import NO_DEADLINE, Incident
from accord.slas import clocks
from accord.slas.models import Agreement, Clock, EscalationRule, Notification, Recalculation
from accord.slas.tasks import check_clocks, recalculate

pytestmark = pytest.mark.django_db

H = datetime.timedelta(hours=1)


def clock(incident, metric):
    return clocks.clocks_of(incident).get(metric=metric, agreement__kind="sla")


def backdate(incident, hours):
    """Move the record's clocks back in time, as if it had been logged earlier."""
    delta = datetime.timedelta(hours=hours)
    for c in clocks.clocks_of(incident):
        c.started_at -= delta
        c.base_at -= delta
        c.pauses = [
            [
                (datetime.datetime.fromisoformat(a) - delta).isoformat(),
                (datetime.datetime.fromisoformat(b) - delta).isoformat() if b else None,
            ]
            for a, b in c.pauses
        ]
        clocks.compute(c)
        c.save()


def test_logging_starts_both_clocks_from_the_matching_agreement(world, sla, make_incident):
    incident = make_incident()
    response, resolution = clock(incident, "response"), clock(incident, "resolution")
    assert response.target_seconds == 3600 and resolution.target_seconds == 4 * 3600
    assert response.deadline - incident.created == H
    assert resolution.deadline - incident.created == 4 * H
    incident.refresh_from_db()
    assert incident.sla_due == response.deadline
    assert response.timeline[0]["event"] == "started"


def test_a_customer_without_an_agreement_gets_no_clocks_and_no_due(world, sla, make_incident):
    incident = make_incident(customer=world.customer_b)
    assert not clocks.clocks_of(incident).exists()
    incident.refresh_from_db()
    assert incident.sla_due == NO_DEADLINE


def test_the_agreement_naming_the_service_wins(world, sla, always, make_incident):
    with acting_as(world.admin, "test"):
        special = Agreement(
            name="Alpha mail",
            customer=world.customer_a,
            calendar=always,
            status="agreed",
            valid_from="2020-01-01",
        )
        special.save()
    special.services.add(world.service)
    special.targets.create(priority=3, metric="resolution", seconds=2 * 3600)
    incident = make_incident(service=world.service)
    assert clock(incident, "resolution").agreement == special
    assert clock(incident, "resolution").target_seconds == 2 * 3600
    other = make_incident()
    assert clock(other, "resolution").agreement == sla


def test_assignment_meets_the_response_and_pending_customer_pauses(world, sla, make_incident):
    incident = make_incident()
    with acting_as(world.agent_a, "test"):
        transition(incident, world.agent_a, "start", expected_version=incident.version)
    assert clock(incident, "response").met is True
    resolution = clock(incident, "resolution")
    assert resolution.state == "running"
    with acting_as(world.agent_a, "test"):
        transition(incident, world.agent_a, "wait_customer", expected_version=incident.version)
    resolution = clock(incident, "resolution")
    assert resolution.state == "paused" and resolution.deadline is None
    incident.refresh_from_db()
    assert incident.sla_due == NO_DEADLINE
    with acting_as(world.agent_a, "test"):
        transition(incident, world.agent_a, "resume", expected_version=incident.version)
    resolution = clock(incident, "resolution")
    assert resolution.state == "running"
    # The paused time is not counted: the deadline moved later by the pause.
    assert resolution.deadline >= incident.created + 4 * H
    assert [s["event"] for s in resolution.timeline] == ["started", "paused", "resumed"]


def test_resolve_stops_reopen_restarts_without_counting_the_resolved_time(
    world, sla, make_incident
):
    incident = make_incident()
    with acting_as(world.agent_a, "test"):
        transition(incident, world.agent_a, "start", expected_version=incident.version)
        transition(
            incident,
            world.agent_a,
            "resolve",
            expected_version=incident.version,
            resolution_code="solved",
            resolution_notes="Done.",
        )
    resolution = clock(incident, "resolution")
    assert resolution.state == "stopped" and resolution.met is True
    with acting_as(world.customer_user_a, "test"):
        transition(
            incident,
            world.customer_user_a,
            "reopen",
            expected_version=incident.version,
            note="Still broken",
        )
    resolution = clock(incident, "resolution")
    assert resolution.state == "running" and resolution.met is None
    assert len(resolution.pauses) == 1  # the resolved spell


def test_a_priority_change_keeps_the_time_already_spent(world, sla, make_incident):
    sla.targets.filter(priority=1, metric="resolution").update(seconds=2 * 3600)
    incident = make_incident(impact=3, urgency=3)
    backdate(incident, 1)
    with acting_as(world.agent_a, "test"):
        update_ticket(
            Incident.objects.get(pk=incident.pk),
            world.agent_a,
            {"impact": 1, "urgency": 1},
        )
    resolution = clock(incident, "resolution")
    assert resolution.priority == 1 and resolution.target_seconds == 2 * 3600
    # One hour spent of two: due in about an hour, not two.
    left = resolution.deadline - timezone.now()
    assert datetime.timedelta(minutes=58) < left <= H
    assert resolution.timeline[-1]["event"] == "target changed"


def test_warnings_and_breach_are_sent_once_even_when_the_job_runs_twice(world, sla, make_incident):
    incident = make_incident(assignment_team=world.team_a, assignee=world.agent_a)
    resolution = clock(incident, "resolution")
    later = resolution.started_at + 3.7 * H  # past 75% and 90%, before the deadline
    assert check_clocks(now=later) == 2
    assert check_clocks(now=later) == 0
    keys = set(Notification.objects.values_list("key", flat=True))
    assert keys == {
        f"clock:{resolution.pk}:75:assignee",
        f"clock:{resolution.pk}:90:assignee",
    }
    assert len(mail.outbox) == 2 and mail.outbox[0].to == [world.agent_a.email]
    link = f"http://127.0.0.1:8000{incident.get_absolute_url()}"
    assert mail.outbox[0].body.rstrip().endswith(link)  # ACCORD_BASE_URL's default
    breach = resolution.started_at + 4.5 * H
    assert check_clocks(now=breach) == 1
    assert check_clocks(now=breach) == 0
    resolution = clock(incident, "resolution")
    assert resolution.breached_at == resolution.deadline
    assert [s["event"] for s in resolution.timeline][-1] == "breached"
    incident.refresh_from_db()
    assert incident.sla_breached is True
    assert len(mail.outbox) == 3


def test_escalation_raises_the_priority_once_at_breach(world, sla, make_incident):
    EscalationRule.objects.create(
        agreement=sla, at_percent=100, metric="resolution", action="raise_priority"
    )
    incident = make_incident(impact=3, urgency=3)
    assert incident.priority == 5
    breach = clock(incident, "resolution").started_at + 5 * H
    check_clocks(now=breach)
    check_clocks(now=breach)
    incident.refresh_from_db()
    assert incident.priority == 4


def test_a_calendar_edit_keeps_time_spent_and_moves_the_deadline(world, sla, always, make_incident):
    incident = make_incident()
    backdate(incident, 1)
    before = clock(incident, "resolution")
    assert before.deadline - timezone.now() < 3 * H + datetime.timedelta(minutes=1)
    # From now on the service is only staffed on no day at all but today's remainder:
    # closing every day means the remaining 3 h never come; use 12 h days instead.
    old = {"time_zone": "UTC", "weekly_hours": always.weekly_hours, "holidays": always.holidays}
    with acting_as(world.admin, "test"):
        cal = Calendar.objects.get(pk=always.pk)
        cal.time_zone = "Asia/Tokyo"
        cal.save()
    run = Recalculation.objects.get(calendar=always)
    recalculate(run.pk, old)
    after = clock(incident, "resolution")
    assert after.spent_before >= 3599  # the hour already spent is kept
    assert abs((after.deadline - before.deadline).total_seconds()) < 5  # 24x7 in any zone
    assert Recalculation.objects.get(pk=run.pk).finished_at is not None
    assert after.timeline[-1]["event"] == "calendar changed"


def test_closing_stops_and_cancelling_cancels(world, sla, make_incident):
    incident = make_incident()
    with acting_as(world.agent_a, "test"):
        transition(incident, world.agent_a, "cancel", expected_version=incident.version, note="dup")
    assert set(clocks.clocks_of(incident).values_list("state", flat=True)) == {"cancelled"}
    assert Clock.objects.filter(state="running").count() == 0


def test_an_edited_target_applies_to_the_next_record_at_once(world, sla, make_incident):
    make_incident()  # the agreements are now cached in this process
    target = sla.targets.get(priority=3, metric="resolution")
    target.seconds = 2 * 3600
    target.save()
    assert clock(make_incident(), "resolution").target_seconds == 2 * 3600
    sla.services.add(world.service_b_only)  # now covers one service only
    assert not clocks.clocks_of(make_incident(service=world.service)).exists()


def test_agreements_past_their_end_expire_and_stop_matching(world, sla, make_incident):
    from accord.slas.tasks import expire_agreements

    Agreement.objects.filter(pk=sla.pk).update(valid_to="2021-01-01")
    assert not clocks.clocks_of(make_incident()).exists()  # no longer valid today
    assert expire_agreements() == 1
    sla.refresh_from_db()
    assert sla.status == "expired"
    assert expire_agreements() == 0


@pytest.mark.django_db(transaction=True)
def test_the_worker_recalculates_with_writes_on_a_second_connection(
    world, sla, always, make_incident, monkeypatch
):
    """As in the worker (no transaction around the job, which the edit's commit
    queues): the clocks and the records' due times are written by the write-behind
    thread, and all of them land."""
    from accord.slas import tasks

    incidents = [make_incident() for _ in range(3)]
    before = {i.pk: i.sla_due for i in incidents}
    writers = []
    original = tasks._write_clocks

    def spy(*args):
        import threading

        writers.append(threading.current_thread().name)
        original(*args)

    monkeypatch.setattr(tasks, "_write_clocks", spy)
    monkeypatch.setattr(tasks, "BATCH", 2)  # several batches
    # Open on one day of the week only, the day after tomorrow: every deadline moves.
    days = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
    open_day = days[(timezone.now().weekday() + 2) % 7]
    hours = {d: [["00:00", "24:00"]] if d == open_day else [] for d in days}
    with acting_as(world.admin, "test"):
        cal = Calendar.objects.get(pk=always.pk)
        cal.weekly_hours = hours
        cal.save()
    run = Recalculation.objects.get(calendar=always)
    assert (run.done, run.total, run.finished_at is not None) == (6, 6, True)
    assert set(writers) == {"write-behind"}
    for incident in incidents:
        incident.refresh_from_db()
        running = clocks.clocks_of(incident).filter(state="running")
        assert incident.sla_due == min(c.deadline for c in running)
        assert all(c.timeline[-1]["event"] == "calendar changed" for c in running)
        assert incident.sla_due - before[incident.pk] > datetime.timedelta(hours=24)
