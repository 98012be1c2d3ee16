"""Domain operations on incidents and service requests.

Every way in (web form, API, job, CLI) calls these; each checks the actor's
permission, applies the rule, writes the record (history comes with the save) and the
journal line, and leaves the transaction to the outermost caller.
"""

import datetime

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django_fsm import can_proceed

from accord.core import history
from accord.core.models import JournalEntry
from accord.core.policy import Role, can, customer_allowed, scope_for
from accord.core.records import StaleRecordError

from .choices import Priority, Status
from .models import DeskSettings, Incident, MajorIncidentReview, PriorityRule

ASSIGNMENT_FIELDS = ("assignment_team", "assignee")
# The form or serializer has already checked these references against the querysets
# the user may choose from (and the number is ours); checking them again would cost a
# query each on every write.
CALLER_CHECKED = [
    "number",
    "customer",
    "caller",
    "service",
    "category",
    "assignment_team",
    "assignee",
]


def _require(user, action, model_or_obj):
    if not can(user, action, model_or_obj):
        raise PermissionDenied(_("You are not allowed to do this."))


def _check_version(ticket, expected_version):
    if expected_version is not None and int(expected_version) != ticket.version:
        raise StaleRecordError(ticket, expected_version)


def _apply_priority(ticket, explicit_priority, reason):
    """Priority follows the matrix unless overridden, and an override needs a reason."""
    matrix = PriorityRule.lookup(ticket.impact, ticket.urgency)
    if explicit_priority in (None, "") or int(explicit_priority) == matrix:
        ticket.priority = matrix
        return None
    if not (reason or "").strip():
        raise ValidationError(
            {
                "priority_reason": _(
                    "Give a reason to set a priority other than the matrix's (P%(p)s)."
                )
                % {"p": matrix}
            }
        )
    ticket.priority = int(explicit_priority)
    return _("Priority set to %(label)s instead of P%(matrix)s: %(reason)s") % {
        "label": Priority(ticket.priority).label,
        "matrix": matrix,
        "reason": reason.strip(),
    }


def log_ticket(model, user, data: dict, *, priority=None, priority_reason=""):
    """Log a new incident or request from cleaned field values."""
    _require(user, "add", model)
    scope = scope_for(user)
    data = dict(data)
    if scope.is_customer:
        # A customer user logs for their own organisation, as themselves, unassigned.
        data["customer"] = data.get("customer") or _own_customer(scope)
        data["caller"] = user
        for name in (*ASSIGNMENT_FIELDS, "category"):
            data.pop(name, None)
        priority = None
    data.setdefault("caller", user)
    customer = data.get("customer")
    if customer is None or not customer_allowed(user, customer.pk):
        raise ValidationError({"customer": _("Select a customer you serve.")})
    ticket = model(**data)
    with transaction.atomic():
        if priority in (None, ""):
            # The matrix's priority, computed by the INSERT itself.
            override_note = None
            ticket.full_clean(exclude=[*CALLER_CHECKED, "priority"], validate_unique=False)
            ticket.priority = PriorityRule.expression(ticket.impact, ticket.urgency)
        else:
            override_note = _apply_priority(ticket, priority, priority_reason)
            ticket.full_clean(exclude=CALLER_CHECKED, validate_unique=False)
        if ticket.assignment_team_id or ticket.assignee_id:
            ticket.mark_assigned()
        ticket.save()
        if override_note:
            history.event(ticket, override_note, customer_visible=False)
    return ticket


def _own_customer(scope):
    from accord.organizations.models import Customer

    return Customer.objects.filter(pk__in=scope.customer_ids).first()


def update_ticket(
    ticket, user, changes: dict, *, expected_version=None, priority=None, priority_reason=""
):
    """Edit fields of an open record (not its status: that goes through transitions)."""
    _require(user, "change", ticket)
    _check_version(ticket, expected_version)
    customer = changes.get("customer", ticket.customer)
    if customer is None or not customer_allowed(user, customer.pk):
        raise ValidationError({"customer": _("Select a customer you serve.")})
    if ticket.status in (Status.CLOSED, Status.CANCELLED):
        raise ValidationError(_("A closed or cancelled record can no longer be edited."))
    before_team, before_assignee = ticket.assignment_team, ticket.assignee
    current_priority = ticket.priority
    for name, value in changes.items():
        setattr(ticket, name, value)
    rated = ticket.impact != ticket.loaded_value("impact") or (
        ticket.urgency != ticket.loaded_value("urgency")
    )
    untouched = priority in (None, "") or int(priority) == current_priority
    with transaction.atomic():
        override_note = None
        if rated and untouched:
            override_note = _apply_priority(ticket, None, "")
        elif not untouched:
            override_note = _apply_priority(ticket, priority, priority_reason)
        ticket.full_clean(exclude=CALLER_CHECKED, validate_unique=False)
        if ticket.status == Status.NEW and (ticket.assignment_team_id or ticket.assignee_id):
            ticket.mark_assigned()
        ticket.save(expected_version=expected_version)
        if override_note:
            history.event(ticket, override_note, customer_visible=False)
        if (before_team, before_assignee) != (ticket.assignment_team, ticket.assignee):
            history.event(
                ticket,
                _("Assigned to %(who)s") % {"who": _assignment_label(ticket)},
                customer_visible=False,
            )
    return ticket


def _assignment_label(ticket):
    parts = [str(x) for x in (ticket.assignment_team, ticket.assignee) if x is not None]
    return " / ".join(parts) or _("nobody")


def _team_for(ticket, user):
    """The record's team if the user is in it, else the user's own (first) team."""
    team = ticket.assignment_team
    if team is None or not team.members.filter(pk=user.pk).exists():
        team = user.teams.order_by("name").first()
    return team


def assign_to_me(ticket, user, *, expected_version=None):
    team = _team_for(ticket, user)
    return update_ticket(
        ticket, user, {"assignee": user, "assignment_team": team}, expected_version=expected_version
    )


# name -> (method, label, roles besides staff who may take it)
TRANSITIONS = {
    "start": ("start_work", _("Start work"), ()),
    "wait_customer": ("wait_for_customer", _("Pending customer"), ()),
    "wait_supplier": ("wait_for_supplier", _("Pending supplier"), ()),
    "wait_change": ("wait_for_change", _("Pending change"), ()),
    "resume": ("resume", _("Resume"), ()),
    "resolve": ("resolve", _("Resolve"), ()),
    "reopen": ("reopen", _("Reopen"), (Role.CUSTOMER,)),
    "close": ("close", _("Confirm and close"), (Role.CUSTOMER,)),
    "cancel": ("cancel", _("Cancel"), ()),
}


def available_transitions(ticket, user):
    """The transitions this user could take now, as (name, label)."""
    scope = scope_for(user)
    if scope is None or scope.read_only:
        return []
    out = []
    for name, (method, label, others) in TRANSITIONS.items():
        if scope.is_customer and Role.CUSTOMER not in others:
            continue
        if can_proceed(getattr(ticket, method), check_conditions=False):
            out.append((name, label))
    return out


def transition(
    ticket, user, name, *, expected_version=None, note="", resolution_code="", resolution_notes=""
):
    """Move a record along its lifecycle, journalled."""
    if name not in TRANSITIONS:
        raise ValidationError({"transition": _("Unknown action %(name)s.") % {"name": name}})
    method_name, label, others = TRANSITIONS[name]
    scope = scope_for(user)
    if scope is None or scope.read_only or (scope.is_customer and Role.CUSTOMER not in others):
        raise PermissionDenied(_("You are not allowed to do this."))
    _check_version(ticket, expected_version)
    method = getattr(ticket, method_name)
    if not can_proceed(method, check_conditions=False):
        raise ValidationError(
            {
                "transition": _("%(action)s is not possible while the record is %(status)s.")
                % {"action": label, "status": ticket.get_status_display()}
            }
        )
    if name == "resolve":
        ticket.resolution_code = resolution_code or ticket.resolution_code
        ticket.resolution_notes = resolution_notes or ticket.resolution_notes
        errors = {}
        if not ticket.resolution_code:
            errors["resolution_code"] = _("Choose a resolution code.")
        if not (ticket.resolution_notes or "").strip():
            errors["resolution_notes"] = _("Say how it was resolved.")
        if errors:
            raise ValidationError(errors)
    if name in ("cancel", "reopen") and not (note or "").strip():
        raise ValidationError({"note": _("Give a reason.")})
    if name == "close" and not can_proceed(method):
        raise ValidationError(
            {"transition": _("Complete the major incident review before closing.")}
        )
    with transaction.atomic():
        if name == "start" and ticket.assignee_id is None and scope.is_staff:
            # Whoever starts unassigned work takes it, within a team they belong to.
            ticket.assignee = user
            ticket.assignment_team = _team_for(ticket, user)
        method()
        ticket.save(expected_version=expected_version)
        text = _("Status changed to %(status)s.") % {"status": ticket.get_status_display()}
        if name == "resolve":
            text += " " + _("Resolution: %(code)s. %(notes)s") % {
                "code": ticket.get_resolution_code_display(),
                "notes": ticket.resolution_notes,
            }
        if note:
            text += " " + note.strip()
        history.event(ticket, text, customer_visible=True)
    return ticket


def add_comment(ticket, user, kind, body):
    """A reply to the customer or an internal work note."""
    if kind not in (JournalEntry.Kind.REPLY, JournalEntry.Kind.WORK_NOTE):
        raise ValidationError({"kind": _("Choose reply or work note.")})
    _require(user, "reply" if kind == JournalEntry.Kind.REPLY else "work_note", ticket)
    body = (body or "").strip()
    if not body:
        raise ValidationError({"body": _("Write something first.")})
    if len(body) > 20000:
        raise ValidationError({"body": _("Keep it under 20,000 characters.")})
    with transaction.atomic():
        entry = history.journal(ticket, kind, body)
        scope = scope_for(user)
        if scope.is_customer and ticket.status == Status.PENDING_CUSTOMER:
            # The customer answered: the record goes back to the desk.
            ticket.resume()
            ticket.save()
            history.event(ticket, _("Customer replied; back in progress."))
    return entry


# --- major incidents -----------------------------------------------------------------
def declare_major(incident, user, *, reason, manager, expected_version=None):
    _require(user, "change", incident)
    _check_version(incident, expected_version)
    errors = {}
    if not (reason or "").strip():
        errors["major_reason"] = _("Say why this is a major incident.")
    if manager is None:
        errors["major_manager"] = _("Name the major incident manager.")
    elif manager.role not in (Role.ADMINISTRATOR, Role.AGENT, Role.MANAGER, Role.OWNER):
        errors["major_manager"] = _("The major incident manager must be a staff member.")
    if incident.is_major:
        errors["is_major"] = _("This incident is already a major incident.")
    if not incident.is_open:
        errors["status"] = _("Only an open incident can be declared major.")
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        incident.is_major = True
        incident.major_reason = reason.strip()
        incident.major_manager = manager
        incident.major_declared_at = timezone.now()
        incident.save(expected_version=expected_version)
        history.event(
            incident,
            _("Declared a major incident (manager: %(m)s): %(r)s") % {"m": manager, "r": reason},
            customer_visible=False,
        )
    return incident


def _require_major(incident, user):
    _require(user, "change", incident)
    if not incident.is_major:
        raise ValidationError(_("This is not a major incident."))


def add_major_update(incident, user, body):
    _require_major(incident, user)
    if not (body or "").strip():
        raise ValidationError({"body": _("Write the update.")})
    with transaction.atomic():
        return incident.major_updates.create(body=body.strip(), author=user)


def log_communication(incident, user, *, channel, audience, subject, body):
    _require_major(incident, user)
    from .models import CustomerCommunication

    comm = CustomerCommunication(
        incident=incident,
        channel=channel,
        audience=audience,
        subject=subject,
        body=body,
        author=user,
    )
    comm.full_clean(exclude=["incident", "author"])
    with transaction.atomic():
        comm.save()
        history.event(
            incident,
            _("Customers informed (%(ch)s): %(s)s")
            % {"ch": comm.get_channel_display(), "s": subject},
            customer_visible=False,
        )
    return comm


def save_review(incident, user, data: dict, *, complete: bool):
    _require_major(incident, user)
    review = MajorIncidentReview.objects.filter(incident=incident).first() or MajorIncidentReview(
        incident=incident
    )
    if review.completed_at is not None:
        raise ValidationError(_("The review is complete and can no longer be changed."))
    for name, value in data.items():
        setattr(review, name, value)
    if complete:
        review.completed_at = timezone.now()
        review.completed_by = user
    review.full_clean(exclude=["incident", "completed_by"])
    with transaction.atomic():
        review.save()
        if complete:
            history.event(incident, _("Major incident review completed."), customer_visible=False)
    return review


# --- jobs ------------------------------------------------------------------------
def close_expired_resolutions(models, now=None):
    """Close records resolved longer ago than the desk's auto-close period. Safe to
    repeat: each record is re-read under lock and skipped if no longer due."""
    now = now or timezone.now()
    cutoff = now - datetime.timedelta(days=DeskSettings.get().auto_close_days)
    closed = 0
    for model in models:
        due = model.objects.filter(status=Status.RESOLVED, resolved_at__lte=cutoff)
        # The ids are read in full first: a cursor left open across the writes below
        # would hold SQLite's read snapshot, and once another request commits, the
        # next write fails with "database is locked".
        for pk in list(due.values_list("pk", flat=True)):
            with transaction.atomic():
                ticket = model.objects.select_for_update().filter(pk=pk).first()
                if (
                    ticket is None
                    or ticket.status != Status.RESOLVED
                    or ticket.resolved_at > cutoff
                ):
                    continue
                if isinstance(ticket, Incident) and not ticket.major_review_complete():
                    continue
                ticket.close()
                ticket.save()
                history.event(
                    ticket,
                    _("Closed automatically: resolved %(days)s days ago without confirmation.")
                    % {"days": (now - ticket.resolved_at).days},
                )
                closed += 1
    return closed
