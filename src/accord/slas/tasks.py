"""SLA jobs run by the worker: warnings, breaches and escalations; the outbox of
emails; recomputing clocks after a calendar edit.

A warning is decided once: the clock's ``alerts_sent`` and ``alert_version`` change in
the same conditional UPDATE that queues its emails, and each email's outbox key is
unique, so a restarted or retried job never sends the same warning twice.
"""

import logging

from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _
from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

from accord.calendars.engine import BusinessCalendar
from accord.calendars.models import Calendar
from accord.core.context import acting_as
from accord.core.navigation import absolute_url
from accord.core.rows import WriteBehind, update_rows
from accord.incidents import actions
from accord.incidents.choices import Priority

from . import clocks
from .choices import ClockState, EscalationAction
from .models import Agreement, Clock, Notification, Recalculation

log = logging.getLogger(__name__)
BATCH = 500
RECALC_FIELDS = ("base_at", "spent_before", "pauses", "deadline", "next_alert_at", "timeline")


# --- warnings, breaches, escalations --------------------------------------------------
@db_periodic_task(crontab(minute="*"), retries=2, retry_delay=10)
def check_clocks_job():
    return check_clocks()


def check_clocks(now=None, send=True):
    """Handle every running clock whose next warning or breach is due; returns how
    many alerts were raised. Queued emails go out at the end unless ``send`` is off."""
    now = now or timezone.now()
    raised = 0
    due = (
        Clock.objects.filter(state=ClockState.RUNNING, next_alert_at__lte=now)
        .select_related("agreement", "calendar")
        .order_by("next_alert_at")
    )
    for clock in due.iterator(chunk_size=200):
        raised += _alert(clock, now)
    if send:
        send_pending()
    return raised


def _alert(clock, now):
    reached = [
        p
        for p in [*clock.agreement.warning_percents, 100]
        if p not in clock.alerts_sent and (clocks.instant_at(clock, p) or now) <= now
    ]
    if not reached:
        clocks.compute(clock)
        Clock.objects.filter(pk=clock.pk, alert_version=clock.alert_version).update(
            next_alert_at=clock.next_alert_at
        )
        return 0
    record = _record(clock)
    with transaction.atomic():
        version = clock.alert_version
        clock.alerts_sent = sorted({*clock.alerts_sent, *reached})
        for p in sorted(reached):
            at = clocks.instant_at(clock, p)
            if p == 100:
                clock.breached_at = at
                clocks._log(clock, at, "breached", _("Target missed."))
            else:
                clocks._log(clock, at, "warning", _("%(p)s%% of the target used.") % {"p": p})
        clocks.compute(clock)
        won = Clock.objects.filter(pk=clock.pk, alert_version=version).update(
            alert_version=F("alert_version") + 1,
            alerts_sent=clock.alerts_sent,
            breached_at=clock.breached_at,
            next_alert_at=clock.next_alert_at,
            timeline=clock.timeline,
        )
        if not won:
            return 0  # another run handled it
        if record is not None:
            for p in sorted(reached):
                _notify(clock, record, p)
                _escalate(clock, record, p)
            if clock.breached_at is not None and not record.sla_breached:
                record.set_derived(sla_breached=True)
    return len(reached)


def _record(clock):
    model = clock.content_type.model_class()
    return (
        model._default_manager.select_related("assignee", "assignment_team")
        .filter(pk=clock.object_id)
        .first()
    )


def _recipients(record, manager=False):
    people = []
    if record.assignee and record.assignee.email:
        people.append(record.assignee.email)
    team = record.assignment_team
    if team is not None:
        if manager and team.manager and team.manager.email:
            people.append(team.manager.email)
        elif not people:
            people += [u.email for u in team.members.filter(is_active=True) if u.email]
    return sorted(set(people))


def _notify(clock, record, percent, manager=False):
    recipients = _recipients(record, manager)
    if not recipients:
        return
    what = (
        _("breached its %(metric)s target")
        if percent == 100
        else _("has used %(p)s%% of its %(metric)s target")
    ) % {"metric": clock.get_metric_display().lower(), "p": percent}
    subject = f"[{record.number}] {what}"
    body = _("%(number)s %(title)s %(what)s (%(agreement)s).\nDeadline: %(deadline)s\n%(url)s") % {
        "number": record.number,
        "title": record.short_description,
        "what": what,
        "agreement": clock.agreement,
        "deadline": timezone.localtime(clock.deadline) if clock.deadline else "—",
        "url": absolute_url(record.get_absolute_url()),
    }
    key = f"clock:{clock.pk}:{percent}:{'manager' if manager else 'assignee'}"
    try:
        with transaction.atomic():
            Notification.objects.create(
                key=key, recipients=recipients, subject=subject[:200], body=body
            )
    except IntegrityError:
        pass  # queued by an earlier run


def _escalate(clock, record, percent):
    rules = [
        r
        for r in clock.agreement.escalations.all()
        if r.at_percent == percent and r.metric == clock.metric
    ]
    for rule in rules:
        with acting_as(None, "job:sla-escalation"):
            if rule.action == EscalationAction.NOTIFY_MANAGER:
                _notify(clock, record, percent, manager=True)
            elif rule.action == EscalationAction.REASSIGN and record.is_open:
                fresh = type(record).objects.get(pk=record.pk)
                actions.update_ticket(
                    fresh,
                    _system_user(),
                    {"assignment_team": rule.team, "assignee": None},
                )
            elif rule.action == EscalationAction.RAISE_PRIORITY and record.is_open:
                fresh = type(record).objects.get(pk=record.pk)
                if fresh.priority > Priority.P1:
                    actions.update_ticket(
                        fresh,
                        _system_user(),
                        {},
                        priority=fresh.priority - 1,
                        priority_reason=_("SLA escalation at %(p)s%% of the %(m)s target")
                        % {"p": percent, "m": clock.get_metric_display().lower()},
                    )


def _system_user():
    """Escalations act with an administrator's rights, recorded as the SLA job."""
    from accord.core.policy import Role
    from accord.users.models import User

    user = User.objects.filter(role=Role.ADMINISTRATOR, is_active=True).order_by("pk").first()
    if user is None:
        raise RuntimeError("SLA escalation needs an active administrator account")
    return user


@db_periodic_task(crontab(minute="5", hour="0"))
def expire_agreements_job():
    return expire_agreements()


def expire_agreements(today=None):
    """Agreed agreements whose validity ended are marked expired (with history)."""
    today = today or timezone.localdate()
    expired = 0
    with acting_as(None, "job:sla-expiry"):
        for agreement in Agreement.objects.filter(status="agreed", valid_to__lt=today):
            agreement.status = "expired"
            agreement.save()
            expired += 1
    return expired


# --- the outbox -----------------------------------------------------------------------
def send_pending(limit=200):
    sent = 0
    for note in Notification.objects.filter(sent_at__isnull=True).order_by("created")[:limit]:
        # Claim it first: two workers never both send one email.
        claimed = Notification.objects.filter(pk=note.pk, sent_at__isnull=True).update(
            sent_at=timezone.now()
        )
        if not claimed:
            continue
        try:
            send_mail(note.subject, note.body, None, note.recipients)
            sent += 1
        except Exception as exc:  # noqa: BLE001 - an unreachable mail server is logged
            log.warning("could not send %s: %s", note.key, exc)
            Notification.objects.filter(pk=note.pk).update(error=str(exc)[:1000])
    return sent


# --- calendar edits -------------------------------------------------------------------
def start_recalculation(calendar, old):
    live = Clock.objects.filter(calendar=calendar, state__in=clocks.LIVE)
    return Recalculation.objects.create(
        calendar=calendar, edited_at=timezone.now(), total=live.count()
    )


@db_task(retries=1, retry_delay=30)
def recalculate_clocks(run_id, old):
    recalculate(run_id, old)


def recalculate(run_id, old):
    """Recompute every live clock of the run's calendar: the time counted up to the
    edit stays as the old calendar counted it; from the edit on, the new one counts."""
    run = Recalculation.objects.select_related("calendar").get(pk=run_id)
    calendar = Calendar.objects.get(pk=run.calendar_id)
    old_engine = BusinessCalendar(
        timezone=old["time_zone"],
        weekly_hours={d: [tuple(i) for i in v] for d, v in (old["weekly_hours"] or {}).items()},
        holidays=Calendar(holidays=old["holidays"]).engine_holidays(),
    )
    at = run.edited_at
    touched_records = set()
    agreements = {a.pk: a for a in clocks.all_agreements()}
    note = _("%(c)s was edited.") % {"c": calendar}
    # The live clocks' ids first (one index scan), then batches by id: no rescans.
    ids = list(
        Clock.objects.filter(calendar=calendar, state__in=clocks.LIVE)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    live = Clock.objects.filter(calendar=calendar, state__in=clocks.LIVE)
    progress = {"done": 0}  # a retried job starts over
    # The database writes one batch while the next is read and computed.
    with WriteBehind() as writer:
        for start in range(0, len(ids), BATCH):
            # A range of ids, not a list of them: a short statement, and clocks
            # started since (on the new calendar already) lie beyond the last id.
            first, last = ids[start], ids[min(start + BATCH, len(ids)) - 1]
            batch = list(live.filter(pk__gte=first, pk__lte=last))
            for clock in batch:
                clock.calendar = calendar
                clock.agreement = agreements.get(clock.agreement_id) or clock.agreement
                if clock.base_at < at:
                    clocks.rebase(clock, at, old_engine)
                clocks.compute(clock)
                clocks._log(clock, at, "calendar changed", note)
                touched_records.add((clock.content_type_id, clock.object_id))
            rows = [(c.pk, {n: getattr(c, n) for n in RECALC_FIELDS}) for c in batch]
            writer.submit(_write_clocks, run.pk, rows, progress)
        writer.drain()
        _refresh_due(touched_records, writer)
    Recalculation.objects.filter(pk=run.pk).update(
        done=progress["done"], finished_at=timezone.now()
    )
    return progress["done"]


def _write_clocks(run_pk, rows, progress):
    update_rows(Clock, RECALC_FIELDS, rows)
    progress["done"] += len(rows)
    Recalculation.objects.filter(pk=run_pk).update(done=progress["done"])


def _refresh_due(pairs, writer):
    """Recompute the due column of the records whose clocks moved."""
    from django.contrib.contenttypes.models import ContentType

    by_type = {}
    for ct_id, obj_id in pairs:
        by_type.setdefault(ct_id, []).append(obj_id)
    for ct_id, ids in by_type.items():
        ids.sort()
        model = ContentType.objects.get_for_id(ct_id).model_class()
        for start in range(0, len(ids), BATCH):
            chunk = ids[start : start + BATCH]
            rows = Clock.objects.filter(content_type_id=ct_id, object_id__any=chunk)
            earliest = {}
            # No filter on the state in SQL: the record index answers this, where a
            # state condition could lead the planner to walk every running clock.
            for object_id, state, deadline in rows.values_list("object_id", "state", "deadline"):
                if state != ClockState.RUNNING or deadline is None:
                    continue
                if object_id not in earliest or deadline < earliest[object_id]:
                    earliest[object_id] = deadline
            current = dict(model._base_manager.filter(pk__any=chunk).values_list("pk", "sla_due"))
            # Only the records whose due time moved are written (an UPDATE of a row
            # touches every index of the table).
            moved = [
                (pk, {"sla_due": due})
                for pk in chunk
                if pk in current and current[pk] != (due := earliest.get(pk, clocks.NO_DEADLINE))
            ]
            if moved:
                writer.submit(update_rows, model, ["sla_due"], moved)
