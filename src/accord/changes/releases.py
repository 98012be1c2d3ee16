"""Release management's rules (ISO/IEC 20000 10): every way in (pages, jobs, the demo)
calls these. A release groups changes into a package that is planned (build, test,
acceptance and roll-out stages), signed off against its acceptance criteria by the
named approvers, deployed CI by CI (``deployments``), and reviewed after roll-out
with the incidents raised in the days that followed.

Each action checks the actor's permission and the process rules first (a refusal is
a ValidationError naming the field, or PermissionDenied) and then writes everything
in one transaction, journalled on the release.

The release's own version text is ``release_version``: ``version`` is the record's
optimistic-locking counter, as on every record.
"""

import datetime

from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accord.core import history
from accord.core.policy import WRITING_STAFF, can, customer_allowed, restrict, scope_for
from accord.core.records import StaleRecordError

from .choices import Decision, DeploymentStatus, ReleaseStatus, StageKind, Status
from .models import (
    AcceptanceCriterion,
    Change,
    Release,
    ReleaseIncident,
    ReleasePolicy,
    ReleaseStage,
)

S = ReleaseStatus
# Until accepted, the package and its plan may still change.
EDITABLE_STATUSES = (S.PLANNED, S.BUILD, S.TEST, S.ACCEPTANCE)
# Deployments are planned until the roll-out ends.
PLANNING_STATUSES = (*EDITABLE_STATUSES, S.ACCEPTED, S.DEPLOYING)
CANCELLABLE_STATUSES = (*EDITABLE_STATUSES, S.ACCEPTED)
# A change authorises a deployment while it is cleared for implementation.
IMPLEMENTABLE = (Status.APPROVED, Status.SCHEDULED, Status.IMPLEMENTING, Status.IMPLEMENTED)
VERSION_KEY = "version"
M2M_FIELDS = ("services", "customers", "changes")
RELEASE_FIELDS = (
    "short_description",
    "release_version",
    "kind",
    "description",
    "manager",
    "review_days",
)

# name -> (allowed from, to, label)
TRANSITIONS = {
    "start_build": ((S.PLANNED,), S.BUILD, gettext_lazy("Start the build")),
    "start_test": ((S.BUILD,), S.TEST, gettext_lazy("Start testing")),
    "start_acceptance": ((S.TEST,), S.ACCEPTANCE, gettext_lazy("Start acceptance")),
    "rebuild": ((S.TEST, S.ACCEPTANCE), S.BUILD, gettext_lazy("Back to build")),
    "accept": ((S.ACCEPTANCE,), S.ACCEPTED, gettext_lazy("Mark accepted")),
    "start_deployment": ((S.ACCEPTED,), S.DEPLOYING, gettext_lazy("Start the roll-out")),
    "mark_deployed": ((S.DEPLOYING,), S.DEPLOYED, gettext_lazy("Mark deployed")),
    "cancel": (CANCELLABLE_STATUSES, S.CANCELLED, gettext_lazy("Cancel")),
}
# The steps that need words from the user.
NOTE_NEEDED = ("rebuild", "cancel")

NOT_ACCEPTED = gettext_lazy(
    "This release is not accepted yet: it can't be deployed before every acceptance "
    "criterion is signed off and the release is marked accepted."
)


# --- permission and versions -----------------------------------------------------------
def may_write(user, model_or_obj=Release):
    scope = scope_for(user)
    return scope is not None and not scope.read_only and can(user, "change", model_or_obj)


def _require_write(user, record=Release):
    if not may_write(user, record):
        raise PermissionDenied(_("You are not allowed to do this."))


def _require_visible(user, release):
    if not restrict(Release.objects.filter(pk=release.pk), user).exists():
        raise PermissionDenied(_("You are not allowed to do this."))


def _refuse(field, message):
    """Refuse, naming the field the message is about."""
    raise ValidationError({field: message})


def _allowed(user, release):
    """The user may change releases and sees this one."""
    _require_write(user, release)
    _require_visible(user, release)


def _note(record, text):
    """An internal event in the record's journal (releases are the provider's own)."""
    history.event(record, text, customer_visible=False)


def _check_version(record, expected_version):
    if expected_version is not None and int(expected_version) != record.version:
        raise StaleRecordError(record, expected_version)


def _lock(release):
    """The release row, locked for the rest of the transaction (a concurrent step
    waits, then sees the result of this one)."""
    return Release.objects.select_for_update().get(pk=release.pk)


def _status_label(release):
    return release.get_status_display().lower()


# --- release policy ------------------------------------------------------------------------
POLICY_FIELDS = ("frequency", "kinds", "naming", "rollback")


def save_policy(service, user, data: dict, *, expected_version=None):
    """Write a service's release policy (created on first save); its history is kept
    with every save."""
    policy = ReleasePolicy.objects.filter(service=service).first()
    action = "change" if policy is not None else "add"
    scope = scope_for(user)
    if scope is None or scope.read_only or not can(user, action, ReleasePolicy):
        raise PermissionDenied(_("You are not allowed to do this."))
    if policy is None:
        policy = ReleasePolicy(service=service)
    else:
        _check_version(policy, expected_version)
    for name in POLICY_FIELDS:
        setattr(policy, name, (data.get(name) or "").strip())
    policy.full_clean(exclude=["service"], validate_unique=False)
    with transaction.atomic():
        policy.save(expected_version=expected_version if policy.pk else None)
    return policy


# --- create and edit --------------------------------------------------------------------
def _visible_only(records, user, field):
    records = list(records)
    if not records:
        return records
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
                field: _("You have no record %(refs)s.")
                % {"refs": ", ".join(getattr(r, "number", str(r.pk)) for r in missing)}
            }
        )
    return records


def _check_customers(user, customers, kept=()):
    """The user may name only customers they serve (``kept``: already on the release)."""
    kept_ids = {c.pk for c in kept}
    refused = [c for c in customers if c.pk not in kept_ids and not customer_allowed(user, c.pk)]
    if refused:
        _refuse("customers", _("You do not serve %(names)s.") % {"names": refused[0]})


def create_release(user, data: dict, *, services=(), customers=(), changes=()):
    """Plan a release from cleaned values: its services (at least one), the customers
    it is for (none: the provider's own) and the changes it groups."""
    scope = scope_for(user)
    if scope is None or scope.read_only or not can(user, "add", Release):
        raise PermissionDenied(_("You are not allowed to do this."))
    release = Release(**{k: v for k, v in data.items() if k in RELEASE_FIELDS})
    release.status = S.PLANNED
    release.full_clean(exclude=["number", "manager", *M2M_FIELDS], validate_unique=False)
    services = list(services)
    if not services:
        raise ValidationError({"services": _("Name at least one service the release is for.")})
    changes = _visible_only(changes, user, "changes")
    customers = list(customers)
    _check_customers(user, customers)
    with transaction.atomic():
        release.save()
        release.services.set(services)
        release.customers.set(customers)
        release.changes.set(changes)
        _note(release, _("Release planned."))
    return release


def update_release(
    release,
    user,
    changes_to_fields: dict,
    *,
    services=None,
    customers=None,
    changes=None,
    expected_version=None,
):
    """Edit a release until it is accepted. ``customers`` and ``changes`` replace the
    lists; the caller keeps on them what the user cannot see."""
    _allowed(user, release)
    _check_version(release, expected_version)
    if release.status not in EDITABLE_STATUSES:
        raise ValidationError(
            _("A release %(status)s can no longer be edited.") % {"status": _status_label(release)}
        )
    for name, value in changes_to_fields.items():
        if name in RELEASE_FIELDS:
            setattr(release, name, value)
    release.full_clean(exclude=["number", "manager", *M2M_FIELDS], validate_unique=False)
    if customers is not None:
        _check_customers(user, customers, kept=release.customers.all())
        _check_approvers_still_see(release, {c.pk for c in customers})
    if services is not None and not list(services):
        raise ValidationError({"services": _("Name at least one service the release is for.")})
    if changes is not None:
        kept = {c.pk for c in changes}
        authorising = (
            Change.objects.filter(deployments__release=release)
            .exclude(pk__in=kept)
            .distinct()
            .order_by("pk")
        )
        if authorising.exists():
            _refuse(
                "changes",
                _(
                    "%(numbers)s authorise deployments of this release: remove those "
                    "deployments first."
                )
                % {"numbers": ", ".join(c.number for c in authorising)},
            )
    with transaction.atomic():
        before = history.m2m_snapshot(release, M2M_FIELDS)
        release.save(expected_version=expected_version)
        if services is not None:
            release.services.set(list(services))
        if customers is not None:
            release.customers.set(list(customers))
        if changes is not None:
            release.changes.set(list(changes))
        history.record_m2m(release, before)
    return release


def _check_approvers_still_see(release, customer_ids):
    """Customers changed so that a named approver could no longer see the release
    would leave their criterion unsigned for good: refused, naming them."""
    lost = []
    for criterion in release.criteria.filter(decision=Decision.PENDING).select_related("approver"):
        scope = scope_for(criterion.approver)
        if scope is None or not (
            scope.all_customers or not customer_ids or customer_ids & scope.customer_ids
        ):
            lost.append(str(criterion.approver))
    if lost:
        _refuse(
            "customers",
            _(
                "%(who)s, who must sign off a criterion, would no longer see this release: "
                "name another approver for that criterion first."
            )
            % {"who": ", ".join(sorted(set(lost)))},
        )


# --- the plan -------------------------------------------------------------------------------
def _require_planning(release, field):
    if release.status not in PLANNING_STATUSES:
        raise ValidationError(
            {
                field: _("The plan of a release %(status)s can no longer change.")
                % {"status": _status_label(release)}
            }
        )


def add_stage(release, user, *, kind, starts_on, ends_on, target=""):
    """A step of the plan: build, test, acceptance, or a roll-out wave (by location or
    CI group). The end may not be before the start."""
    _allowed(user, release)
    _require_planning(release, "kind")
    errors = {}
    if kind not in StageKind.values:
        errors["kind"] = _("Choose the stage.")
    if not isinstance(starts_on, datetime.date):
        errors["starts_on"] = _("Give the first day.")
    if not isinstance(ends_on, datetime.date):
        errors["ends_on"] = _("Give the last day.")
    elif isinstance(starts_on, datetime.date) and ends_on < starts_on:
        errors["ends_on"] = _("The stage can't end before it starts.")
    if errors:
        raise ValidationError(errors)
    stage = ReleaseStage(
        release=release,
        kind=kind,
        target=(target or "").strip(),
        starts_on=starts_on,
        ends_on=ends_on,
    )
    stage.full_clean(exclude=["release"])
    with transaction.atomic():
        stage.save()
        _note(
            release,
            _("Stage planned: %(stage)s, %(start)s – %(end)s.")
            % {"stage": stage, "start": starts_on, "end": ends_on},
        )
    return stage


def _stage_of(release, stage_id):
    stage = ReleaseStage.objects.filter(release=release, pk=stage_id).first()
    if stage is None:
        raise ValidationError({"stage": _("That stage is not in this release's plan.")})
    return stage


def complete_stage(release, user, stage_id):
    _allowed(user, release)
    stage = _stage_of(release, stage_id)
    if release.status in (S.CANCELLED, S.REVIEWED):
        _refuse("stage", _("The release is %(status)s.") % {"status": _status_label(release)})
    if stage.done_at is not None:
        raise ValidationError({"stage": _("This stage is already done.")})
    with transaction.atomic():
        stage.done_at = timezone.now()
        stage.save(update_fields=["done_at"])
        _note(release, _("Stage done: %(stage)s.") % {"stage": stage})
    return stage


def remove_stage(release, user, stage_id):
    _allowed(user, release)
    _require_planning(release, "stage")
    stage = _stage_of(release, stage_id)
    if stage.done_at is not None:
        raise ValidationError({"stage": _("A stage that is done stays in the plan.")})
    with transaction.atomic():
        stage.delete()
        _note(release, _("Stage removed: %(stage)s.") % {"stage": stage})


# --- acceptance ------------------------------------------------------------------------------
def possible_approvers():
    from accord.users.models import User

    return User.objects.filter(is_active=True, role__in=WRITING_STAFF).order_by("username")


def add_criterion(release, user, *, text, approver):
    """An acceptance criterion and the person who signs it off. The approver must be
    staff who can see the release."""
    _allowed(user, release)
    if release.status not in EDITABLE_STATUSES:
        _refuse(
            "text",
            _("The acceptance criteria of a release %(status)s can no longer change.")
            % {"status": _status_label(release)},
        )
    errors = {}
    text = (text or "").strip()
    if not text:
        errors["text"] = _("Write the criterion.")
    if approver is None or not possible_approvers().filter(pk=approver.pk).exists():
        errors["approver"] = _("Choose a member of staff who may sign off.")
    elif not restrict(Release.objects.filter(pk=release.pk), approver).exists():
        errors["approver"] = _("%(who)s may not see this release.") % {"who": approver}
    if errors:
        raise ValidationError(errors)
    criterion = AcceptanceCriterion(release=release, text=text, approver=approver)
    criterion.full_clean(exclude=["release", "approver"])
    with transaction.atomic():
        criterion.save()
        _note(
            release,
            _("Acceptance criterion added, signed off by %(who)s: %(text)s")
            % {"who": approver, "text": text},
        )
    return criterion


def remove_criterion(release, user, criterion_id):
    _allowed(user, release)
    if release.status not in EDITABLE_STATUSES:
        raise ValidationError({"criterion": _("The acceptance criteria can no longer change.")})
    criterion = AcceptanceCriterion.objects.filter(release=release, pk=criterion_id).first()
    if criterion is None:
        raise ValidationError({"criterion": _("That criterion is not on this release.")})
    with transaction.atomic():
        criterion.delete()
        _note(release, _("Acceptance criterion removed: %(text)s") % {"text": criterion.text})


def sign_off(release, user, criterion_id, decision, *, comment=""):
    """The named approver's decision on one criterion, while the release is in
    acceptance. Rejecting needs a comment."""
    _require_visible(user, release)
    criterion = AcceptanceCriterion.objects.filter(release=release, pk=criterion_id).first()
    if criterion is None:
        raise ValidationError({"criterion": _("That criterion is not on this release.")})
    if criterion.approver_id != user.pk:
        raise PermissionDenied(
            _("Only %(who)s, the named approver, may sign off this criterion.")
            % {"who": criterion.approver}
        )
    if scope_for(user).read_only:
        raise PermissionDenied(_("You are not allowed to do this."))
    if decision not in (Decision.APPROVE, Decision.REJECT):
        raise ValidationError({"decision": _("Approve or reject.")})
    if release.status != S.ACCEPTANCE:
        _refuse(
            "decision",
            _("Criteria are signed off while the release is in acceptance; it is %(status)s.")
            % {"status": _status_label(release)},
        )
    comment = (comment or "").strip()
    if decision == Decision.REJECT and not comment:
        raise ValidationError({"comment": _("Say why you reject it.")})
    with transaction.atomic():
        # A rebuild or an acceptance at the same time: decide on the release as it is.
        release = _lock(release)
        if release.status != S.ACCEPTANCE:
            _refuse(
                "decision",
                _("Criteria are signed off while the release is in acceptance; it is %(status)s.")
                % {"status": _status_label(release)},
            )
        criterion.decision = decision
        criterion.comment = comment[:1000]
        criterion.decided_at = timezone.now()
        criterion.save(update_fields=["decision", "comment", "decided_at"])
        _note(
            release,
            _("%(who)s: %(decision)s “%(text)s”. %(comment)s")
            % {
                "who": user,
                "decision": _("approved") if decision == Decision.APPROVE else _("rejected"),
                "text": criterion.text,
                "comment": comment,
            },
        )
    return criterion


def acceptance_blockers(release):
    """Why the release can't be marked accepted yet (empty: it can)."""
    criteria = list(release.criteria.all())
    if not criteria:
        return [_("Add at least one acceptance criterion and have it signed off.")]
    out = []
    rejected = [c for c in criteria if c.decision == Decision.REJECT]
    pending = [c for c in criteria if c.decision == Decision.PENDING]
    if rejected:
        out.append(
            _("Rejected: %(texts)s (go back to build, or replace the criterion).")
            % {"texts": "; ".join(c.text for c in rejected)}
        )
    if pending:
        out.append(
            _("Not signed off yet: %(items)s.")
            % {"items": "; ".join(f"{c.text} ({c.approver})" for c in pending)}
        )
    return out


# --- lifecycle ----------------------------------------------------------------------------------
def available_transitions(release, user):
    if not may_write(user, release):
        return []
    return [
        (name, label)
        for name, (sources, _target, label) in TRANSITIONS.items()
        if release.status in sources
    ]


def transition(release, user, name, *, expected_version=None, note=""):
    """One lifecycle step, journalled on the release."""
    if name not in TRANSITIONS:
        raise ValidationError({"transition": _("Unknown action %(name)s.") % {"name": name[:30]}})
    _allowed(user, release)
    with transaction.atomic():
        release = _lock(release) if release.pk else release
        _check_version(release, expected_version)
        sources, target, label = TRANSITIONS[name]
        if release.status not in sources:
            if name in ("start_deployment", "mark_deployed") and release.status in (
                EDITABLE_STATUSES
            ):
                raise ValidationError({"transition": str(NOT_ACCEPTED)})
            _refuse(
                "transition",
                _("%(action)s is not possible while the release is %(status)s.")
                % {"action": label, "status": _status_label(release)},
            )
        errors = {}
        note = (note or "").strip()
        if name in NOTE_NEEDED and not note:
            errors["note"] = _("Give a reason.")
        if name == "accept":
            blockers = acceptance_blockers(release)
            if blockers:
                errors["transition"] = [str(b) for b in blockers]
        if name == "mark_deployed":
            deployments = list(release.deployments.select_related("ci"))
            planned = [d for d in deployments if d.status == DeploymentStatus.PLANNED]
            if planned:
                errors["transition"] = _(
                    "Deployments are still planned on %(cis)s: record each as done or failed first."
                ) % {"cis": ", ".join(str(d.ci) for d in planned)}
            elif not any(d.status == DeploymentStatus.DONE for d in deployments):
                errors["transition"] = _(
                    "No deployment of this release is done: record at least one first."
                )
        if errors:
            raise ValidationError(errors)
        release.status = target
        now = timezone.now()
        if name == "accept":
            release.accepted_at = now
        if name == "mark_deployed":
            release.deployed_at = now
        if name == "rebuild":
            # A new build is accepted afresh.
            release.criteria.update(decision=Decision.PENDING, comment="", decided_at=None)
        release.save(expected_version=expected_version)
        text = _("Status changed to %(status)s.") % {"status": release.get_status_display()}
        if name == "rebuild":
            text += " " + _("Every acceptance criterion is to be signed off again.")
        if note:
            text += " " + note
        _note(release, text)
    return release


# --- post-release review --------------------------------------------------------------------------
def review_window(release):
    """[start, end) in which incidents count against the release, or None before its
    roll-out."""
    if release.deployed_at is None:
        return None
    return release.deployed_at, release.deployed_at + datetime.timedelta(days=release.review_days)


def candidate_incidents(release):
    """The incidents raised in the window on the release's services or on the CIs it
    was deployed to (every customer's: who sees which is decided when shown)."""
    from accord.cmdb.models import CILink
    from accord.incidents.models import Incident

    window = review_window(release)
    if window is None:
        return Incident.objects.none()
    start, end = window
    ci_ids = list(
        release.deployments.exclude(status=DeploymentStatus.PLANNED).values_list("ci_id", flat=True)
    )
    condition = Q(service__in=release.services.values("pk"))
    if ci_ids:
        linked = CILink.objects.filter(
            content_type=ContentType.objects.get_for_model(Incident), ci_id__in=ci_ids
        ).values("object_id")
        condition |= Q(pk__in=linked)
    return Incident.objects.filter(condition, created__gte=start, created__lt=end)


def link_review_incidents(release):
    """Link the incidents of the window to the release (idempotent); returns how many
    were new. Links made by hand stay as they are."""
    if release.status not in (S.DEPLOYED, S.REVIEWED) or release.deployed_at is None:
        return 0
    known = set(release.incident_links.values_list("incident_id", flat=True))
    found = [pk for pk in candidate_incidents(release).values_list("pk", flat=True).distinct()]
    new = [pk for pk in found if pk not in known]
    if new:
        ReleaseIncident.objects.bulk_create(
            [ReleaseIncident(release=release, incident_id=pk, automatic=True) for pk in new],
            ignore_conflicts=True,
        )
    return len(new)


def link_all_review_incidents():
    """The worker's pass over every deployed release awaiting its review."""
    total = 0
    for release in Release.objects.filter(status=S.DEPLOYED, deployed_at__isnull=False):
        with transaction.atomic():
            total += link_review_incidents(release)
    return total


def link_incident(release, user, incident):
    """Staff link an incident to the review by hand."""
    from accord.incidents.models import Incident

    _allowed(user, release)
    if release.status not in (S.DEPLOYING, S.DEPLOYED):
        _refuse(
            "incident",
            _("Incidents are linked to a release once it is rolled out, until its review."),
        )
    if incident is None or not restrict(Incident.objects.filter(pk=incident.pk), user).exists():
        raise ValidationError({"incident": _("Name an incident you may see.")})
    if ReleaseIncident.objects.filter(release=release, incident=incident).exists():
        raise ValidationError({"incident": _("%(n)s is already linked.") % {"n": incident.number}})
    with transaction.atomic():
        ReleaseIncident.objects.create(release=release, incident=incident, automatic=False)
        # The number stays out of the release's journal: not every reader may see it.
        _note(release, _("An incident was linked to the review by hand."))
        _note(
            incident,
            _("Linked to the post-release review of %(release)s.") % {"release": release.number},
        )


def unlink_incident(release, user, incident_id):
    """Remove a link made by hand (the worker's links follow from the window)."""
    _allowed(user, release)
    if release.status == S.REVIEWED:
        raise ValidationError({"incident": _("The review is done.")})
    link = (
        ReleaseIncident.objects.filter(release=release, incident_id=incident_id, automatic=False)
        .select_related("incident")
        .first()
    )
    if (
        link is None
        or not restrict(type(link.incident).objects.filter(pk=link.incident_id), user).exists()
    ):
        raise ValidationError({"incident": _("No incident linked by hand with that id.")})
    with transaction.atomic():
        link.delete()
        _note(release, _("An incident linked by hand was unlinked."))


def review(release, user, notes, *, expected_version=None):
    """The post-release review: the incidents are brought up to date first, and the
    review completes the release."""
    _allowed(user, release)
    notes = (notes or "").strip()
    with transaction.atomic():
        release = _lock(release)
        _check_version(release, expected_version)
        if release.status != S.DEPLOYED:
            raise ValidationError({"review_notes": _("A release is reviewed once it is deployed.")})
        if not notes:
            raise ValidationError({"review_notes": _("Write the review.")})
        link_review_incidents(release)
        release.review_notes = notes
        release.reviewed_at = timezone.now()
        release.status = S.REVIEWED
        release.save(expected_version=expected_version)
        _note(release, _("Post-release review done; the release is complete."))
    return release
