"""Change management and release management (ISO/IEC 20000 5, 9.2, 10).

A change request (CHG…) is standard (from a pre-approved template), normal or
emergency. It is assessed (a risk questionnaire gives its risk class; the CMDB gives
its impact), approved by whom the approval rules say (a team manager, the change
advisory board, or the emergency board), scheduled against the forward schedule
(conflicts explained, and blocking approval unless overridden with a reason),
implemented, reviewed and closed with an outcome. Status changes only through the
guarded transitions below; ``actions`` holds the rules and journals each step.

Releases (REL…) group changes into a planned, accepted and deployed package.

Changes and releases belong to the provider: customer users do not see them. Staff
see those of their customers and those that name no customer.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_fsm import FSMField, transition

from accord.calendars.models import Calendar
from accord.catalogue.models import Service
from accord.core.policy import STAFF_ROLES, WRITING_STAFF, Role
from accord.core.records import DetailPage, NumberedRecord, Record
from accord.incidents.models import Incident
from accord.organizations.models import Customer
from accord.problems.models import Problem, customers_scope
from accord.users.models import Team

from .choices import (
    OPEN_STATUSES,
    Approver,
    ConflictKind,
    Decision,
    DeploymentStatus,
    Kind,
    Outcome,
    Quorum,
    ReleaseKind,
    ReleaseStatus,
    RiskClass,
    StageKind,
    Status,
)

CONFIG = {"add": {Role.ADMINISTRATOR}, "change": {Role.ADMINISTRATOR}}
STAFF_RECORD = {
    "view": STAFF_ROLES,
    "add": WRITING_STAFF,
    "change": WRITING_STAFF,
    "delete": frozenset(),
}


# --- configuration (administrators) ----------------------------------------------------
class ChangeTemplate(Record):
    """A pre-approved standard change: the same steps each time, no board."""

    name = models.CharField(_("name"), max_length=150, unique=True)
    description = models.TextField(_("description"), max_length=10000)
    implementation_plan = models.TextField(_("implementation plan"), max_length=20000)
    backout_plan = models.TextField(_("back-out plan"), max_length=20000)
    test_plan = models.TextField(_("test plan"), blank=True, max_length=20000)
    services = models.ManyToManyField(Service, blank=True, related_name="change_templates")
    active = models.BooleanField(_("active"), default=True)

    permissions = CONFIG

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


class RiskQuestion(Record):
    """A question of the risk questionnaire; each answer carries a score."""

    text = models.CharField(_("question"), max_length=300)
    position = models.PositiveSmallIntegerField(_("order"), default=0)
    active = models.BooleanField(_("active"), default=True)

    permissions = CONFIG

    class Meta:
        ordering = ["position", "id"]

    def __str__(self):
        return self.text


class RiskOption(models.Model):
    question = models.ForeignKey(RiskQuestion, on_delete=models.CASCADE, related_name="options")
    label = models.CharField(_("answer"), max_length=200)
    score = models.PositiveSmallIntegerField(_("score"), default=0)

    class Meta:
        ordering = ["score", "id"]

    def __str__(self):
        return f"{self.label} ({self.score})"


class ChangeSettings(Record):
    """Risk class thresholds and review rules (one row, edited by administrators)."""

    medium_from = models.PositiveSmallIntegerField(
        _("medium risk from score"), default=5, help_text=_("A lower score is low risk.")
    )
    high_from = models.PositiveSmallIntegerField(_("high risk from score"), default=10)
    caused_incident_days = models.PositiveSmallIntegerField(
        _("incidents count against a change for (days)"), default=7
    )

    permissions = CONFIG

    class Meta:
        verbose_name_plural = _("change settings")

    def __str__(self):
        return "Change settings"

    @classmethod
    def get(cls):
        found = cls.objects.first()
        return found if found is not None else cls()

    def risk_class(self, score) -> str:
        if score >= self.high_from:
            return RiskClass.HIGH
        if score >= self.medium_from:
            return RiskClass.MEDIUM
        return RiskClass.LOW


class ApprovalRule(Record):
    """Who approves a change of a kind and risk class."""

    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    risk_class = models.CharField(_("risk class"), max_length=10, choices=RiskClass.choices)
    approver = models.CharField(_("approved by"), max_length=15, choices=Approver.choices)

    permissions = CONFIG

    class Meta:
        ordering = ["kind", "risk_class"]
        constraints = [
            models.UniqueConstraint(fields=["kind", "risk_class"], name="approval_rule_once")
        ]

    def __str__(self):
        return f"{self.get_kind_display()}, {self.get_risk_class_display()}: {self.approver}"


class Board(Record):
    """A change advisory board (or, with ``emergency``, the emergency board)."""

    name = models.CharField(_("name"), max_length=100, unique=True)
    emergency = models.BooleanField(_("emergency board"), default=False)
    chair = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("chair"),
        on_delete=models.PROTECT,
        related_name="+",
    )
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL, verbose_name=_("members"), related_name="boards"
    )
    quorum = models.CharField(
        _("decision rule"), max_length=10, choices=Quorum.choices, default=Quorum.MAJORITY
    )

    permissions = CONFIG

    class Meta:
        ordering = ["emergency", "name"]

    def __str__(self):
        return self.name


class BoardMeeting(Record):
    board = models.ForeignKey(Board, on_delete=models.CASCADE, related_name="meetings")
    starts_at = models.DateTimeField(_("starts"))
    location = models.CharField(_("where"), max_length=200, blank=True)
    minutes = models.TextField(_("minutes"), blank=True, max_length=20000)

    permissions = {"view": STAFF_ROLES, "add": WRITING_STAFF, "change": WRITING_STAFF}

    class Meta:
        ordering = ["-starts_at"]

    def __str__(self):
        return f"{self.board} {self.starts_at:%Y-%m-%d %H:%M}"


class BlackoutWindow(Record):
    """A period when no change may be implemented: for everything, or some services."""

    name = models.CharField(_("name"), max_length=150)
    starts_at = models.DateTimeField(_("from"))
    ends_at = models.DateTimeField(_("until"))
    services = models.ManyToManyField(
        Service,
        verbose_name=_("services"),
        blank=True,
        related_name="blackouts",
        help_text=_("None: the window holds for every service."),
    )
    reason = models.CharField(_("reason"), max_length=300, blank=True)

    permissions = {"view": STAFF_ROLES, "add": {Role.ADMINISTRATOR, Role.MANAGER}}
    permissions["change"] = permissions["add"]

    class Meta:
        ordering = ["starts_at"]
        indexes = [models.Index(fields=["starts_at", "ends_at"], name="blackout_span")]

    def __str__(self):
        return self.name


class MaintenanceWindow(Record):
    """When a service's changes are agreed to happen: the working times of a
    calendar (e.g. Sundays 02:00-06:00)."""

    service = models.OneToOneField(
        Service, on_delete=models.CASCADE, related_name="maintenance_window"
    )
    calendar = models.ForeignKey(Calendar, verbose_name=_("window"), on_delete=models.PROTECT)

    permissions = {"view": STAFF_ROLES, "add": {Role.ADMINISTRATOR, Role.OWNER}}
    permissions["change"] = permissions["add"]

    def __str__(self):
        return f"{self.service}: {self.calendar}"


# --- change requests --------------------------------------------------------------------
def _has_plans(change):
    return not change.missing_for_submission()


def _is_decided(change):
    return change.approval_state() == Decision.APPROVE


def _is_rejected(change):
    return change.approval_state() == Decision.REJECT


def _has_outcome(change):
    return bool(change.outcome)


def _may_close(change):
    return not change.closure_blockers()


class Change(DetailPage, NumberedRecord):
    number_prefix = "CHG"
    detail_url_name = "changes:detail"

    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices, default=Kind.NORMAL)
    template = models.ForeignKey(
        ChangeTemplate,
        verbose_name=_("standard change"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="changes",
    )
    short_description = models.CharField(_("short description"), max_length=160)
    description = models.TextField(_("description"), blank=True, max_length=20000)
    reason = models.TextField(_("reason for the change"), max_length=10000)
    requester = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("requested by"),
        on_delete=models.PROTECT,
        related_name="requested_changes",
    )
    assignment_team = models.ForeignKey(
        Team,
        verbose_name=_("team"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="changes",
    )
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("implementer"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="assigned_changes",
    )
    services = models.ManyToManyField(
        Service, verbose_name=_("affected services"), blank=True, related_name="changes"
    )
    customers = models.ManyToManyField(
        Customer, verbose_name=_("customers"), blank=True, related_name="changes"
    )
    implementation_plan = models.TextField(_("implementation plan"), blank=True, max_length=20000)
    backout_plan = models.TextField(_("back-out plan"), blank=True, max_length=20000)
    test_plan = models.TextField(_("test plan"), blank=True, max_length=20000)
    emergency_reason = models.TextField(_("why it is an emergency"), blank=True, max_length=5000)
    planned_start = models.DateTimeField(_("planned start"), null=True, blank=True)
    planned_end = models.DateTimeField(_("planned end"), null=True, blank=True)
    status = FSMField(_("status"), max_length=20, choices=Status.choices, default=Status.DRAFT)
    risk_score = models.PositiveSmallIntegerField(_("risk score"), null=True, blank=True)
    risk_class = models.CharField(
        _("risk class"), max_length=10, choices=RiskClass.choices, blank=True
    )
    approver_kind = models.CharField(
        _("approved by"), max_length=15, choices=Approver.choices, blank=True
    )
    board = models.ForeignKey(
        Board, null=True, blank=True, on_delete=models.PROTECT, related_name="changes"
    )
    conflict_override = models.TextField(
        _("why the conflicts are accepted"), blank=True, max_length=5000
    )
    conflict_override_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    outcome = models.CharField(_("outcome"), max_length=12, choices=Outcome.choices, blank=True)
    outcome_notes = models.TextField(_("what happened"), blank=True, max_length=10000)
    actual_start = models.DateTimeField(_("started"), null=True, blank=True)
    actual_end = models.DateTimeField(_("finished"), null=True, blank=True)
    submitted_at = models.DateTimeField(_("submitted"), null=True, blank=True)
    approved_at = models.DateTimeField(_("approved"), null=True, blank=True)
    closed_at = models.DateTimeField(_("closed"), null=True, blank=True)
    # The post-implementation review.
    review_notes = models.TextField(_("review"), blank=True, max_length=20000)
    reviewed_at = models.DateTimeField(_("reviewed"), null=True, blank=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    is_open = models.BooleanField(default=True, editable=False)

    customer_field = None
    history_exclude = frozenset({"is_open"})
    cis_set_by_its_process = True  # the CMDB's generic CI panel may not edit them
    permissions = {
        **STAFF_RECORD,
        "approve": frozenset({Role.ADMINISTRATOR, Role.MANAGER, Role.OWNER, Role.AGENT}),
    }

    class Meta:
        ordering = ["-created"]
        indexes = [
            models.Index(fields=["status", "planned_start"], name="chg_status_start"),
            models.Index(fields=["planned_start", "planned_end"], name="chg_window"),
            models.Index(fields=["is_open", "updated"], name="chg_open_upd"),
            models.Index(fields=["closed_at"], name="chg_closed"),
        ]

    @classmethod
    def scope_condition(cls, scope):
        return customers_scope(cls, scope)

    def save(self, *args, **kwargs):
        self.is_open = self.status in OPEN_STATUSES
        super().save(*args, **kwargs)

    # --- rules the transitions ask --------------------------------------------------
    def missing_for_submission(self):
        """The fields a change needs before it is submitted, by name."""
        missing = []
        for name in ("reason", "implementation_plan", "backout_plan"):
            if not (getattr(self, name) or "").strip():
                missing.append(name)
        if self.planned_start is None:
            missing.append("planned_start")
        if self.planned_end is None:
            missing.append("planned_end")
        if self.kind == Kind.EMERGENCY and not (self.emergency_reason or "").strip():
            missing.append("emergency_reason")
        return missing

    def approval_state(self):
        """The approvals' verdict so far: pending, approve or reject."""
        from .approvals import verdict

        return verdict(self)

    def review_required(self):
        return (
            self.kind == Kind.EMERGENCY
            or self.risk_class == RiskClass.HIGH
            or self.outcome in (Outcome.FAILED, Outcome.BACKED_OUT)
        )

    def closure_blockers(self):
        out = []
        if not self.outcome:
            out.append(_("Record the outcome."))
        if self.review_required() and self.reviewed_at is None:
            out.append(
                _(
                    "Complete the post-implementation review (emergency, high-risk, failed "
                    "and backed-out changes need one)."
                )
            )
        return out

    # --- lifecycle ----------------------------------------------------------------
    @transition(field=status, source=Status.DRAFT, target=Status.SUBMITTED, conditions=[_has_plans])
    def submit(self):
        self.submitted_at = timezone.now()

    @transition(field=status, source=Status.SUBMITTED, target=Status.ASSESSED)
    def assess(self):
        """Risk and impact are assessed."""

    @transition(field=status, source=Status.ASSESSED, target=Status.AWAITING_APPROVAL)
    def request_approval(self):
        """The approvers the rules name are asked."""

    @transition(
        field=status,
        source=[Status.ASSESSED, Status.AWAITING_APPROVAL],
        target=Status.APPROVED,
        conditions=[_is_decided],
    )
    def approve(self):
        self.approved_at = timezone.now()

    @transition(
        field=status,
        source=Status.AWAITING_APPROVAL,
        target=Status.REJECTED,
        conditions=[_is_rejected],
    )
    def reject(self):
        self.closed_at = timezone.now()

    @transition(field=status, source=Status.APPROVED, target=Status.SCHEDULED)
    def schedule(self):
        """Its slot in the forward schedule is confirmed."""

    @transition(
        field=status, source=[Status.APPROVED, Status.SCHEDULED], target=Status.IMPLEMENTING
    )
    def start(self):
        self.actual_start = timezone.now()

    @transition(
        field=status,
        source=Status.IMPLEMENTING,
        target=Status.IMPLEMENTED,
        conditions=[_has_outcome],
    )
    def finish(self):
        self.actual_end = timezone.now()

    @transition(field=status, source=Status.IMPLEMENTED, target=Status.REVIEW)
    def begin_review(self):
        """The post-implementation review."""

    @transition(
        field=status,
        source=[Status.IMPLEMENTED, Status.REVIEW],
        target=Status.CLOSED,
        conditions=[_may_close],
    )
    def close(self):
        self.closed_at = timezone.now()

    @transition(
        field=status,
        source=[
            Status.DRAFT,
            Status.SUBMITTED,
            Status.ASSESSED,
            Status.AWAITING_APPROVAL,
            Status.APPROVED,
            Status.SCHEDULED,
        ],
        target=Status.CANCELLED,
    )
    def cancel(self):
        self.closed_at = timezone.now()


class ChangeRiskAnswer(models.Model):
    change = models.ForeignKey(Change, on_delete=models.CASCADE, related_name="risk_answers")
    question = models.ForeignKey(RiskQuestion, on_delete=models.PROTECT, related_name="+")
    option = models.ForeignKey(RiskOption, on_delete=models.PROTECT, related_name="+")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["change", "question"], name="change_risk_answer_once")
        ]

    def __str__(self):
        return f"{self.question}: {self.option}"


class ChangeApproval(models.Model):
    """One approver's decision on a change (a board member, or a team manager)."""

    change = models.ForeignKey(Change, on_delete=models.CASCADE, related_name="approvals")
    approver = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="change_approvals"
    )
    board = models.ForeignKey(
        Board, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decision = models.CharField(max_length=10, choices=Decision.choices, default=Decision.PENDING)
    comment = models.TextField(blank=True, max_length=5000)
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["change", "approver"], name="change_approval_once")
        ]
        indexes = [models.Index(fields=["approver", "decision"], name="chg_approval_todo")]

    def __str__(self):
        return f"{self.change.number}: {self.approver} {self.decision}"


class AgendaItem(models.Model):
    meeting = models.ForeignKey(BoardMeeting, on_delete=models.CASCADE, related_name="agenda")
    change = models.ForeignKey(Change, on_delete=models.CASCADE, related_name="agenda_items")
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["meeting", "change"], name="agenda_item_once")
        ]

    def __str__(self):
        return f"{self.meeting}: {self.change.number}"


class ChangeFix(models.Model):
    """A problem or an incident the change fixes."""

    change = models.ForeignKey(Change, on_delete=models.CASCADE, related_name="fixes")
    problem = models.ForeignKey(
        Problem, null=True, blank=True, on_delete=models.CASCADE, related_name="fixing_changes"
    )
    incident = models.ForeignKey(
        Incident, null=True, blank=True, on_delete=models.CASCADE, related_name="fixing_changes"
    )

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(problem__isnull=False) | Q(incident__isnull=False),
                name="change_fix_names_a_record",
            )
        ]

    def __str__(self):
        return f"{self.change.number} fixes {self.problem or self.incident}"


class Conflict(models.Model):
    """A conflict found when the change was last scheduled or moved, explained."""

    change = models.ForeignKey(Change, on_delete=models.CASCADE, related_name="conflicts")
    kind = models.CharField(max_length=15, choices=ConflictKind.choices)
    other = models.ForeignKey(
        Change, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    explanation = models.CharField(max_length=1000)
    found_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["kind", "id"]

    def __str__(self):
        return self.explanation


# --- releases -----------------------------------------------------------------------------
class ReleasePolicy(Record):
    """A service's release policy: a controlled text (its history is kept)."""

    service = models.OneToOneField(Service, on_delete=models.CASCADE, related_name="release_policy")
    frequency = models.TextField(_("release frequency"), max_length=5000)
    kinds = models.TextField(_("kinds of release"), max_length=5000)
    naming = models.TextField(_("naming and versioning"), max_length=5000)
    rollback = models.TextField(_("roll-back rules"), max_length=5000)

    permissions = {"view": STAFF_ROLES, "add": {Role.ADMINISTRATOR, Role.OWNER}}
    permissions["change"] = permissions["add"]

    class Meta:
        verbose_name_plural = _("release policies")

    def __str__(self):
        return f"Release policy of {self.service}"


class Release(DetailPage, NumberedRecord):
    number_prefix = "REL"
    detail_url_name = "changes:release_detail"

    short_description = models.CharField(_("name"), max_length=160)
    # Not "version": records keep their edit counter under that name.
    release_version = models.CharField(_("version"), max_length=50)
    kind = models.CharField(_("kind"), max_length=10, choices=ReleaseKind.choices)
    description = models.TextField(_("description"), blank=True, max_length=20000)
    manager = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("release manager"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="managed_releases",
    )
    services = models.ManyToManyField(Service, verbose_name=_("services"), related_name="releases")
    customers = models.ManyToManyField(Customer, blank=True, related_name="releases")
    changes = models.ManyToManyField(Change, blank=True, related_name="releases")
    status = models.CharField(
        _("status"), max_length=12, choices=ReleaseStatus.choices, default=ReleaseStatus.PLANNED
    )
    accepted_at = models.DateTimeField(_("accepted"), null=True, blank=True)
    deployed_at = models.DateTimeField(_("deployed"), null=True, blank=True)
    review_notes = models.TextField(_("post-release review"), blank=True, max_length=20000)
    reviewed_at = models.DateTimeField(_("reviewed"), null=True, blank=True)
    review_days = models.PositiveSmallIntegerField(
        _("days watched after roll-out"),
        default=14,
        help_text=_(
            "Incidents raised on the release's services or CIs within this many days "
            "after its roll-out are linked to its post-release review."
        ),
    )
    incidents = models.ManyToManyField(
        Incident, through="ReleaseIncident", blank=True, related_name="releases"
    )

    customer_field = None
    permissions = STAFF_RECORD

    class Meta:
        ordering = ["-created"]

    @classmethod
    def scope_condition(cls, scope):
        return customers_scope(cls, scope)


class ReleaseStage(models.Model):
    """A step of the release plan: build, test, acceptance or a roll-out wave."""

    release = models.ForeignKey(Release, on_delete=models.CASCADE, related_name="stages")
    kind = models.CharField(_("stage"), max_length=12, choices=StageKind.choices)
    target = models.CharField(_("where (location or CI group)"), max_length=200, blank=True)
    starts_on = models.DateField(_("from"))
    ends_on = models.DateField(_("until"))
    done_at = models.DateTimeField(_("done"), null=True, blank=True)

    class Meta:
        ordering = ["starts_on", "id"]

    def __str__(self):
        return f"{self.get_kind_display()} {self.target}".strip()


class AcceptanceCriterion(models.Model):
    release = models.ForeignKey(Release, on_delete=models.CASCADE, related_name="criteria")
    text = models.CharField(_("criterion"), max_length=500)
    approver = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("signed off by"),
        on_delete=models.PROTECT,
        related_name="+",
    )
    decision = models.CharField(max_length=10, choices=Decision.choices, default=Decision.PENDING)
    comment = models.CharField(max_length=1000, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]

    def __str__(self):
        return self.text


class Deployment(models.Model):
    """The release on one target CI."""

    release = models.ForeignKey(Release, on_delete=models.CASCADE, related_name="deployments")
    ci = models.ForeignKey(
        "cmdb.ConfigurationItem", on_delete=models.PROTECT, related_name="deployments"
    )
    change = models.ForeignKey(
        Change,
        verbose_name=_("authorising change"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="deployments",
    )
    planned_for = models.DateTimeField(_("planned"))
    status = models.CharField(
        max_length=12, choices=DeploymentStatus.choices, default=DeploymentStatus.PLANNED
    )
    done_at = models.DateTimeField(null=True, blank=True)
    previous_version = models.CharField(_("version before"), max_length=200, blank=True)
    note = models.CharField(max_length=1000, blank=True)

    class Meta:
        ordering = ["planned_for", "id"]
        constraints = [models.UniqueConstraint(fields=["release", "ci"], name="deployment_once")]

    def __str__(self):
        return f"{self.release.number} on {self.ci}"


class ReleaseIncident(models.Model):
    """An incident looked at in a release's post-release review: raised on its
    services or CIs in the days after roll-out (linked by the worker) or linked by hand."""

    release = models.ForeignKey(Release, on_delete=models.CASCADE, related_name="incident_links")
    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="release_links")
    automatic = models.BooleanField(_("linked automatically"), default=True)
    linked_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["incident_id"]
        constraints = [
            models.UniqueConstraint(fields=["release", "incident"], name="release_incident_once")
        ]

    def __str__(self):
        return f"{self.incident.number} after {self.release.number}"
