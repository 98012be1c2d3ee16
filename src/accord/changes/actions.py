"""Domain operations on changes: every way in (pages, API, jobs) calls these. Each
checks the actor's permission and the process rules, writes the record (history
comes with the save) and its journal lines. A refusal is a ValidationError naming
the field, or PermissionDenied.
"""

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django_fsm import can_proceed

from accord.core import history
from accord.core.models import JournalEntry
from accord.core.policy import can, name_in_journal, restrict
from accord.core.records import StaleRecordError

from . import approvals, conflicts
from .choices import Approver, Decision, Kind, Outcome, Status
from .models import (
    Change,
    ChangeApproval,
    ChangeFix,
    ChangeRiskAnswer,
    ChangeSettings,
    Conflict,
    RiskQuestion,
)

M2M_FIELDS = ("services", "customers")
CALLER_CHECKED = ["number", "requester", "assignment_team", "assignee", "template", "board"]
# The fields a change keeps once approved; moving its slot or plans needs a new approval.
EDITABLE_STATUSES = (Status.DRAFT, Status.SUBMITTED, Status.ASSESSED)
# The statuses in which a change authorises work on live configuration items.
AUTHORISING_STATUSES = (
    Status.APPROVED,
    Status.SCHEDULED,
    Status.IMPLEMENTING,
    Status.IMPLEMENTED,
)
MAX_NOTE = 20000


def _require(user, action, model_or_obj):
    if not can(user, action, model_or_obj):
        raise PermissionDenied(_("You are not allowed to do this."))


def _check_version(record, expected_version):
    if expected_version is not None and int(expected_version) != record.version:
        raise StaleRecordError(record, expected_version)


def _check_slot(change):
    if change.planned_start and change.planned_end and change.planned_end <= change.planned_start:
        raise ValidationError({"planned_end": _("The planned end must be after the start.")})


def create_change(
    user,
    data: dict,
    *,
    services=(),
    customers=(),
    cis=(),
    problems=(),
    incidents=(),
):
    """Log a change (a draft) from cleaned values. A standard change takes its plans
    from its template; the problems and incidents it fixes are linked."""
    _require(user, "add", Change)
    change = Change(**data)
    change.requester = change.requester if change.requester_id else user
    if change.kind == Kind.STANDARD:
        template = change.template
        if template is None or not template.active:
            raise ValidationError({"template": _("Choose the standard change it follows.")})
        change.implementation_plan = change.implementation_plan or template.implementation_plan
        change.backout_plan = change.backout_plan or template.backout_plan
        change.test_plan = change.test_plan or template.test_plan
        change.description = change.description or template.description
        services = list(services) or list(template.services.all())
    elif change.template_id:
        raise ValidationError({"template": _("Only a standard change follows a template.")})
    _check_slot(change)
    change.full_clean(exclude=[*CALLER_CHECKED, *M2M_FIELDS], validate_unique=False)
    problems = list(restrict_all(problems, user, "problems"))
    incidents = list(restrict_all(incidents, user, "incidents"))
    customers = {c.pk: c for c in customers}
    for record in incidents:
        customers.setdefault(record.customer_id, record.customer)
    for problem in problems:
        for customer in problem.customers.all():
            customers.setdefault(customer.pk, customer)
    with transaction.atomic():
        change.save()
        change.services.set(list(services))
        change.customers.set(list(customers.values()))
        for problem in problems:
            ChangeFix.objects.create(change=change, problem=problem)
            history.event(
                problem,
                _("Change %(change)s raised to fix it.") % {"change": change.number},
                customer_visible=False,
            )
        for incident in incidents:
            ChangeFix.objects.create(change=change, incident=incident)
            history.event(
                incident,
                _("Change %(change)s raised to fix it.") % {"change": change.number},
                customer_visible=False,
            )
        set_cis(change, user, cis, journal=False)
    return change


def restrict_all(records, user, field):
    """The records if the user may see them all; ValidationError naming ``field``."""
    records = list(records)
    if not records:
        return []
    model = type(records[0])
    seen = set(
        restrict(model.objects.filter(pk__in=[r.pk for r in records]), user).values_list(
            "pk", flat=True
        )
    )
    missing = [r for r in records if r.pk not in seen]
    if missing:
        raise ValidationError(
            {
                field: _("You have no record %(numbers)s.")
                % {"numbers": ", ".join(getattr(r, "number", str(r.pk)) for r in missing)}
            }
        )
    return records


def update_change(
    change, user, changes: dict, *, services=None, customers=None, expected_version=None
):
    """Edit a change that is not yet awaiting approval."""
    _require(user, "change", change)
    _check_version(change, expected_version)
    if change.status not in EDITABLE_STATUSES:
        raise ValidationError(
            _("A change %(status)s can no longer be edited; cancel it and raise a new one.")
            % {"status": change.get_status_display().lower()}
        )
    for name, value in changes.items():
        setattr(change, name, value)
    _check_slot(change)
    change.full_clean(exclude=[*CALLER_CHECKED, *M2M_FIELDS], validate_unique=False)
    with transaction.atomic():
        before = history.m2m_snapshot(change, M2M_FIELDS)
        change.save(expected_version=expected_version)
        if services is not None:
            change.services.set(services)
        if customers is not None:
            change.customers.set(customers)
        history.record_m2m(change, before)
        if change.status != Status.DRAFT:
            refresh_conflicts(change)
    return change


def set_cis(change, user, cis, *, journal=True):
    """Name the CIs the change touches (replacing the list)."""
    from accord.cmdb.actions import link_record, unlink_record
    from accord.cmdb.models import ConfigurationItem

    _require(user, "change", change)
    if journal and change.status not in EDITABLE_STATUSES:
        raise ValidationError({"cis": _("The CIs of a change can no longer change now.")})
    wanted = {ci.pk: ci for ci in cis}
    if wanted:
        seen = set(
            restrict(ConfigurationItem.objects.filter(pk__in=list(wanted)), user).values_list(
                "pk", flat=True
            )
        )
        missing = [str(pk) for pk in wanted if pk not in seen]  # ids: names may be hidden
        if missing:
            raise ValidationError(
                {"cis": _("You have no configuration item %(n)s.") % {"n": ", ".join(missing)}}
            )
    current = set(conflicts.change_ci_ids(change))
    with transaction.atomic():
        for pk in sorted(set(wanted) - current):
            link_record(wanted[pk], change, user)
        for pk in sorted(current - set(wanted)):
            unlink_record(ConfigurationItem.objects.get(pk=pk), change)
        if journal and change.status != Status.DRAFT:
            refresh_conflicts(change)


# --- risk and impact -------------------------------------------------------------------
def assess_risk(change, user, answers: dict):
    """Answer the risk questionnaire ({question id: option id}); the score and class
    follow, and with them who must approve."""
    _require(user, "change", change)
    if change.status not in EDITABLE_STATUSES:
        raise ValidationError({"risk": _("The risk can no longer be changed.")})
    questions = list(RiskQuestion.objects.filter(active=True).prefetch_related("options"))
    errors = {}
    chosen = {}
    for question in questions:
        raw = answers.get(question.pk, answers.get(str(question.pk)))
        option = next((o for o in question.options.all() if str(o.pk) == str(raw)), None)
        if option is None:
            errors[f"q{question.pk}"] = _("Answer: %(q)s") % {"q": question.text}
        chosen[question] = option
    if errors:
        raise ValidationError(errors)
    score = sum(option.score for option in chosen.values())
    with transaction.atomic():
        ChangeRiskAnswer.objects.filter(change=change).delete()
        ChangeRiskAnswer.objects.bulk_create(
            [ChangeRiskAnswer(change=change, question=q, option=o) for q, o in chosen.items()]
        )
        change.risk_score = score
        change.risk_class = ChangeSettings.get().risk_class(score)
        change.approver_kind = approvals.approver_kind(change)
        change.save()
    return change


def impact(change, user, *, limit=50):
    """What a failure of the change's CIs would affect (the CMDB's impact analysis)."""
    from accord.cmdb import graph

    ids = conflicts.change_ci_ids(change)
    return graph.impact(user, ids, limit=limit) if ids else None


# --- conflicts -----------------------------------------------------------------------------
def refresh_conflicts(change):
    """Find the change's conflicts again and keep them with it."""
    found = conflicts.find(change)
    Conflict.objects.filter(change=change).delete()
    Conflict.objects.bulk_create(
        [
            Conflict(
                change=change, kind=f.kind, other_id=f.other_id, explanation=f.explanation[:1000]
            )
            for f in found
        ]
    )
    return found


def override_conflicts(change, user, reason):
    """An approver accepts the conflicts, saying why."""
    _require(user, "approve", change)
    if not (reason or "").strip():
        raise ValidationError({"conflict_override": _("Say why the conflicts are acceptable.")})
    if not change.conflicts.exists():
        raise ValidationError({"conflict_override": _("This change has no conflicts.")})
    with transaction.atomic():
        change.conflict_override = reason.strip()
        change.conflict_override_by = user
        change.save()
        history.event(
            change,
            _("Conflicts accepted by %(who)s: %(why)s") % {"who": user, "why": reason.strip()},
            customer_visible=False,
        )
    return change


def _blocking_conflicts(change):
    return change.conflicts.exists() and not (change.conflict_override or "").strip()


# --- lifecycle -------------------------------------------------------------------------------
TRANSITIONS = {
    "submit": ("submit", _("Submit")),
    "assess": ("assess", _("Mark assessed")),
    "request_approval": ("request_approval", _("Ask for approval")),
    "schedule": ("schedule", _("Confirm the schedule")),
    "start": ("start", _("Start implementing")),
    "finish": ("finish", _("Record the outcome")),
    "begin_review": ("begin_review", _("Start the review")),
    "close": ("close", _("Close")),
    "cancel": ("cancel", _("Cancel")),
}


def available_transitions(change, user):
    if not can(user, "change", change):
        return []
    return [
        (name, label)
        for name, (method, label) in TRANSITIONS.items()
        if can_proceed(getattr(change, method), check_conditions=False)
    ]


def transition(change, user, name, *, expected_version=None, note="", outcome="", notes=""):
    if name not in TRANSITIONS:
        raise ValidationError({"transition": _("Unknown action %(name)s.") % {"name": name}})
    method_name, label = TRANSITIONS[name]
    _require(user, "change", change)
    _check_version(change, expected_version)
    method = getattr(change, method_name)
    if not can_proceed(method, check_conditions=False):
        raise ValidationError(
            {
                "transition": _("%(action)s is not possible while the change is %(status)s.")
                % {"action": label, "status": change.get_status_display().lower()}
            }
        )
    errors = {}
    if name == "submit":
        for field in change.missing_for_submission():
            errors[field] = (
                _("An emergency change needs its reason.")
                if field == "emergency_reason"
                else _("Needed before the change is submitted.")
            )
        _check_slot(change)
    if name == "assess" and not change.risk_class:
        if change.kind == Kind.STANDARD:
            change.risk_class = "low"
            change.approver_kind = approvals.approver_kind(change)
        else:
            errors["risk"] = _("Answer the risk questionnaire first.")
    if name in ("schedule", "start") and _blocking_conflicts(change):
        errors["conflict_override"] = _(
            "The schedule has conflicts; an approver must accept them with a reason."
        )
    if name == "finish":
        if outcome not in Outcome.values:
            errors["outcome"] = _("Choose the outcome.")
        if outcome in (Outcome.FAILED, Outcome.BACKED_OUT) and not (notes or "").strip():
            errors["outcome_notes"] = _("Say what happened.")
    if name == "cancel" and not (note or "").strip():
        errors["note"] = _("Give a reason.")
    if name == "close":
        blockers = change.closure_blockers()
        if blockers:
            errors["transition"] = [str(b) for b in blockers]
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        if name == "finish":
            change.outcome = outcome
            change.outcome_notes = (notes or "").strip()
        method()
        change.save(expected_version=expected_version)
        text = _("Status changed to %(status)s.") % {"status": change.get_status_display()}
        if name == "finish":
            text += " " + _("Outcome: %(o)s.") % {"o": change.get_outcome_display()}
        if note:
            text += " " + note.strip()
        history.event(change, text, customer_visible=False)
        if name in ("submit", "assess"):
            refresh_conflicts(change)
        if name == "assess" and change.approver_kind == Approver.NONE:
            change.approve()
            change.save()
            history.event(change, _("Pre-approved (standard change)."), customer_visible=False)
        if name == "request_approval":
            _ask_approvers(change)
        if name == "close" and change.outcome == Outcome.SUCCESSFUL:
            _confirm_fixes(change, user)
    return change


def _ask_approvers(change):
    board, people = approvals.approvers_for(change)
    if people is None:
        raise ValidationError({"transition": approvals.missing_approver_message(change)})
    change.board = board
    change.save()
    ChangeApproval.objects.filter(change=change).delete()
    ChangeApproval.objects.bulk_create(
        [ChangeApproval(change=change, approver=p, board=board) for p in people]
    )
    history.event(
        change,
        _("Approval asked of %(who)s.")
        % {"who": board or ", ".join(str(p) for p in people) or _("nobody")},
        customer_visible=False,
    )
    if not people:
        change.approve()
        change.save()


def decide(change, user, decision, *, comment="", override=""):
    """An approver's decision. Approving one's own change is refused; conflicts
    block approval unless this approver accepts them with a reason."""
    if decision not in (Decision.APPROVE, Decision.REJECT):
        raise ValidationError({"decision": _("Approve or reject.")})
    if change.status != Status.AWAITING_APPROVAL:
        raise ValidationError({"decision": _("This change is not awaiting approval.")})
    row = ChangeApproval.objects.filter(change=change, approver=user).first()
    if row is None:
        raise PermissionDenied(_("You are not an approver of this change."))
    if user.pk in (change.requester_id, change.assignee_id):
        raise ValidationError({"decision": _("You cannot approve or reject your own change.")})
    if decision == Decision.REJECT and not (comment or "").strip():
        raise ValidationError({"comment": _("Say why you reject it.")})
    if decision == Decision.APPROVE and _blocking_conflicts(change):
        if not (override or "").strip():
            raise ValidationError(
                {
                    "conflict_override": _(
                        "The schedule has conflicts: accept them with a reason to approve."
                    )
                }
            )
    with transaction.atomic():
        if decision == Decision.APPROVE and _blocking_conflicts(change):
            change.conflict_override = override.strip()
            change.conflict_override_by = user
        row.decision = decision
        row.comment = (comment or "").strip()
        row.decided_at = timezone.now()
        row.save()
        history.event(
            change,
            _("%(who)s: %(decision)s. %(comment)s")
            % {"who": user, "decision": Decision(decision).label, "comment": row.comment},
            customer_visible=False,
        )
        verdict = approvals.verdict(change)
        if verdict == Decision.APPROVE:
            change.approve()
            history.event(change, _("Approved."), customer_visible=False)
        elif verdict == Decision.REJECT:
            change.reject()
            history.event(change, _("Rejected."), customer_visible=False)
        change.save()
    return change


def review(change, user, notes, *, expected_version=None):
    """The post-implementation review."""
    _require(user, "change", change)
    _check_version(change, expected_version)
    if change.status not in (Status.IMPLEMENTED, Status.REVIEW):
        raise ValidationError({"review_notes": _("Review a change once it is implemented.")})
    if not (notes or "").strip():
        raise ValidationError({"review_notes": _("Write the review.")})
    with transaction.atomic():
        change.review_notes = notes.strip()
        change.reviewed_at = timezone.now()
        change.reviewed_by = user
        change.save(expected_version=expected_version)
        history.event(change, _("Post-implementation review done."), customer_visible=False)
    return change


def _confirm_fixes(change, user):
    """A change closed successfully confirms the fix of the resolved problems it
    fixes (the problems can then close)."""
    from accord.problems import actions as problem_actions
    from accord.problems.choices import Status as ProblemStatus

    for fix in change.fixes.select_related("problem").filter(problem__isnull=False):
        problem = fix.problem
        if problem.status == ProblemStatus.RESOLVED and problem.fix_verified_at is None:
            problem_actions.confirm_fix(
                problem, user, note=_("Change %(c)s closed successfully.") % {"c": change.number}
            )


def schedule_window(start, end, *, user, services=None, teams=None, cis=None):
    """The changes in [start, end) the user may see, for the forward schedule."""
    found = restrict(Change.objects.all(), user).filter(
        planned_start__lt=end, planned_end__gt=start
    )
    if services:
        found = found.filter(services__in=services)
    if teams:
        found = found.filter(assignment_team__in=teams)
    if cis:
        from django.contrib.contenttypes.models import ContentType

        from accord.cmdb.models import CILink

        ct = ContentType.objects.get_for_model(Change)
        found = found.filter(
            pk__in=CILink.objects.filter(content_type=ct, ci__in=cis).values("object_id")
        )
    return found.exclude(status__in=[Status.CANCELLED, Status.REJECTED]).distinct()


# --- work notes ------------------------------------------------------------------------------
def add_work_note(change, user, body):
    """An internal note in the change's journal (changes have no customer side)."""
    _require(user, "change", change)
    body = (body or "").strip()
    if not body:
        raise ValidationError({"body": _("Write something first.")})
    if len(body) > MAX_NOTE:
        raise ValidationError({"body": _("Keep it under 20,000 characters.")})
    with transaction.atomic():
        return history.journal(change, JournalEntry.Kind.WORK_NOTE, body)


# --- the problems and incidents a change fixes --------------------------------------------------
def _fix_field(record):
    from accord.problems.models import Problem

    return "problem" if isinstance(record, Problem) else "incident"


def _no_such(field, records):
    noun = _("problem") if field == "problems" else _("incident")
    return ValidationError(
        {
            field: _("No such %(noun)s: %(refs)s.")
            % {"noun": noun, "refs": ", ".join(getattr(r, "number", str(r.pk)) for r in records)}
        }
    )


def _visible_or_refuse(records, user, field):
    records = list(dict.fromkeys(records))
    if not records:
        return []
    model = type(records[0])
    seen = set(
        restrict(model.objects.filter(pk__in=[r.pk for r in records]), user).values_list(
            "pk", flat=True
        )
    )
    missing = [r for r in records if r.pk not in seen]
    if missing:
        raise _no_such(field, missing)
    return records


def link_fixes(change, user, *, problems=(), incidents=()):
    """Name further problems and incidents the change fixes (only ones the user may
    see); journalled on the change and on each record. Their customers join the
    change's, as when a change is raised from them."""
    _require(user, "change", change)
    if not change.is_open:
        raise ValidationError(
            {
                "problems": _("A change %(status)s fixes nothing more.")
                % {"status": change.get_status_display().lower()}
            }
        )
    problems = _visible_or_refuse(problems, user, "problems")
    incidents = _visible_or_refuse(incidents, user, "incidents")
    if not problems and not incidents:
        raise ValidationError({"problems": _("Name a problem or an incident it fixes.")})
    linked = change.fixes.all()
    for field, records, key in (
        ("problems", problems, "problem_id"),
        ("incidents", incidents, "incident_id"),
    ):
        already = set(linked.values_list(key, flat=True))
        twice = [r for r in records if r.pk in already]
        if twice:
            raise ValidationError(
                {
                    field: _("%(change)s already fixes %(refs)s.")
                    % {"change": change.number, "refs": ", ".join(r.number for r in twice)}
                }
            )
    with transaction.atomic():
        before = history.m2m_snapshot(change, ["customers"])
        customers = set(before["customers"])
        for record in [*problems, *incidents]:
            field = _fix_field(record)
            ChangeFix.objects.create(change=change, **{field: record})
            if field == "problem":
                customers |= set(record.customers.values_list("pk", flat=True))
            else:
                customers.add(record.customer_id)
            history.event(
                record,
                _("Change %(change)s fixes it.") % {"change": change.number},
                customer_visible=False,
            )
        if customers != set(before["customers"]):
            change.customers.set(sorted(customers))
            history.record_m2m(change, before)
        # Named to the change's readers (its customers now) only if they may all see it.
        for record in [*problems, *incidents]:
            history.event(
                change,
                _("Fixes %(record)s.")
                % {
                    "record": name_in_journal(
                        change, record, f"{record._meta.verbose_name} {record.number}"
                    )
                },
                customer_visible=False,
            )
    return change


def unlink_fix(change, user, record):
    """The change no longer fixes ``record`` (a problem or incident the user sees)."""
    _require(user, "change", change)
    field = _fix_field(record)
    plural = f"{field}s"
    if not change.is_open:
        raise ValidationError(
            {
                plural: _("The fixes of a change %(status)s can no longer change.")
                % {"status": change.get_status_display().lower()}
            }
        )
    _visible_or_refuse([record], user, plural)
    with transaction.atomic():
        deleted, _rows = change.fixes.filter(**{field: record}).delete()
        if not deleted:
            raise ValidationError(
                {
                    plural: _("%(change)s does not fix %(number)s.")
                    % {"change": change.number, "number": record.number}
                }
            )
        history.event(
            record,
            _("Change %(change)s no longer fixes it.") % {"change": change.number},
            customer_visible=False,
        )
        history.event(
            change,
            _("No longer fixes %(record)s.")
            % {
                "record": name_in_journal(
                    change, record, f"{record._meta.verbose_name} {record.number}"
                )
            },
            customer_visible=False,
        )
    return change


# --- the CMDB's authorising change ---------------------------------------------------------------
def normalise_reference(reference):
    """A typed change number as stored: spaces gone, upper case ("chg0000012 " →
    "CHG0000012")."""
    return "".join(str(reference or "").split()).upper()


def authorising_change(user, reference, field="change_reference"):
    """The change named by ``reference`` if the user may see it and its status allows
    work on live configuration items; ValidationError naming ``field`` otherwise.
    The CMDB asks this of every authorising change given to it (see apps.py)."""
    number = normalise_reference(reference)
    if not number:
        return None
    change = restrict(Change.objects.all(), user).filter(number=number[:30]).first()
    if change is None:
        raise ValidationError(
            {
                field: _("Authorising change: there is no change %(ref)s that you may see.")
                % {"ref": number[:30]}
            }
        )
    if change.status not in AUTHORISING_STATUSES:
        raise ValidationError(
            {
                field: _(
                    "Authorising change: %(number)s is %(status)s; only an approved, "
                    "scheduled, implementing or implemented change authorises work on a "
                    "live configuration item."
                )
                % {"number": change.number, "status": change.get_status_display().lower()}
            }
        )
    return change


def authorising_reference(user, reference, field="change_reference"):
    """authorising_change's answer as the CMDB stores it: the change's number."""
    change = authorising_change(user, reference, field)
    return change.number if change is not None else ""


def live_changes(change, user):
    """The changes to live configuration items recorded under this change, newest
    first, on CIs the user may see (with how many others there are)."""
    from accord.cmdb.models import ConfigurationItem, LiveChange

    rows = LiveChange.objects.filter(change_reference=change.number)
    visible = rows.filter(ci__in=restrict(ConfigurationItem.objects.all(), user))
    shown = list(visible.select_related("ci__ci_type", "by").order_by("-at", "-pk")[:200])
    return shown, rows.count() - visible.count()
