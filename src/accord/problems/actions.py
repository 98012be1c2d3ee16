"""Domain operations on problems and known errors.

Every way in (pages, API, jobs) calls these; each checks the actor's permission and
the process rules, writes the record (history comes with the save) and its journal
lines, and leaves the transaction to the outermost caller. A refusal is a
ValidationError naming the field, or PermissionDenied.
"""

import datetime

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _
from django_fsm import can_proceed

from accord.core import history
from accord.core.models import JournalEntry
from accord.core.policy import can, name_in_journal, restrict, scope_for, seen_by_every_reader
from accord.core.records import StaleRecordError
from accord.incidents.choices import Priority
from accord.incidents.models import Incident

from .choices import KnownErrorStatus, Origin, Status
from .models import (
    RISK_APPROVER_ROLES,
    AnalysisStep,
    ContributingFactor,
    KnownError,
    KnownErrorUse,
    Problem,
    ProblemIncident,
    ProblemPriorityRule,
    ProblemReview,
    ProblemSettings,
    ReviewAction,
    TimelineEntry,
)

M2M_FIELDS = ("services", "customers")
# Checked by the form or serializer against what the user may choose.
CALLER_CHECKED = ["number", "owner", "assignment_team", "category"]


def _require(user, action, model_or_obj):
    if not can(user, action, model_or_obj):
        raise PermissionDenied(_("You are not allowed to do this."))


def _check_version(record, expected_version):
    if expected_version is not None and int(expected_version) != record.version:
        raise StaleRecordError(record, expected_version)


def _priority(problem, explicit, reason):
    """The problem matrix's priority unless overridden; an override needs a reason.
    Returns the journal note of an override (or None)."""
    matrix = ProblemPriorityRule.lookup(problem.impact, problem.urgency)
    if explicit in (None, "") or int(explicit) == matrix:
        problem.priority = matrix
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
    problem.priority = int(explicit)
    return _("Priority set to %(label)s instead of P%(matrix)s: %(reason)s") % {
        "label": Priority(problem.priority).label,
        "matrix": matrix,
        "reason": reason.strip(),
    }


def target_date_for(priority, start=None):
    start = start or timezone.now()
    days = ProblemSettings.get().target_days(priority)
    return timezone.localdate(start) + datetime.timedelta(days=days)


def visible_incidents(user, incidents):
    """The incidents as the user may see them; ValidationError naming any other (the
    same words for "no such incident" and "not yours to see")."""
    ids = {i.pk for i in incidents}
    found = {
        i.pk: i
        for i in restrict(
            Incident.objects.filter(pk__in=ids).select_related("customer", "service"), user
        )
    }
    missing = [i for i in incidents if i.pk not in found]
    if missing:
        raise ValidationError(
            {
                "incidents": _("You have no incident %(numbers)s.")
                % {"numbers": ", ".join(str(i.number or i.pk) for i in missing)}
            }
        )
    return [found[i.pk] for i in incidents]


# --- problems ------------------------------------------------------------------------
def create_problem(
    user,
    data: dict,
    *,
    services=(),
    customers=(),
    incidents=(),
    priority=None,
    priority_reason="",
    origin=None,
):
    """Log a problem from cleaned field values; ``incidents`` are linked to it (their
    customers and services are added to the problem's)."""
    _require(user, "add", Problem)
    incidents = visible_incidents(user, list(incidents))
    problem = Problem(**data)
    problem.origin = origin or (Origin.INCIDENTS if incidents else Origin.PROACTIVE)
    note = _priority(problem, priority, priority_reason)
    problem.target_date = problem.target_date or target_date_for(problem.priority)
    problem.full_clean(exclude=[*CALLER_CHECKED, *M2M_FIELDS], validate_unique=False)
    services = {s.pk: s for s in services}
    customers = {c.pk: c for c in customers}
    for incident in incidents:
        customers.setdefault(incident.customer_id, incident.customer)
        if incident.service_id:
            services.setdefault(incident.service_id, incident.service)
    with transaction.atomic():
        problem.save()
        problem.services.set(list(services.values()))
        problem.customers.set(list(customers.values()))
        if note:
            history.event(problem, note, customer_visible=False)
        for incident in incidents:
            _link(problem, incident, user)
    return problem


def update_problem(
    problem,
    user,
    changes: dict,
    *,
    services=None,
    customers=None,
    expected_version=None,
    priority=None,
    priority_reason="",
):
    """Edit fields of an open problem (its status goes through ``transition``)."""
    _require(user, "change", problem)
    _check_version(problem, expected_version)
    if not problem.is_open:
        raise ValidationError(_("A closed or cancelled problem cannot be changed."))
    current_priority = problem.priority
    for name, value in changes.items():
        setattr(problem, name, value)
    rated = problem.impact != problem.loaded_value("impact") or (
        problem.urgency != problem.loaded_value("urgency")
    )
    # A priority left as it was is no override: an edit keeps an earlier override
    # unless impact or urgency change (then the matrix decides again).
    untouched = priority in (None, "") or int(priority) == current_priority
    note = None
    if rated and untouched:
        note = _priority(problem, None, "")
    elif not untouched:
        note = _priority(problem, priority, priority_reason)
    problem.full_clean(exclude=[*CALLER_CHECKED, *M2M_FIELDS], validate_unique=False)
    with transaction.atomic():
        before = history.m2m_snapshot(problem, M2M_FIELDS)
        problem.save(expected_version=expected_version)
        if services is not None:
            problem.services.set(services)
        if customers is not None:
            problem.customers.set(customers)
        history.record_m2m(problem, before)
        if note:
            history.event(problem, note, customer_visible=False)
    return problem


def _link(problem, incident, user):
    ProblemIncident.objects.create(problem=problem, incident=incident, linked_by=user)
    history.event(
        incident,
        _("Linked to problem %(problem)s.") % {"problem": name_in_journal(incident, problem)},
        customer_visible=False,
    )
    # A problem's readers may serve other customers than the incident's.
    history.event(
        problem,
        _("Incident %(incident)s linked.") % {"incident": incident}
        if seen_by_every_reader(problem, incident)
        else _("An incident linked (the problem's page lists those you may see)."),
        customer_visible=False,
    )


def link_incidents(problem, user, incidents):
    """Link more incidents to a problem; their customers and services join its own.
    Returns the incidents newly linked."""
    _require(user, "change", problem)
    if not problem.is_open:
        raise ValidationError({"incidents": _("This problem is no longer open.")})
    incidents = visible_incidents(user, list(incidents))
    already = set(
        ProblemIncident.objects.filter(problem=problem).values_list("incident_id", flat=True)
    )
    fresh = [i for i in incidents if i.pk not in already]
    if not fresh:
        raise ValidationError({"incidents": _("These incidents are already linked.")})
    with transaction.atomic():
        before = history.m2m_snapshot(problem, M2M_FIELDS)
        problem.customers.add(*{i.customer_id for i in fresh})
        problem.services.add(*{i.service_id for i in fresh if i.service_id})
        history.record_m2m(problem, before)
        for incident in fresh:
            _link(problem, incident, user)
    return fresh


def unlink_incident(problem, user, incident):
    _require(user, "change", problem)
    visible_incidents(user, [incident])
    with transaction.atomic():
        deleted, _rows = ProblemIncident.objects.filter(problem=problem, incident=incident).delete()
        if not deleted:
            raise ValidationError({"incidents": _("This incident is not linked.")})
        history.event(
            incident,
            _("No longer linked to problem %(problem)s.")
            % {"problem": name_in_journal(incident, problem)},
            customer_visible=False,
        )
        history.event(
            problem,
            _("Incident %(incident)s unlinked.") % {"incident": incident}
            if seen_by_every_reader(problem, incident)
            else _("An incident unlinked."),
            customer_visible=False,
        )


def problems_of(incident, user):
    """The problems linked to an incident that the user may see."""
    ids = ProblemIncident.objects.filter(incident=incident).values("problem_id")
    return list(restrict(Problem.objects.filter(pk__in=ids), user).order_by("pk"))


# name -> (model method, label); the rules of each step are in _step_rules.
TRANSITIONS = {
    "investigate": ("investigate", _("Start investigation")),
    "root_cause": ("find_root_cause", _("Root cause known")),
    "known_error": ("declare_known_error", _("Declare known error")),
    "resolve": ("resolve", _("Resolve (fixed by a change)")),
    "reopen": ("reopen", _("Reopen")),
    "close": ("close", _("Close")),
    "accept_risk": ("accept_risk", _("Accept the risk")),
    "cancel": ("cancel", _("Cancel")),
}


def available_transitions(problem, user):
    """The steps this user could take now, as (name, label)."""
    scope = scope_for(user)
    if scope is None or scope.read_only or not can(user, "change", problem):
        return []
    out = []
    for name, (method, label) in TRANSITIONS.items():
        if name == "accept_risk" and not can(user, "accept_risk", problem):
            continue
        if can_proceed(getattr(problem, method), check_conditions=False):
            out.append((name, label))
    return out


def transition(problem, user, name, *, expected_version=None, note="", **fields):
    """Move a problem along its lifecycle, journalled. ``fields`` carries what the
    step records: root_cause, workaround, fix_change, fix_description, risk_reason,
    risk_approver."""
    if name not in TRANSITIONS:
        raise ValidationError({"transition": _("Unknown action %(name)s.") % {"name": name}})
    method_name, label = TRANSITIONS[name]
    _require(user, "accept_risk" if name == "accept_risk" else "change", problem)
    _check_version(problem, expected_version)
    method = getattr(problem, method_name)
    if not can_proceed(method, check_conditions=False):
        raise ValidationError(
            {
                "transition": _("%(action)s is not possible while the problem is %(status)s.")
                % {"action": label, "status": problem.get_status_display()}
            }
        )
    allowed = {"root_cause", "workaround", "fix_change", "fix_description", "risk_reason"}
    for key, value in fields.items():
        if key == "risk_approver":
            problem.risk_approver = value
        elif key in allowed and value not in (None, ""):
            setattr(problem, key, value.strip() if isinstance(value, str) else value)
    _step_rules(problem, user, name, note)
    with transaction.atomic():
        method()
        problem.save(expected_version=expected_version)
        text = _("Status changed to %(status)s.") % {"status": problem.get_status_display()}
        if name == "resolve":
            text += " " + _("Fixed by %(change)s: %(fix)s") % {
                "change": problem.fix_change,
                "fix": problem.fix_description,
            }
        if name == "accept_risk":
            text += " " + _("Approved by %(who)s: %(why)s") % {
                "who": problem.risk_approver,
                "why": problem.risk_reason,
            }
        if note:
            text += " " + note.strip()
        history.event(problem, text, customer_visible=False)
        if name == "known_error":
            _known_error_from(problem, user)
        if name == "resolve":
            _tell_callers(problem)
        if name == "close":
            _fix_known_errors(problem)
    return problem


def _step_rules(problem, user, name, note):
    """The conditions of a step, each refusal naming its field."""
    errors = {}
    if name in ("root_cause", "known_error", "resolve") and not (problem.root_cause or "").strip():
        errors["root_cause"] = _("Describe the root cause.")
    if name == "known_error" and not (problem.workaround or "").strip():
        errors["workaround"] = _("Describe the workaround.")
    if name == "resolve":
        if not (problem.fix_change or "").strip():
            errors["fix_change"] = _("Name the change that fixes it.")
        if not (problem.fix_description or "").strip():
            errors["fix_description"] = _("Describe the fix.")
    if name == "accept_risk":
        if not (problem.risk_reason or "").strip():
            errors["risk_reason"] = _("Say why the risk is accepted.")
        approver = problem.risk_approver
        if approver is None:
            errors["risk_approver"] = _("Name who approved accepting the risk.")
        elif approver.role not in RISK_APPROVER_ROLES or not approver.is_active:
            errors["risk_approver"] = _(
                "The approver must be an administrator, a team manager or a service owner."
            )
    if name in ("cancel", "reopen") and not (note or "").strip():
        errors["note"] = _("Give a reason.")
    if name in ("close", "accept_risk"):
        blockers = problem.closure_blockers()
        if blockers:
            errors["transition"] = [str(b) for b in blockers]
    if errors:
        raise ValidationError(errors)


def confirm_fix(problem, user, *, note="", expected_version=None):
    """Record that the fixing change closed successfully (until changes are records
    of their own, someone who saw it says so)."""
    _require(user, "change", problem)
    _check_version(problem, expected_version)
    if problem.status != Status.RESOLVED:
        raise ValidationError({"transition": _("Only a resolved problem's fix can be confirmed.")})
    if problem.fix_verified_at is not None:
        raise ValidationError({"transition": _("The fix is already confirmed.")})
    with transaction.atomic():
        problem.fix_verified_at = timezone.now()
        problem.fix_verified_by = user
        problem.save(expected_version=expected_version)
        text = _("Change %(change)s confirmed closed successfully.") % {
            "change": problem.fix_change
        }
        if note:
            text += " " + note.strip()
        history.event(problem, text, customer_visible=False)
    return problem


def _tell_callers(problem):
    """The callers of the problem's open incidents learn of the fix in their journals."""
    text = _(
        "The underlying problem (%(number)s) has been fixed. If you still see this issue, "
        "reply to this message."
    ) % {"number": problem.number}
    incidents = Incident.objects.filter(problem_links__problem=problem, is_open=True)
    for incident in incidents:
        history.journal(incident, JournalEntry.Kind.REPLY, text)


def _known_error_from(problem, user):
    """A problem that becomes a known error gets its known error record, unless it
    has one already (then that one is brought up to date)."""
    existing = problem.known_errors.order_by("pk").first()
    if existing is not None:
        changes = {
            "symptoms": problem.symptoms or existing.symptoms,
            "root_cause": problem.root_cause,
            "workaround": problem.workaround,
        }
        for name, value in changes.items():
            setattr(existing, name, value)
        existing.save()
        return existing
    known = KnownError(
        short_description=problem.short_description,
        symptoms=problem.symptoms or problem.description or problem.short_description,
        root_cause=problem.root_cause,
        workaround=problem.workaround,
        problem=problem,
    )
    known.save()
    known.services.set(problem.services.all())
    known.customers.set(problem.customers.all())
    _copy_cis(problem, known, user)
    history.event(
        problem,
        _("Known error %(number)s recorded.") % {"number": known.number},
        customer_visible=False,
    )
    return known


def _copy_cis(source, target, user):
    from accord.cmdb.actions import link_record
    from accord.cmdb.models import CILink

    for ci in CILink.objects.filter(
        content_type__app_label=source._meta.app_label,
        content_type__model=source._meta.model_name,
        object_id=source.pk,
    ).select_related("ci"):
        link_record(ci.ci, target, user)


def _fix_known_errors(problem):
    for known in problem.known_errors.filter(status=KnownErrorStatus.OPEN):
        known.status = KnownErrorStatus.FIXED
        known.fixed_at = timezone.now()
        known.save()
        history.event(
            known,
            _("Fixed: problem %(number)s closed after change %(change)s.")
            % {"number": problem.number, "change": problem.fix_change},
            customer_visible=False,
        )


def add_work_note(problem, user, body):
    """An internal note in the problem's journal (problems have no customer side)."""
    _require(user, "change", problem)
    body = (body or "").strip()
    if not body:
        raise ValidationError({"body": _("Write something first.")})
    if len(body) > 20000:
        raise ValidationError({"body": _("Keep it under 20,000 characters.")})
    with transaction.atomic():
        return history.journal(problem, JournalEntry.Kind.WORK_NOTE, body)


# --- root cause analysis -------------------------------------------------------------
RCA_ROWS = {
    "timeline": (TimelineEntry, ("at", "description")),
    "factor": (ContributingFactor, ("kind", "description")),
    "step": (AnalysisStep, ("position", "question", "answer")),
}


def add_rca_row(problem, user, kind, data: dict):
    """Add a timeline entry, a contributing factor or an analysis step."""
    _require(user, "change", problem)
    if kind not in RCA_ROWS:
        raise ValidationError({"kind": _("Unknown part of the analysis.")})
    model, names = RCA_ROWS[kind]
    values = {n: data.get(n) for n in names}
    if kind == "step" and values["position"] in (None, ""):
        last = problem.analysis_steps.order_by("-position").values_list("position", flat=True)
        values["position"] = (last.first() or 0) + 1
    row = model(problem=problem, **values)
    row.full_clean(exclude=["problem"])
    with transaction.atomic():
        row.save()
        history.event(
            problem,
            _("Analysis: %(kind)s added: %(row)s") % {"kind": model._meta.verbose_name, "row": row},
            customer_visible=False,
        )
    return row


def remove_rca_row(problem, user, kind, row_id):
    _require(user, "change", problem)
    if kind not in RCA_ROWS:
        raise ValidationError({"kind": _("Unknown part of the analysis.")})
    model, _names = RCA_ROWS[kind]
    row = model.objects.filter(problem=problem, pk=row_id).first()
    if row is None:
        raise ValidationError({"kind": _("That entry is not part of this problem.")})
    with transaction.atomic():
        row.delete()
        history.event(
            problem,
            _("Analysis: %(kind)s removed: %(row)s")
            % {"kind": model._meta.verbose_name, "row": row},
            customer_visible=False,
        )


# --- reviews ---------------------------------------------------------------------
def save_review(problem, user, data: dict, *, complete: bool):
    """Write the problem review; ``complete`` ends it (it then no longer changes)."""
    _require(user, "change", problem)
    review = ProblemReview.objects.filter(problem=problem).first() or ProblemReview(problem=problem)
    if review.completed_at is not None:
        raise ValidationError(_("The review is complete and can no longer be changed."))
    for name in ("summary", "went_well", "went_badly"):
        if name in data:
            setattr(review, name, (data[name] or "").strip())
    if complete:
        review.completed_at = timezone.now()
        review.completed_by = user
    review.full_clean(exclude=["problem", "completed_by"])
    with transaction.atomic():
        review.save()
        if complete:
            history.event(problem, _("Problem review completed."), customer_visible=False)
    return review


def add_review_action(problem, user, *, description, owner, due):
    _require(user, "change", problem)
    review = ProblemReview.objects.filter(problem=problem).first()
    if review is None:
        raise ValidationError({"description": _("Write the review first.")})
    action = ReviewAction(review=review, description=(description or "").strip(), due=due)
    action.owner = owner
    action.full_clean(exclude=["review"])
    with transaction.atomic():
        action.save()
        history.event(
            problem,
            _("Prevention action for %(owner)s by %(due)s: %(what)s")
            % {"owner": owner, "due": due, "what": action.description},
            customer_visible=False,
        )
    return action


def complete_review_action(action, user, *, note=""):
    problem = action.review.problem
    _require(user, "change", problem)
    if action.done_at is not None:
        raise ValidationError({"done_note": _("This action is already done.")})
    with transaction.atomic():
        action.done_at = timezone.now()
        action.done_note = (note or "").strip()[:1000]
        action.save()
        history.event(
            problem,
            _("Prevention action done: %(what)s") % {"what": action.description},
            customer_visible=False,
        )
    return action


# --- known errors --------------------------------------------------------------------
def save_known_error(known, user, *, services=None, customers=None, expected_version=None):
    """Create or update a known error (its fields already set)."""
    _require(user, "add" if known._state.adding else "change", known)
    _check_version(known, expected_version)
    known.full_clean(exclude=["number", "problem", *M2M_FIELDS], validate_unique=False)
    if known.status == KnownErrorStatus.FIXED and known.fixed_at is None:
        known.fixed_at = timezone.now()
    creating = known._state.adding
    with transaction.atomic():
        before = history.m2m_snapshot(None if creating else known, M2M_FIELDS)
        known.save(expected_version=expected_version)
        if services is not None:
            known.services.set(services)
        if customers is not None:
            known.customers.set(customers)
        if not creating:
            history.record_m2m(known, before)
    return known


def apply_workaround(known, incident, user):
    """Use a known error's workaround on an incident: they are linked, the incident's
    journal says so (with the steps), and the known error counts one more incident."""
    _require(user, "change", incident)
    visible_incidents(user, [incident])
    if not restrict(KnownError.objects.filter(pk=known.pk), user).exists():
        raise ValidationError({"known_error": _("You have no known error %(n)s.") % {"n": known}})
    if known.status == KnownErrorStatus.RETIRED:
        raise ValidationError({"known_error": _("This known error is retired.")})
    if KnownErrorUse.objects.filter(known_error=known, incident=incident).exists():
        raise ValidationError(
            {"known_error": _("This workaround is already applied to this incident.")}
        )
    with transaction.atomic():
        KnownErrorUse.objects.create(known_error=known, incident=incident, applied_by=user)
        KnownError.objects.filter(pk=known.pk).update(use_count=F("use_count") + 1)
        history.journal(
            incident,
            JournalEntry.Kind.WORK_NOTE,
            _("Workaround from %(known)s applied:\n%(steps)s")
            % {"known": known, "steps": known.workaround},
        )
        # Not named here: the known error may be shared by customers who must not
        # learn each other's incident numbers (its page lists those each may see).
        history.event(known, _("Workaround applied to an incident."), customer_visible=False)
    known.use_count += 1
    return known
