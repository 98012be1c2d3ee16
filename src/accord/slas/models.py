"""Agreements (SLA, OLA, underpinning contract), their targets and escalation rules,
and the clocks that time each incident and request against them.

A clock counts business time on its agreement's calendar from ``base_at``, on top of
``spent_before`` (the business seconds it had already spent when it was last rebased:
on a calendar edit or a change of agreement), minus its ``pauses``. So the deadline
is ``calendar.add(base_at, target - spent_before, pauses)``, and a change of target,
calendar or agreement never loses time already spent or paused. Its ``timeline``
explains every step.
"""

import datetime

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accord.calendars.models import Calendar
from accord.catalogue.models import Service
from accord.core.policy import OWNER_EDITED
from accord.core.records import DetailPage, Record
from accord.incidents.choices import Priority, Status
from accord.organizations.models import Customer
from accord.users.models import Team

from .choices import (
    AgreementKind,
    AgreementStatus,
    ClockState,
    EscalationAction,
    Metric,
    ResponseEvent,
)


def _default_pauses():
    return [Status.PENDING_CUSTOMER.value]


def _default_warnings():
    return [75, 90]


class Agreement(DetailPage, Record):
    kind = models.CharField(
        _("kind"), max_length=3, choices=AgreementKind.choices, default=AgreementKind.SLA
    )
    name = models.CharField(_("name"), max_length=150, unique=True)
    description = models.TextField(_("description"), blank=True, max_length=5000)
    customer = models.ForeignKey(
        Customer,
        verbose_name=_("customer"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="agreements",
    )
    services = models.ManyToManyField(
        Service,
        verbose_name=_("services covered"),
        blank=True,
        related_name="agreements",
        help_text=_("None: every service the customer uses."),
    )
    team = models.ForeignKey(
        Team,
        verbose_name=_("internal team"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="agreements",
        help_text=_("For an operational level agreement: the team that commits to it."),
    )
    supplier = models.CharField(
        _("supplier"),
        max_length=150,
        blank=True,
        help_text=_("For an underpinning contract: the supplier that commits to it."),
    )
    supports = models.ManyToManyField(
        "self",
        verbose_name=_("supports"),
        symmetrical=False,
        blank=True,
        related_name="supported_by",
        help_text=_("The service level agreements this agreement underpins."),
    )
    calendar = models.ForeignKey(
        Calendar,
        verbose_name=_("calendar (service hours)"),
        on_delete=models.PROTECT,
        related_name="agreements",
    )
    status = models.CharField(
        _("status"), max_length=10, choices=AgreementStatus.choices, default=AgreementStatus.DRAFT
    )
    valid_from = models.DateField(_("valid from"), default=datetime.date.today)
    valid_to = models.DateField(_("valid to"), null=True, blank=True)
    review_date = models.DateField(_("next review"), null=True, blank=True)
    pause_statuses = models.JSONField(
        _("statuses that pause the clock"), default=_default_pauses, blank=True
    )
    response_event = models.CharField(
        _("response is"),
        max_length=12,
        choices=ResponseEvent.choices,
        default=ResponseEvent.ASSIGNMENT,
    )
    warning_percents = models.JSONField(_("warn at (% of target)"), default=_default_warnings)

    customer_field = "customer"
    permissions = OWNER_EDITED

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name

    detail_url_name = "slas:agreement_detail"

    @classmethod
    def scope_condition(cls, scope):
        """Staff see the agreements of the customers they serve and the internal ones
        (OLAs, contracts); a customer user sees their organisation's agreed SLAs."""
        if scope.all_customers:
            return Q()
        mine = Q(customer_id__in=scope.customer_ids)
        if scope.is_customer:
            return mine & Q(kind=AgreementKind.SLA, status=AgreementStatus.AGREED)
        return mine | Q(customer__isnull=True)

    def clean(self):
        errors = {}
        if self.kind == AgreementKind.SLA and not self.customer_id:
            errors["customer"] = _("A service level agreement is made with a customer.")
        if self.kind == AgreementKind.OLA and not self.team_id:
            errors["team"] = _("Name the internal team of this operational level agreement.")
        if self.kind == AgreementKind.UC and not (self.supplier or "").strip():
            errors["supplier"] = _("Name the supplier of this underpinning contract.")
        if self.valid_to and self.valid_from and self.valid_to < self.valid_from:
            errors["valid_to"] = _("The agreement cannot end before it starts.")
        bad_status = [s for s in self.pause_statuses or [] if s not in Status.values]
        if bad_status:
            errors["pause_statuses"] = _("Unknown status: %(s)s.") % {"s": ", ".join(bad_status)}
        warnings = self.warning_percents or []
        if not isinstance(warnings, list) or not all(
            isinstance(p, int) and 1 <= p <= 99 for p in warnings
        ):
            errors["warning_percents"] = _("Warnings are whole percentages from 1 to 99.")
        if errors:
            raise ValidationError(errors)

    def is_valid_on(self, day) -> bool:
        return (
            self.status == AgreementStatus.AGREED
            and self.valid_from <= day
            and (self.valid_to is None or day <= self.valid_to)
        )

    def target_for(self, priority, metric):
        for t in self.targets.all():
            if t.priority == priority and t.metric == metric:
                return t
        return None


class Target(models.Model):
    agreement = models.ForeignKey(Agreement, on_delete=models.CASCADE, related_name="targets")
    priority = models.PositiveSmallIntegerField(_("priority"), choices=Priority.choices)
    metric = models.CharField(_("metric"), max_length=10, choices=Metric.choices)
    seconds = models.PositiveIntegerField(
        _("target (business seconds)"), validators=[MinValueValidator(60)]
    )

    class Meta:
        ordering = ["metric", "priority"]
        constraints = [
            models.UniqueConstraint(
                fields=["agreement", "priority", "metric"], name="target_unique_cell"
            )
        ]

    def __str__(self):
        return f"{self.get_metric_display()} P{self.priority}: {self.seconds // 60} min"


class EscalationRule(models.Model):
    agreement = models.ForeignKey(Agreement, on_delete=models.CASCADE, related_name="escalations")
    at_percent = models.PositiveSmallIntegerField(
        _("at (% of target)"),
        validators=[MinValueValidator(1), MaxValueValidator(100)],
        help_text=_("100 is the breach itself."),
    )
    metric = models.CharField(
        _("metric"), max_length=10, choices=Metric.choices, default=Metric.RESOLUTION
    )
    action = models.CharField(_("action"), max_length=20, choices=EscalationAction.choices)
    team = models.ForeignKey(
        Team,
        verbose_name=_("team"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text=_("For a reassignment: the team that takes the record."),
    )

    class Meta:
        ordering = ["metric", "at_percent"]

    def __str__(self):
        return f"{self.at_percent}% {self.get_action_display()}"

    def clean(self):
        if self.action == EscalationAction.REASSIGN and not self.team_id:
            raise ValidationError({"team": _("Name the team that takes the record.")})


class Clock(models.Model):
    """One agreement's target for one record (response or resolution)."""

    content_type = models.ForeignKey(
        "contenttypes.ContentType", on_delete=models.CASCADE, related_name="+"
    )
    object_id = models.BigIntegerField()
    record_number = models.CharField(max_length=20)
    customer_id = models.BigIntegerField(null=True)
    service_id = models.BigIntegerField(null=True)
    priority = models.PositiveSmallIntegerField(choices=Priority.choices)
    agreement = models.ForeignKey(Agreement, on_delete=models.PROTECT, related_name="clocks")
    metric = models.CharField(max_length=10, choices=Metric.choices)
    calendar = models.ForeignKey(Calendar, on_delete=models.PROTECT, related_name="clocks")
    target_seconds = models.PositiveIntegerField()
    started_at = models.DateTimeField()
    base_at = models.DateTimeField()
    spent_before = models.BigIntegerField(default=0)
    pauses = models.JSONField(default=list)  # [[from ISO, to ISO or null], ...] after base_at
    state = models.CharField(max_length=10, choices=ClockState.choices)
    deadline = models.DateTimeField(null=True)
    next_alert_at = models.DateTimeField(null=True)
    alerts_sent = models.JSONField(default=list)
    alert_version = models.PositiveIntegerField(default=0)
    met = models.BooleanField(null=True)
    breached_at = models.DateTimeField(null=True)
    stopped_at = models.DateTimeField(null=True)
    timeline = models.JSONField(default=list)

    customer_field = "customer_id"

    class Meta:
        indexes = [
            models.Index(fields=["content_type", "object_id"], name="clock_record"),
            models.Index(fields=["state", "next_alert_at"], name="clock_alert"),
            models.Index(fields=["calendar", "state"], name="clock_calendar"),
            models.Index(fields=["started_at"], name="clock_started"),
        ]

    def __str__(self):
        return f"{self.record_number} {self.get_metric_display()} ({self.agreement_id})"

    @property
    def is_live(self):
        return self.state in (ClockState.RUNNING, ClockState.PAUSED)


class Recalculation(models.Model):
    """A run that recomputed the clocks of one calendar after it was edited."""

    calendar = models.ForeignKey(Calendar, on_delete=models.CASCADE, related_name="recalculations")
    edited_at = models.DateTimeField()
    total = models.PositiveIntegerField(default=0)
    done = models.PositiveIntegerField(default=0)
    finished_at = models.DateTimeField(null=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-edited_at"]

    def __str__(self):
        return f"{self.calendar} {self.done}/{self.total}"


class Notification(models.Model):
    """An email waiting to go out (the outbox); ``key`` makes each one unique, so a
    retried job never queues the same warning twice."""

    key = models.CharField(max_length=120, unique=True)
    recipients = models.JSONField(default=list)
    subject = models.CharField(max_length=200)
    body = models.TextField()
    created = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True)
    error = models.TextField(blank=True)

    class Meta:
        indexes = [models.Index(fields=["sent_at", "created"], name="notification_pending")]

    def __str__(self):
        return self.subject
