"""The SLA clock rules: which agreement a record falls under, when its clocks start,
pause, resume, stop and breach, and how a change of priority, agreement or calendar
moves a deadline without losing time already spent.

Everything here runs inside the record's own write (through ``record_saved`` and
``journal_added``), so a record and its clocks never disagree.
"""

import datetime
import time
import uuid

from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.utils import timezone
from django.utils.translation import gettext as _

from accord.core.models import SiteFlag
from accord.core.rows import fetch_by_pk, insert_rows, update_rows
from accord.incidents.choices import Status
from accord.incidents.models import NO_DEADLINE

from .choices import AgreementKind, ClockState, Metric, ResponseEvent
from .models import Agreement, Clock

LIVE = (ClockState.RUNNING, ClockState.PAUSED)
STOP_STATUSES = (Status.CLOSED, Status.CANCELLED)


# --- time helpers -----------------------------------------------------------------------
def _dt(text):
    return datetime.datetime.fromisoformat(text) if text else None


def _iso(moment):
    return moment.isoformat() if moment else None


def pauses_of(clock):
    return [(_dt(a), _dt(b)) for a, b in clock.pauses]


def spent(clock, at=None):
    """Business seconds the clock has counted up to ``at`` (now)."""
    at = at or timezone.now()
    if clock.state not in LIVE and clock.stopped_at:
        at = min(at, clock.stopped_at)
    cal = clock.calendar.calendar()
    return clock.spent_before + cal.between(clock.base_at, at, pauses_of(clock))


def instant_at(clock, percent):
    """When the clock reaches ``percent`` of its target (None while paused for good)."""
    cal = clock.calendar.calendar()
    remaining = clock.target_seconds * percent // 100 - clock.spent_before
    if remaining <= 0:
        # Reached before the last rebase (a calendar edit or a change of agreement):
        # counted back from there on the current calendar.
        return _utc(cal.add(clock.base_at, remaining)) if remaining else clock.base_at
    return _utc(cal.add(clock.base_at, remaining, pauses_of(clock)))


def _utc(moment):
    # Instants in UTC: comparing or subtracting times of one zone ignores DST folds.
    return moment.astimezone(datetime.UTC) if moment is not None else None


def _log(clock, at, event, note=""):
    clock._dirty = True
    clock.timeline.append(
        {"at": _iso(at), "event": event, "note": str(note), "deadline": _iso(clock.deadline)}
    )


def compute(clock):
    """Deadline and next alert from the clock's state (no write). Business time only
    grows, so the next alert is the smallest percentage not yet raised."""
    if clock.state == ClockState.RUNNING:
        clock.deadline = instant_at(clock, 100)
        sent = clock.alerts_sent
        pending = [p for p in clock.agreement.warning_percents if p not in sent]
        if pending:
            clock.next_alert_at = instant_at(clock, min(pending))
        else:
            clock.next_alert_at = None if 100 in sent else clock.deadline
    else:
        clock.next_alert_at = None
        if clock.state == ClockState.PAUSED:
            clock.deadline = None


# --- which agreement ------------------------------------------------------------------
# Agreements, their targets and calendars are read on every record logged or edited,
# and change rarely: each process keeps them all, checked against a token that every
# edit of an agreement, a target, an escalation rule or a calendar replaces with a new
# random value (``config_changed``). The process that made the edit reloads at once;
# the others look at the token at most once a second.
_agreements = {"stamp": None, "all": [], "checked": 0.0}
STAMP_KEY = "sla-config"
CHECK_EVERY = 1.0  # seconds


def config_changed(*args, **kwargs):
    """Receiver: the SLA configuration changed; every process reloads it."""
    SiteFlag.objects.update_or_create(key=STAMP_KEY, defaults={"value": uuid.uuid4().hex})
    forget_agreements()


def forget_agreements():
    _agreements["stamp"] = None


def _stamp():
    flag = fetch_by_pk(SiteFlag, STAMP_KEY)
    return (connection.alias, connection.settings_dict["NAME"], flag.value if flag else "")


def all_agreements():
    now = time.monotonic()
    if _agreements["stamp"] is not None and now - _agreements["checked"] < CHECK_EVERY:
        return _agreements["all"]
    stamp = _stamp()
    _agreements["checked"] = now
    if _agreements["stamp"] != stamp:
        _agreements["all"] = list(
            Agreement.objects.select_related("calendar").prefetch_related(
                "targets", "services", "supported_by", "escalations"
            )
        )
        _agreements["stamp"] = stamp
    return _agreements["all"]


def matching_agreement(record, day=None):
    """The customer's agreed SLA valid on ``day`` that covers the record's service:
    one naming the service beats one covering every service; then the latest start."""
    day = day or timezone.localdate()
    best, best_key = None, None
    for agreement in all_agreements():
        if (
            agreement.kind != AgreementKind.SLA
            or agreement.customer_id != record.customer_id
            or not agreement.is_valid_on(day)
        ):
            continue
        service_ids = {s.pk for s in agreement.services.all()}
        if service_ids and record.service_id not in service_ids:
            continue
        key = (1 if service_ids else 0, agreement.valid_from, agreement.pk)
        if best_key is None or key > best_key:
            best, best_key = agreement, key
    return best


def supporting(agreement, record, day=None):
    """The OLAs and contracts under an SLA that apply to the record: an OLA when its
    team is the record's team (or it names none)."""
    day = day or timezone.localdate()
    out = []
    for a in agreement.supported_by.all():
        if not a.is_valid_on(day):
            continue
        if a.kind == AgreementKind.OLA and a.team_id and a.team_id != record.assignment_team_id:
            continue
        out.append(_current(a))
    return out


def _current(agreement):
    """The cached copy (with its targets and calendar loaded) of an agreement."""
    for a in _agreements["all"]:
        if a.pk == agreement.pk:
            return a
    return agreement


# --- starting -------------------------------------------------------------------------
def clocks_of(record):
    ct = ContentType.objects.get_for_model(type(record))
    # In the order they were started: the SLA's response, then its resolution, then
    # those of the agreements under it.
    return (
        Clock.objects.filter(content_type=ct, object_id=record.pk)
        .select_related("agreement", "calendar")
        .order_by("pk")
    )


def start_clocks(record, at=None, note=None, changes=None):
    """Make the record's clocks (and apply what already happened to it: logged
    assigned, say); returns them, written."""
    at = at or record.created
    sla = matching_agreement(record, timezone.localdate(at))
    if sla is None:
        return []
    ct = ContentType.objects.get_for_model(type(record))
    made = []
    for agreement in [sla, *supporting(sla, record, timezone.localdate(at))]:
        for metric in (Metric.RESPONSE, Metric.RESOLUTION):
            target = agreement.target_for(record.priority, metric)
            if target is None:
                continue
            clock = Clock(
                content_type=ct,
                object_id=record.pk,
                record_number=record.number,
                customer_id=record.customer_id,
                service_id=record.service_id,
                priority=record.priority,
                agreement=agreement,
                metric=metric,
                calendar=agreement.calendar,
                target_seconds=target.seconds,
                started_at=at,
                base_at=at,
                state=ClockState.RUNNING,
                alerts_sent=[],
                pauses=[],
                timeline=[],
            )
            compute(clock)
            _log(
                clock,
                at,
                "started",
                note
                or _("%(agreement)s, P%(p)s target %(t)s")
                % {"agreement": agreement, "p": record.priority, "t": describe(target.seconds)},
            )
            made.append(clock)
    if changes:
        _apply(record, made, changes, at)
    insert_rows(Clock, [{f: getattr(c, f) for f in INSERT_FIELDS} for c in made])
    return made


INSERT_FIELDS = [f.attname for f in Clock._meta.concrete_fields if not f.primary_key]


def describe(seconds):
    """A business duration in words: 1 h 30 min, 3 d 2 h (days of 24 business hours
    are not assumed: hours stay hours)."""
    minutes = int(seconds) // 60
    hours, minutes = divmod(minutes, 60)
    parts = []
    if hours:
        parts.append(f"{hours} h")
    if minutes or not hours:
        parts.append(f"{minutes} min")
    return " ".join(parts)


# --- state changes --------------------------------------------------------------------
def pause(clock, at, reason):
    if clock.state != ClockState.RUNNING:
        return
    clock.pauses.append([_iso(at), None])
    clock.state = ClockState.PAUSED
    compute(clock)
    _log(clock, at, "paused", reason)


def resume(clock, at, reason):
    if clock.state != ClockState.PAUSED:
        return
    if clock.pauses and clock.pauses[-1][1] is None:
        clock.pauses[-1][1] = _iso(at)
    clock.state = ClockState.RUNNING
    compute(clock)
    _log(clock, at, "resumed", reason)


def stop(clock, at, reason):
    if clock.state not in LIVE:
        return
    if clock.state == ClockState.PAUSED and clock.pauses and clock.pauses[-1][1] is None:
        clock.pauses[-1][1] = _iso(at)
    clock.state = ClockState.RUNNING
    compute(clock)
    clock.state = ClockState.STOPPED
    clock.stopped_at = at
    clock.next_alert_at = None
    clock.met = clock.deadline is not None and at <= clock.deadline
    if not clock.met and clock.breached_at is None:
        clock.breached_at = clock.deadline or at
    _log(clock, at, "met" if clock.met else "stopped late", reason)


def restart(clock, at, reason):
    """A stopped resolution clock starts again (the record was reopened): the time it
    stood still is a pause, so only time worked counts."""
    if clock.state != ClockState.STOPPED:
        return
    clock.pauses.append([_iso(clock.stopped_at), _iso(at)])
    clock.state = ClockState.RUNNING
    clock.stopped_at = None
    clock.met = None
    compute(clock)
    _log(clock, at, "resumed", reason)


def cancel(clock, at, reason):
    if clock.state not in LIVE:
        return
    clock.state = ClockState.CANCELLED
    clock.stopped_at = at
    clock.next_alert_at = None
    _log(clock, at, "cancelled", reason)


def rebase(clock, at, old_calendar_engine=None):
    """Fold the time counted so far into ``spent_before`` and count on from ``at``."""
    engine = old_calendar_engine or clock.calendar.calendar()
    end = at if clock.state in LIVE else clock.stopped_at or at
    clock.spent_before += engine.between(clock.base_at, end, pauses_of(clock))
    open_pause = clock.state == ClockState.PAUSED
    clock.base_at = at
    clock.pauses = [[_iso(at), None]] if open_pause else []


def retarget(clock, agreement, target_seconds, at, reason):
    """A new target (priority changed) or agreement: time already spent counts
    towards it. Only a change of calendar needs a rebase; otherwise the clock keeps
    counting from its start, so a deadline already passed stays where it was."""
    if agreement.calendar_id != clock.calendar_id:
        rebase(clock, at)
    clock.agreement = agreement
    clock.calendar = agreement.calendar
    clock.target_seconds = target_seconds
    compute(clock)
    _log(clock, at, "target changed", reason)


# --- reacting to the record -----------------------------------------------------------
def _response_done(record, changes):
    status = changes.get("status")
    assigned = "assignment_team" in changes or "assignee" in changes
    left_new = status is not None and status[0] == Status.NEW
    return (assigned and (record.assignment_team_id or record.assignee_id)) or left_new


def on_record_saved(record, created, changes):
    now = timezone.now()
    if created:
        assigned = record.assignment_team_id or record.assignee_id
        # Logged already assigned: the response (by assignment) is met at once.
        clocks = start_clocks(
            record, changes={"status": [Status.NEW, record.status]} if assigned else None
        )
        refresh_record(record, clocks)
        return
    interesting = {"status", "priority", "service", "customer", "assignment_team", "assignee"}
    if not interesting & changes.keys():
        return
    clocks = list(clocks_of(record))
    if {"priority", "service", "customer"} & changes.keys():
        clocks = _rematch(record, clocks, changes, now)
    _after(record, clocks, changes, now)


def _rematch(record, clocks, changes, now):
    sla = matching_agreement(record)
    if sla is None:
        for clock in clocks:
            cancel(clock, now, _("No agreement covers the record any more."))
        _save(clocks)
        return clocks
    if not clocks:
        start_clocks(record, at=record.created, note=_("Now covered by %(a)s") % {"a": sla})
        return list(clocks_of(record))
    reason = ", ".join(
        _("%(field)s changed") % {"field": name}
        for name in ("priority", "service", "customer")
        if name in changes
    )
    wanted = {a.pk: a for a in [sla, *supporting(sla, record)]}
    for clock in clocks:
        if not (clock.is_live or clock.state == ClockState.STOPPED):
            continue
        agreement = wanted.get(clock.agreement_id) or (
            sla if clock.agreement.kind == AgreementKind.SLA else None
        )
        target = agreement.target_for(record.priority, clock.metric) if agreement else None
        if target is None:
            if clock.is_live:
                cancel(clock, now, _("No target for this record any more (%(r)s).") % {"r": reason})
            continue
        if (clock.priority, clock.customer_id, clock.service_id) != (
            record.priority,
            record.customer_id,
            record.service_id,
        ):
            clock.priority = record.priority
            clock.customer_id = record.customer_id
            clock.service_id = record.service_id
            clock._dirty = True
        if clock.agreement_id != agreement.pk or clock.target_seconds != target.seconds:
            if clock.is_live:
                retarget(
                    clock,
                    agreement,
                    target.seconds,
                    now,
                    _("%(r)s: %(a)s, target %(t)s")
                    % {"r": reason, "a": agreement, "t": describe(target.seconds)},
                )
    _save(clocks)
    return clocks


def _after(record, clocks, changes, now):
    _apply(record, clocks, changes, now)
    _save(clocks)
    refresh_record(record, clocks)


def _apply(record, clocks, changes, now):
    """Move the clocks along with what changed on the record (in memory)."""
    status = record.status
    before = changes.get("status", [None, None])[0]
    for clock in clocks:
        pauses_on = set(clock.agreement.pause_statuses or [])
        if status in STOP_STATUSES:
            if status == Status.CANCELLED:
                cancel(clock, now, _("Record cancelled."))
            else:
                stop(clock, now, _("Record closed."))
            continue
        if clock.metric == Metric.RESPONSE:
            if clock.agreement.response_event == ResponseEvent.ASSIGNMENT and _response_done(
                record, changes
            ):
                stop(clock, now, _("Assigned to %(who)s.") % {"who": _who(record)})
                continue
        else:
            if status == Status.RESOLVED:
                stop(clock, now, _("Resolved."))
                continue
            if before == Status.RESOLVED and clock.state == ClockState.STOPPED:
                restart(clock, now, _("Reopened."))
        if status in pauses_on:
            pause(clock, now, _("Status %(s)s.") % {"s": record.get_status_display()})
        elif clock.state == ClockState.PAUSED:
            resume(clock, now, _("Status %(s)s.") % {"s": record.get_status_display()})


def _who(record):
    return " / ".join(str(x) for x in (record.assignment_team, record.assignee) if x) or "—"


def on_journal(record, entry):
    """A first customer-visible reply by staff meets a response clock that counts
    replies."""
    from accord.core.models import JournalEntry

    if entry.kind != JournalEntry.Kind.REPLY or entry.author is None:
        return
    if entry.author.role == "customer":
        return
    now = entry.created
    clocks = [
        c
        for c in clocks_of(record)
        if c.metric == Metric.RESPONSE
        and c.is_live
        and c.agreement.response_event == ResponseEvent.REPLY
    ]
    for clock in clocks:
        stop(clock, now, _("Replied to the customer."))
    if clocks:
        _save(clocks)
        refresh_record(record, list(clocks_of(record)))


FIELDS = [
    "priority",
    "customer_id",
    "service_id",
    "agreement_id",
    "calendar_id",
    "target_seconds",
    "base_at",
    "spent_before",
    "pauses",
    "state",
    "deadline",
    "next_alert_at",
    "met",
    "breached_at",
    "stopped_at",
    "timeline",
]


def _save(clocks):
    """Write the clocks that changed (one prebuilt UPDATE for all of them)."""
    changed = [c for c in clocks if getattr(c, "_dirty", False)]
    update_rows(
        Clock,
        FIELDS,
        [(c.pk, {name: getattr(c, name) for name in FIELDS}) for c in changed],
    )
    for c in changed:
        c._dirty = False


def refresh_record(record, clocks):
    """Put the earliest running deadline and the breach flag on the record."""
    running = [c.deadline for c in clocks if c.state == ClockState.RUNNING and c.deadline]
    due = min(running) if running else NO_DEADLINE
    breached = any(c.breached_at is not None for c in clocks)
    if due != record.sla_due or breached != record.sla_breached:
        record.set_derived(sla_due=due, sla_breached=breached)
