"""Tracking and escalation of problems (ISO/IEC 20000 8.3.6), run hourly by the worker.

An open problem is escalated when it is past its target date, or when nobody has
updated it for ``ProblemSettings.stale_days`` days (0 turns that rule off), and it
has not been escalated in the last ``repeat_days`` days. Two exceptions:

* a planning problem (P5) is investigated when there is room: it is escalated when
  it passes its target date, never for lack of updates;
* a resolved problem has met its target (the fix is in, its closure waits for the
  change to be confirmed): it is escalated only when it sits idle.

The escalation goes to the owner's manager: the manager of the problem's team, else
the managers of the owner's teams (raising it to the owner themself is no
escalation), else the administrators. It is a journal event on the problem and an
email, and it sets ``escalated_at`` and counts ``escalations`` with one conditional
UPDATE: that is not an edit (``updated`` and the version stay), and of two runs at
the same time only one wins each problem. The email goes through the outbox with a
key per escalation, so a retried job never sends it twice.
"""

import datetime
import logging

from django.db import IntegrityError, transaction
from django.db.models import F, Q, Value
from django.urls import NoReverseMatch
from django.utils import timezone
from django.utils.translation import gettext as _

from accord.core import history
from accord.core.policy import Role
from accord.incidents.choices import Priority
from accord.users.models import User

from .choices import Status
from .models import Problem, ProblemSettings

log = logging.getLogger(__name__)

OPEN = Q(is_open=Value(True))  # an index seek on SQLite too (see incidents.models.OPEN)


def rules(settings, now):
    """(overdue, idle, not recently escalated) as conditions on problems."""
    today = timezone.localdate(now)
    overdue = Q(target_date__lt=today) & ~Q(status=Status.RESOLVED)
    if settings.stale_days:
        idle = Q(updated__lt=now - datetime.timedelta(days=settings.stale_days)) & ~Q(
            priority=Priority.P5
        )
    else:
        idle = Q(pk__in=[])
    quiet = Q(escalated_at__isnull=True) | Q(
        escalated_at__lte=now - datetime.timedelta(days=settings.repeat_days)
    )
    return overdue, idle, quiet


def due(now=None):
    """The problems to escalate now."""
    now = now or timezone.now()
    overdue, idle, quiet = rules(ProblemSettings.get(), now)
    return Problem.objects.filter(OPEN).filter(overdue | idle).filter(quiet)


def escalate(now=None, send=True):
    """Escalate every problem that is due; returns how many were escalated. Queued
    emails go out at the end unless ``send`` is off."""
    now = now or timezone.now()
    settings = ProblemSettings.get()
    overdue, idle, quiet = rules(settings, now)
    done = 0
    candidates = (
        Problem.objects.filter(OPEN)
        .filter(overdue | idle)
        .filter(quiet)
        .select_related("owner", "assignment_team__manager")
        .order_by("pk")
    )
    for problem in list(candidates):
        try:
            done += _escalate(problem, now, settings, overdue | idle, quiet)
        except Exception:  # noqa: BLE001 - one problem's failure does not stop the others
            log.exception("could not escalate problem %s", problem.pk)
    if send and done:
        from accord.slas.tasks import send_pending

        send_pending()
    return done


def managers_of(problem):
    """(people, why): who the problem is raised to, and in what capacity."""
    owner = problem.owner
    team = problem.assignment_team
    manager = team.manager if team is not None else None
    if manager is not None and manager.is_active and manager != owner:
        return [manager], _("manager of %(team)s") % {"team": team}
    if owner is not None:
        people = list(
            User.objects.filter(managed_teams__members=owner, is_active=True)
            .exclude(pk=owner.pk)
            .distinct()
            .order_by("pk")
        )
        if people:
            return people, _("manager of the owner's team")
    admins = list(User.objects.filter(role=Role.ADMINISTRATOR, is_active=True).order_by("pk"))
    return admins, _("administrator (no manager to escalate to)")


def reasons(problem, now, settings):
    out = []
    today = timezone.localdate(now)
    if problem.target_date and problem.target_date < today and problem.status != Status.RESOLVED:
        out.append(
            _("past its target date %(date)s (%(days)s days overdue)")
            % {"date": problem.target_date.isoformat(), "days": (today - problem.target_date).days}
        )
    if (
        settings.stale_days
        and problem.priority != Priority.P5
        and problem.updated < now - datetime.timedelta(days=settings.stale_days)
    ):
        out.append(_("no update for %(days)s days") % {"days": (now - problem.updated).days})
    return out


def _escalate(problem, now, settings, condition, quiet):
    why = reasons(problem, now, settings)
    if not why:
        return 0
    people, capacity = managers_of(problem)
    names = ", ".join(str(p) for p in people) or _("nobody (no administrator account)")
    recipients = sorted({p.email for p in people if p.email})
    with transaction.atomic():
        # Claimed with the rules checked again: a problem updated or escalated since
        # it was read is left alone. No save(): this is not an edit of the problem.
        won = (
            Problem.objects.filter(pk=problem.pk)
            .filter(OPEN)
            .filter(condition)
            .filter(quiet)
            .update(escalated_at=now, escalations=F("escalations") + 1)
        )
        if not won:
            return 0
        count = Problem.objects.filter(pk=problem.pk).values_list("escalations", flat=True)[0]
        text = _("Escalated to %(who)s (%(capacity)s): %(why)s.") % {
            "who": names,
            "capacity": capacity,
            "why": "; ".join(why),
        }
        if not recipients:
            text += " " + _("No email address to send it to.")
        history.event(problem, text, customer_visible=False)
        if recipients:
            _queue_mail(problem, count, recipients, why)
    return 1


def _queue_mail(problem, count, recipients, why):
    from accord.slas.models import Notification

    try:
        url = problem.get_absolute_url()
    except NoReverseMatch:
        url = ""
    subject = _("[%(number)s] Problem escalated: %(why)s") % {
        "number": problem.number,
        "why": why[0],
    }
    lines = [
        f"{problem.number} {problem.short_description}",
        _("Escalated because it is %(why)s.") % {"why": _(" and ").join(why)},
        _("Priority: %(p)s") % {"p": problem.get_priority_display()},
        _("Status: %(s)s") % {"s": problem.get_status_display()},
        _("Owner: %(o)s") % {"o": problem.owner or "—"},
        _("Team: %(t)s") % {"t": problem.assignment_team or "—"},
        _("Target date: %(d)s") % {"d": problem.target_date or "—"},
        _("Last updated: %(u)s")
        % {"u": timezone.localtime(problem.updated).strftime("%Y-%m-%d %H:%M")},
    ]
    if url:
        lines.append(url)
    try:
        with transaction.atomic():
            Notification.objects.create(
                key=f"problem:{problem.pk}:escalation:{count}",
                recipients=recipients,
                subject=subject[:200],
                body="\n".join(lines),
            )
    except IntegrityError:
        pass  # queued by an earlier try of this escalation
