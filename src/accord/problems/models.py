"""Problem management and the known error database (ISO/IEC 20000 8.1.2, 8.3).

A problem is the unknown cause of one or more incidents. It is raised from incidents
or proactively (by an analyst, or from a trend), investigated with a structured root
cause analysis, becomes a known error once its cause and a workaround are known, and
ends fixed by a change (resolved, then closed), with its risk accepted, or cancelled.
Its status changes only through the guarded transitions below; ``actions`` wraps each
with its rules, journal line and history.

Problems and known errors belong to the provider: customer users never see them.
Staff see those of their customers and those that name no customer.
"""

from django.conf import settings
from django.db import models
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_fsm import FSMField, transition

from accord.catalogue.models import Service
from accord.core.policy import STAFF_ROLES, WRITING_STAFF, Role
from accord.core.records import DetailPage, NumberedRecord, Record
from accord.incidents.choices import Impact, Priority, Urgency
from accord.incidents.models import Category, Incident
from accord.organizations.models import Customer
from accord.users.models import Team

from .choices import (
    DEFAULT_MATRIX,
    DEFAULT_TARGET_DAYS,
    OPEN_STATUSES,
    ClusterKind,
    FactorKind,
    KnownErrorStatus,
    Origin,
    RcaMethod,
    Status,
)

CONFIG = {"add": {Role.ADMINISTRATOR}, "change": {Role.ADMINISTRATOR}}
STAFF_RECORD = {
    "view": STAFF_ROLES,
    "add": WRITING_STAFF,
    "change": WRITING_STAFF,
    "delete": frozenset(),
    # Accepting the risk of an unfixed problem is decided by someone who may (the
    # approver, named on the record); managers and administrators record it.
    "accept_risk": frozenset({Role.ADMINISTRATOR, Role.MANAGER}),
}
# Who may be named as the approver of an accepted risk.
RISK_APPROVER_ROLES = frozenset({Role.ADMINISTRATOR, Role.MANAGER, Role.OWNER})


def customers_scope(model, scope):
    """Staff see the records of their customers and those that name none; customer
    users see none (the provider's own records)."""
    if scope.is_customer:
        return Q(pk__in=[])
    if scope.all_customers:
        return Q()
    through = model.customers.through
    owner = through._meta.get_field(model._meta.model_name).attname
    mine = Exists(
        through.objects.filter(**{owner: OuterRef("pk"), "customer_id__in": scope.customer_ids})
    )
    shared = ~Exists(through.objects.filter(**{owner: OuterRef("pk")}))
    return Q(mine) | Q(shared)


class ProblemPriorityRule(Record):
    """One cell of the problems' own impact x urgency priority matrix."""

    impact = models.PositiveSmallIntegerField(_("impact"), choices=Impact.choices)
    urgency = models.PositiveSmallIntegerField(_("urgency"), choices=Urgency.choices)
    priority = models.PositiveSmallIntegerField(_("priority"), choices=Priority.choices)

    permissions = CONFIG

    class Meta:
        ordering = ["impact", "urgency"]
        constraints = [
            models.UniqueConstraint(fields=["impact", "urgency"], name="problemprio_unique_cell")
        ]

    def __str__(self):
        return f"{self.get_impact_display()} x {self.get_urgency_display()} = P{self.priority}"

    @classmethod
    def lookup(cls, impact, urgency) -> int:
        for value in cls.objects.filter(impact=impact, urgency=urgency).values_list(
            "priority", flat=True
        ):
            return value
        return DEFAULT_MATRIX[(int(impact), int(urgency))]


class ProblemSettings(Record):
    """Targets and escalation rules for problems (one row, edited by administrators)."""

    p1_days = models.PositiveSmallIntegerField(_("P1 target (days)"), default=7)
    p2_days = models.PositiveSmallIntegerField(_("P2 target (days)"), default=14)
    p3_days = models.PositiveSmallIntegerField(_("P3 target (days)"), default=30)
    p4_days = models.PositiveSmallIntegerField(_("P4 target (days)"), default=60)
    p5_days = models.PositiveSmallIntegerField(_("P5 target (days)"), default=120)
    stale_days = models.PositiveSmallIntegerField(
        _("escalate after days without an update"),
        default=14,
        help_text=_("An open problem nobody has updated for this long is escalated."),
    )
    repeat_days = models.PositiveSmallIntegerField(
        _("escalate again after (days)"),
        default=7,
        help_text=_("A problem still overdue or idle is escalated again after this long."),
    )

    permissions = CONFIG

    class Meta:
        verbose_name_plural = _("problem settings")

    def __str__(self):
        return "Problem settings"

    @classmethod
    def get(cls):
        found = cls.objects.first()
        return found if found is not None else cls()

    def target_days(self, priority) -> int:
        value = getattr(self, f"p{int(priority)}_days", None)
        return value if value is not None else DEFAULT_TARGET_DAYS[int(priority)]


# --- lifecycle conditions (the actions explain a refusal in words) -------------------
def _root_cause_recorded(problem):
    return bool((problem.root_cause or "").strip())


def _workaround_recorded(problem):
    return bool((problem.workaround or "").strip())


def _fix_recorded(problem):
    return bool((problem.fix_change or "").strip()) and bool(
        (problem.fix_description or "").strip()
    )


def _may_close(problem):
    return not problem.closure_blockers()


def _risk_recorded(problem):
    return bool((problem.risk_reason or "").strip()) and problem.risk_approver_id is not None


class Problem(DetailPage, NumberedRecord):
    """The cause, not yet known or not yet removed, of one or more incidents."""

    number_prefix = "PRB"
    detail_url_name = "problems:detail"

    short_description = models.CharField(_("short description"), max_length=160)
    description = models.TextField(_("description"), blank=True, max_length=20000)
    origin = models.CharField(
        _("origin"), max_length=12, choices=Origin.choices, default=Origin.PROACTIVE
    )
    impact = models.PositiveSmallIntegerField(
        _("impact"), choices=Impact.choices, default=Impact.LOW
    )
    urgency = models.PositiveSmallIntegerField(
        _("urgency"), choices=Urgency.choices, default=Urgency.LOW
    )
    priority = models.PositiveSmallIntegerField(
        _("priority"), choices=Priority.choices, default=Priority.P5
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("problem owner"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="owned_problems",
    )
    assignment_team = models.ForeignKey(
        Team,
        verbose_name=_("team"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="problems",
    )
    services = models.ManyToManyField(
        Service, verbose_name=_("affected services"), blank=True, related_name="problems"
    )
    customers = models.ManyToManyField(
        Customer, verbose_name=_("affected customers"), blank=True, related_name="problems"
    )
    category = models.ForeignKey(
        Category,
        verbose_name=_("category"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="problems",
    )
    status = FSMField(_("status"), max_length=20, choices=Status.choices, default=Status.NEW)
    is_major = models.BooleanField(
        _("major problem"),
        default=False,
        help_text=_("A major problem needs a completed review before it can close."),
    )
    # Root cause analysis, as structured fields (timeline, factors and analysis steps
    # are rows of their own below).
    symptoms = models.TextField(_("symptoms"), blank=True, max_length=20000)
    rca_method = models.CharField(
        _("analysis method"), max_length=20, choices=RcaMethod.choices, blank=True
    )
    root_cause = models.TextField(_("root cause"), blank=True, max_length=20000)
    workaround = models.TextField(_("workaround"), blank=True, max_length=20000)
    # The fix: the change that removes the cause (a reference until changes are
    # records of their own), and whether it closed successfully.
    fix_change = models.CharField(_("fixing change"), max_length=50, blank=True)
    fix_description = models.TextField(_("fix"), blank=True, max_length=10000)
    fix_verified_at = models.DateTimeField(_("fix confirmed"), null=True, blank=True)
    fix_verified_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Accepted risk: no fix, with the reason and who approved it.
    risk_reason = models.TextField(_("why the risk is accepted"), blank=True, max_length=10000)
    risk_approver = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("risk approved by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    # Milestones, for tracking and reports.
    target_date = models.DateField(_("target date"), null=True, blank=True)
    root_cause_at = models.DateTimeField(_("root cause known"), null=True, blank=True)
    known_error_at = models.DateTimeField(_("known error"), null=True, blank=True)
    resolved_at = models.DateTimeField(_("resolved"), null=True, blank=True)
    closed_at = models.DateTimeField(_("closed"), null=True, blank=True)
    # Escalation (written by the worker, not shown as edits).
    is_open = models.BooleanField(_("open"), default=True, editable=False)
    escalated_at = models.DateTimeField(_("last escalated"), null=True, blank=True, editable=False)
    escalations = models.PositiveSmallIntegerField(default=0, editable=False)

    customer_field = None
    history_exclude = frozenset({"is_open", "escalated_at", "escalations"})
    permissions = STAFF_RECORD

    class Meta:
        ordering = ["priority", "created"]
        indexes = [
            models.Index(fields=["is_open", "priority", "id"], name="prb_open_prio"),
            models.Index(fields=["is_open", "target_date"], name="prb_open_target"),
            models.Index(fields=["is_open", "updated"], name="prb_open_upd"),
            models.Index(fields=["status", "id"], name="prb_status_id"),
            models.Index(fields=["resolved_at"], name="prb_resolved"),
        ]

    @classmethod
    def scope_condition(cls, scope):
        return customers_scope(cls, scope)

    def save(self, *args, **kwargs):
        self.is_open = self.status in OPEN_STATUSES
        super().save(*args, **kwargs)

    def needs_review(self):
        return self.is_major

    def review_complete(self):
        review = ProblemReview.objects.filter(problem=self).first()
        return review is not None and review.completed_at is not None

    def closure_blockers(self):
        """What stops this problem from closing, in words (empty: it may close)."""
        out = []
        if self.status == Status.RESOLVED and self.fix_verified_at is None:
            out.append(_("Confirm that the fixing change closed successfully."))
        if self.needs_review() and not self.review_complete():
            out.append(_("Complete the problem review (a major problem needs one)."))
        return out

    # --- lifecycle ----------------------------------------------------------------
    @transition(field=status, source=Status.NEW, target=Status.INVESTIGATING)
    def investigate(self):
        """Work on the cause has started."""

    @transition(
        field=status,
        source=[Status.NEW, Status.INVESTIGATING],
        target=Status.ROOT_CAUSE_KNOWN,
        conditions=[_root_cause_recorded],
    )
    def find_root_cause(self):
        self.root_cause_at = self.root_cause_at or timezone.now()

    @transition(
        field=status,
        source=[Status.INVESTIGATING, Status.ROOT_CAUSE_KNOWN],
        target=Status.KNOWN_ERROR,
        conditions=[_root_cause_recorded, _workaround_recorded],
    )
    def declare_known_error(self):
        self.root_cause_at = self.root_cause_at or timezone.now()
        self.known_error_at = timezone.now()

    @transition(
        field=status,
        source=[Status.INVESTIGATING, Status.ROOT_CAUSE_KNOWN, Status.KNOWN_ERROR],
        target=Status.RESOLVED,
        conditions=[_root_cause_recorded, _fix_recorded],
    )
    def resolve(self):
        self.root_cause_at = self.root_cause_at or timezone.now()
        self.resolved_at = timezone.now()

    @transition(field=status, source=Status.RESOLVED, target=Status.INVESTIGATING)
    def reopen(self):
        """The fix did not remove the cause."""
        self.resolved_at = None
        self.fix_verified_at = None
        self.fix_verified_by = None

    @transition(field=status, source=Status.RESOLVED, target=Status.CLOSED, conditions=[_may_close])
    def close(self):
        self.closed_at = timezone.now()

    @transition(
        field=status,
        source=[Status.ROOT_CAUSE_KNOWN, Status.KNOWN_ERROR],
        target=Status.ACCEPTED_RISK,
        conditions=[_risk_recorded, _may_close],
    )
    def accept_risk(self):
        self.closed_at = timezone.now()

    @transition(
        field=status,
        source=[Status.NEW, Status.INVESTIGATING, Status.ROOT_CAUSE_KNOWN, Status.KNOWN_ERROR],
        target=Status.CANCELLED,
    )
    def cancel(self):
        self.closed_at = timezone.now()


class ProblemIncident(models.Model):
    """An incident the problem causes (the link is shown on both)."""

    problem = models.ForeignKey(Problem, on_delete=models.CASCADE, related_name="incident_links")
    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="problem_links")
    linked_at = models.DateTimeField(default=timezone.now)
    linked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["linked_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["problem", "incident"], name="problem_incident_once")
        ]
        indexes = [models.Index(fields=["incident", "problem"], name="prb_inc_by_incident")]

    def __str__(self):
        return f"{self.problem.number} ← {self.incident.number}"


class TimelineEntry(models.Model):
    """One moment of the problem's timeline (what happened when), for the analysis."""

    problem = models.ForeignKey(Problem, on_delete=models.CASCADE, related_name="timeline")
    at = models.DateTimeField(_("when"))
    description = models.CharField(_("what happened"), max_length=1000)

    class Meta:
        ordering = ["at", "id"]

    def __str__(self):
        return f"{self.at:%Y-%m-%d %H:%M} {self.description[:60]}"


class ContributingFactor(models.Model):
    problem = models.ForeignKey(
        Problem, on_delete=models.CASCADE, related_name="contributing_factors"
    )
    kind = models.CharField(_("kind"), max_length=20, choices=FactorKind.choices)
    description = models.CharField(_("factor"), max_length=1000)

    class Meta:
        ordering = ["kind", "id"]

    def __str__(self):
        return f"{self.get_kind_display()}: {self.description[:60]}"


class AnalysisStep(models.Model):
    """One step of the analysis method, e.g. one "why?" and its answer."""

    problem = models.ForeignKey(Problem, on_delete=models.CASCADE, related_name="analysis_steps")
    position = models.PositiveSmallIntegerField(_("step"))
    question = models.CharField(_("question"), max_length=500)
    answer = models.TextField(_("answer"), max_length=5000)

    class Meta:
        ordering = ["position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["problem", "position"], name="analysis_step_once")
        ]

    def __str__(self):
        return f"{self.position}. {self.question[:60]}"


class ProblemReview(Record):
    """The review of a major problem (8.3.8): what went well, what didn't, and the
    actions that prevent a recurrence."""

    problem = models.OneToOneField(Problem, on_delete=models.CASCADE, related_name="review")
    summary = models.TextField(_("summary"), max_length=10000)
    went_well = models.TextField(_("what went well"), blank=True, max_length=10000)
    went_badly = models.TextField(_("what did not go well"), blank=True, max_length=10000)
    completed_at = models.DateTimeField(_("completed"), null=True, blank=True)
    completed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    permissions = STAFF_RECORD

    def __str__(self):
        return f"Review of {self.problem.number}"

    @classmethod
    def scope_condition(cls, scope):
        return Q(problem__in=Problem.objects.filter(Problem.scope_condition(scope)).values("pk"))


class ReviewAction(Record):
    """A prevention action from a problem review, tracked to done (8.3.9)."""

    review = models.ForeignKey(ProblemReview, on_delete=models.CASCADE, related_name="actions")
    description = models.CharField(_("action"), max_length=500)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("owner"),
        on_delete=models.PROTECT,
        related_name="problem_review_actions",
    )
    due = models.DateField(_("due"))
    done_at = models.DateTimeField(_("done"), null=True, blank=True)
    done_note = models.CharField(_("how it was done"), max_length=1000, blank=True)

    permissions = STAFF_RECORD

    class Meta:
        ordering = ["due", "id"]
        indexes = [models.Index(fields=["done_at", "due"], name="prb_action_open_due")]

    def __str__(self):
        return self.description

    @classmethod
    def scope_condition(cls, scope):
        return Q(
            review__problem__in=Problem.objects.filter(Problem.scope_condition(scope)).values("pk")
        )


class KnownError(DetailPage, NumberedRecord):
    """A problem whose cause is known, with a workaround (8.3.3)."""

    number_prefix = "KE"
    detail_url_name = "problems:known_error_detail"

    short_description = models.CharField(_("title"), max_length=160)
    symptoms = models.TextField(_("symptoms"), max_length=20000)
    root_cause = models.TextField(_("root cause"), blank=True, max_length=20000)
    workaround = models.TextField(
        _("workaround"),
        max_length=20000,
        help_text=_("The steps, in Markdown: numbered lists, **bold**, `code`, links."),
    )
    status = models.CharField(
        _("status"), max_length=10, choices=KnownErrorStatus.choices, default=KnownErrorStatus.OPEN
    )
    problem = models.ForeignKey(
        Problem,
        verbose_name=_("problem"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="known_errors",
    )
    services = models.ManyToManyField(
        Service, verbose_name=_("services"), blank=True, related_name="known_errors"
    )
    customers = models.ManyToManyField(
        Customer, verbose_name=_("customers"), blank=True, related_name="known_errors"
    )
    fixed_at = models.DateTimeField(_("fixed"), null=True, blank=True)
    # How many incidents its workaround has served (kept with KnownErrorUse rows).
    use_count = models.PositiveIntegerField(_("incidents served"), default=0, editable=False)

    customer_field = None
    history_exclude = frozenset({"use_count"})
    permissions = STAFF_RECORD

    class Meta:
        ordering = ["-created"]
        indexes = [models.Index(fields=["status", "id"], name="ke_status_id")]

    @classmethod
    def scope_condition(cls, scope):
        return customers_scope(cls, scope)


class KnownErrorUse(models.Model):
    """A known error's workaround applied to an incident."""

    known_error = models.ForeignKey(KnownError, on_delete=models.CASCADE, related_name="uses")
    incident = models.ForeignKey(
        Incident, on_delete=models.CASCADE, related_name="known_error_uses"
    )
    applied_at = models.DateTimeField(default=timezone.now)
    applied_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["applied_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["known_error", "incident"], name="ke_use_once")
        ]
        indexes = [
            models.Index(fields=["incident"], name="ke_use_incident"),
            models.Index(fields=["applied_at"], name="ke_use_at"),
        ]

    def __str__(self):
        return f"{self.known_error.number} → {self.incident.number}"


class TrendRun(models.Model):
    """One search for clusters of incidents without a problem (8.3.10)."""

    class State(models.TextChoices):
        QUEUED = "queued", _("Queued")
        RUNNING = "running", _("Running")
        DONE = "done", _("Done")
        FAILED = "failed", _("Failed")

    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    window_days = models.PositiveSmallIntegerField(_("window (days)"), default=90)
    min_count = models.PositiveSmallIntegerField(_("smallest cluster"), default=3)
    since = models.DateTimeField(_("from"))
    until = models.DateTimeField(_("to"))
    state = models.CharField(max_length=10, choices=State.choices, default=State.QUEUED)
    created = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    incidents_scanned = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-created", "-id"]

    def __str__(self):
        return f"Trend run {self.pk} ({self.window_days} days)"

    @classmethod
    def scope_condition(cls, scope):
        return Q() if scope.is_staff else Q(pk__in=[])


class TrendCluster(models.Model):
    """A group of incidents in a run's window that share a service, CI, category or
    similar words and have no problem yet. ``members`` lists [incident id, customer
    id] pairs, so each user is shown the part of a cluster they may see."""

    run = models.ForeignKey(TrendRun, on_delete=models.CASCADE, related_name="clusters")
    kind = models.CharField(max_length=10, choices=ClusterKind.choices)
    key = models.CharField(max_length=200)
    label = models.CharField(max_length=300)
    count = models.PositiveIntegerField()
    impact_score = models.PositiveIntegerField(default=0)
    first_seen = models.DateTimeField()
    last_seen = models.DateTimeField()
    members = models.JSONField(default=list)
    problem = models.ForeignKey(
        Problem, null=True, blank=True, on_delete=models.SET_NULL, related_name="trend_clusters"
    )

    class Meta:
        ordering = ["-count", "-impact_score", "id"]
        indexes = [models.Index(fields=["run", "kind"], name="trend_cluster_run_kind")]

    def __str__(self):
        return f"{self.get_kind_display()}: {self.label} ({self.count})"


class TrendDismissal(Record):
    """A trend the problem managers looked at and set aside, with their reason: its
    clusters (same kind, same service, CI, category or words) are listed apart from
    the others in every later run, until the given day if one is set."""

    kind = models.CharField(_("kind"), max_length=10, choices=ClusterKind.choices)
    key = models.CharField(max_length=200)
    label = models.CharField(_("trend"), max_length=300)
    reason = models.TextField(_("why it is set aside"), max_length=2000)
    until = models.DateField(
        _("show it again from"),
        null=True,
        blank=True,
        help_text=_("Leave empty to set it aside until someone restores it."),
    )
    dismissed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("set aside by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    # The provider's own judgement: staff see it; problem managers make and undo it.
    permissions = {
        "view": STAFF_ROLES,
        "add": frozenset({Role.ADMINISTRATOR, Role.MANAGER, Role.OWNER}),
        "change": frozenset({Role.ADMINISTRATOR, Role.MANAGER, Role.OWNER}),
        "delete": frozenset({Role.ADMINISTRATOR, Role.MANAGER, Role.OWNER}),
    }

    class Meta:
        ordering = ["-created", "-id"]
        constraints = [models.UniqueConstraint(fields=["kind", "key"], name="trend_dismissed_once")]

    def __str__(self):
        return f"{self.get_kind_display()}: {self.label}"

    @classmethod
    def scope_condition(cls, scope):
        return Q() if scope.is_staff else Q(pk__in=[])

    def active_on(self, day):
        return self.until is None or day < self.until
