"""Incidents and service requests (ISO/IEC 20000 8.1-8.2).

Both record types share the Ticket base: who called, for which customer and service,
what is wrong, how urgent, who works on it, where it stands in its lifecycle and how
it was resolved. Status changes only through the guarded transitions below; the
actions module wraps each with its journal line and history.
"""

import datetime

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models.expressions import RawSQL
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_fsm import FSMField, transition

from accord.catalogue.models import Service
from accord.core.policy import ALL_ROLES, WRITING_STAFF, Role
from accord.core.records import DetailPage, NumberedRecord, Record
from accord.organizations.models import Customer
from accord.users.models import Team

from .choices import (
    OPEN_STATUSES,
    PENDING_STATUSES,
    CategoryScope,
    Impact,
    Priority,
    ResolutionCode,
    Status,
    Urgency,
)

CONFIG = {"add": {Role.ADMINISTRATOR}, "change": {Role.ADMINISTRATOR}}


class Category(Record):
    """A node of the category tree, e.g. Hardware / Laptop / Battery."""

    name = models.CharField(_("name"), max_length=80)
    parent = models.ForeignKey(
        "self",
        verbose_name=_("parent"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="children",
    )
    applies_to = models.CharField(
        _("applies to"), max_length=10, choices=CategoryScope.choices, default=CategoryScope.BOTH
    )
    path = models.CharField(max_length=400, editable=False)
    active = models.BooleanField(_("active"), default=True)

    permissions = CONFIG

    class Meta:
        ordering = ["path"]
        verbose_name_plural = _("categories")
        constraints = [
            models.UniqueConstraint(fields=["parent", "name"], name="category_unique_name")
        ]

    def __str__(self):
        return self.path

    def clean(self):
        node = self.parent
        while node is not None:
            if node.pk == self.pk and self.pk is not None:
                raise ValidationError({"parent": _("A category cannot be inside itself.")})
            node = node.parent

    def save(self, *args, **kwargs):
        self.path = f"{self.parent.path} / {self.name}" if self.parent_id else self.name
        super().save(*args, **kwargs)

    def allows(self, kind: str) -> bool:
        return self.applies_to in (CategoryScope.BOTH, kind)


class PriorityRule(Record):
    """One cell of the impact x urgency priority matrix."""

    impact = models.PositiveSmallIntegerField(_("impact"), choices=Impact.choices)
    urgency = models.PositiveSmallIntegerField(_("urgency"), choices=Urgency.choices)
    priority = models.PositiveSmallIntegerField(_("priority"), choices=Priority.choices)

    permissions = CONFIG

    class Meta:
        ordering = ["impact", "urgency"]
        constraints = [
            models.UniqueConstraint(fields=["impact", "urgency"], name="priorityrule_unique_cell")
        ]

    def __str__(self):
        return f"{self.get_impact_display()} x {self.get_urgency_display()} = P{self.priority}"

    @classmethod
    def lookup(cls, impact, urgency) -> int:
        from .choices import DEFAULT_MATRIX

        found = cls.objects.filter(impact=impact, urgency=urgency).values_list(
            "priority", flat=True
        )
        for value in found:
            return value
        return DEFAULT_MATRIX[(impact, urgency)]

    @classmethod
    def expression(cls, impact, urgency):
        """The matrix's priority as an SQL expression, for an INSERT to compute (and
        return) itself; the cell's default when the matrix row is missing."""
        from .choices import DEFAULT_MATRIX

        table = cls._meta.db_table
        sql = f"COALESCE((SELECT priority FROM {table} WHERE impact = %s AND urgency = %s), %s)"  # noqa: S608
        return RawSQL(  # noqa: S611 - fixed text, values are bound parameters
            sql,
            (int(impact), int(urgency), DEFAULT_MATRIX[(impact, urgency)]),
            output_field=models.PositiveSmallIntegerField(),
        )


class DeskSettings(Record):
    """Service desk settings an administrator edits (one row)."""

    auto_close_days = models.PositiveSmallIntegerField(
        _("close resolved records after (days)"),
        default=5,
        help_text=_(
            "A resolved record the customer has not confirmed closes after this many days."
        ),
    )

    permissions = CONFIG

    class Meta:
        verbose_name_plural = _("desk settings")

    def __str__(self):
        return "Service desk settings"

    @classmethod
    def get(cls):
        obj = cls.objects.first()
        return obj if obj is not None else cls(auto_close_days=5)


def _has_resolution(ticket):
    return bool(ticket.resolution_code) and bool((ticket.resolution_notes or "").strip())


def _review_done(ticket):
    return ticket.major_review_complete()


def ticket_indexes(prefix):
    """The indexes behind the queues. ``is_open`` leads the queue indexes so a queue
    page (open records by priority, or by last update) is a short walk in index order
    however many closed records pile up, on SQLite and PostgreSQL alike."""
    return [
        models.Index(fields=["is_open", "priority", "id"], name=f"{prefix}_open_prio"),
        models.Index(fields=["is_open", "updated", "id"], name=f"{prefix}_open_upd"),
        models.Index(fields=["status", "id"], name=f"{prefix}_status_id"),
        models.Index(fields=["status", "priority", "id"], name=f"{prefix}_status_prio"),
        models.Index(fields=["status", "updated", "id"], name=f"{prefix}_status_upd"),
        models.Index(fields=["customer", "is_open", "priority", "id"], name=f"{prefix}_cust_open"),
        # With the customer last, a queue count (capped) reads the index alone.
        models.Index(fields=["assignee", "is_open", "customer"], name=f"{prefix}_assignee_open"),
        models.Index(fields=["assignment_team", "is_open", "customer"], name=f"{prefix}_team_open"),
        models.Index(fields=["is_open", "status", "customer"], name=f"{prefix}_open_status"),
        models.Index(fields=["is_open", "sla_due", "id"], name=f"{prefix}_open_due"),
        models.Index(fields=["created"], name=f"{prefix}_created"),
        models.Index(fields=["updated"], name=f"{prefix}_updated"),
        models.Index(fields=["status", "resolved_at"], name=f"{prefix}_status_resolved"),
    ]


# "Open" as a filter. Written as a comparison with a value on purpose: Django turns
# ``is_open=True`` into a bare ``WHERE is_open``, which SQLite cannot answer from an
# index; ``is_open = 1`` is an index seek on both databases.
OPEN = models.Q(is_open=models.Value(True))

# "No deadline" in the due column: far in the future, so records without a running
# clock sort last and the column is never NULL.
NO_DEADLINE = datetime.datetime(9999, 12, 31, tzinfo=datetime.UTC)


class Ticket(DetailPage, NumberedRecord):
    """What incidents and service requests share."""

    kind = ""  # "incident" or "request", for categories

    caller = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("caller"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="%(class)s_called",
    )
    customer = models.ForeignKey(
        Customer, verbose_name=_("customer"), on_delete=models.PROTECT, related_name="%(class)ss"
    )
    service = models.ForeignKey(
        Service,
        verbose_name=_("service"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="%(class)ss",
    )
    category = models.ForeignKey(
        Category,
        verbose_name=_("category"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="%(class)ss",
    )
    short_description = models.CharField(_("short description"), max_length=160)
    description = models.TextField(_("description"), blank=True, max_length=20000)
    impact = models.PositiveSmallIntegerField(
        _("impact"), choices=Impact.choices, default=Impact.LOW
    )
    urgency = models.PositiveSmallIntegerField(
        _("urgency"), choices=Urgency.choices, default=Urgency.LOW
    )
    priority = models.PositiveSmallIntegerField(
        _("priority"), choices=Priority.choices, default=Priority.P5
    )
    assignment_team = models.ForeignKey(
        Team,
        verbose_name=_("assignment team"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="%(class)ss",
    )
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("assigned to"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="%(class)s_assigned",
    )
    status = FSMField(_("status"), max_length=20, choices=Status.choices, default=Status.NEW)
    resolution_code = models.CharField(
        _("resolution code"), max_length=20, choices=ResolutionCode.choices, blank=True
    )
    resolution_notes = models.TextField(_("resolution notes"), blank=True, max_length=10000)
    workaround = models.TextField(_("workaround"), blank=True, max_length=10000)
    resolved_at = models.DateTimeField(_("resolved"), null=True, blank=True)
    closed_at = models.DateTimeField(_("closed"), null=True, blank=True)
    # Kept equal to "status is one of the open statuses" on every save: the queues
    # filter on it, and an index can lead with one value where six statuses can't.
    is_open = models.BooleanField(_("open"), default=True, editable=False)
    # Kept by the SLA clocks: the earliest deadline still running (NO_DEADLINE when
    # none; never NULL, so the queue can sort and page on it) and whether any agreed
    # target of the record has been missed.
    sla_due = models.DateTimeField(_("due"), default=NO_DEADLINE, editable=False)
    sla_breached = models.BooleanField(_("SLA breached"), default=False, editable=False)

    customer_field = "customer"
    history_exclude = frozenset({"is_open", "sla_due", "sla_breached"})
    permissions = {
        "view": ALL_ROLES,
        "add": WRITING_STAFF | {Role.CUSTOMER},
        "change": WRITING_STAFF,
        "delete": frozenset(),
        "reply": WRITING_STAFF | {Role.CUSTOMER},
        "work_note": WRITING_STAFF,
        "confirm": WRITING_STAFF | {Role.CUSTOMER},
    }

    class Meta:
        abstract = True
        ordering = ["priority", "created"]

    # --- rules ------------------------------------------------------------------
    def clean(self):
        errors = {}
        if self.category_id and not self.category.allows(self.kind):
            errors["category"] = _("This category is not used for this kind of record.")
        if self.service_id and self.customer_id:
            used_by = self.service.served_customer_ids()
            if used_by and self.customer_id not in used_by:
                errors["service"] = _("%(customer)s does not use this service.") % {
                    "customer": self.customer
                }
        if self.assignee_id and self.assignment_team_id:
            if not self.assignment_team.members.filter(pk=self.assignee_id).exists():
                errors["assignee"] = _("The assignee is not a member of the assignment team.")
        if errors:
            raise ValidationError(errors)

    def save(self, *args, **kwargs):
        self.is_open = self.status in OPEN_STATUSES
        super().save(*args, **kwargs)

    def major_review_complete(self):
        return True

    # --- lifecycle ----------------------------------------------------------------
    @transition(field=status, source=Status.NEW, target=Status.ASSIGNED)
    def mark_assigned(self):
        """A team or person has been given the record."""

    @transition(field=status, source=[Status.NEW, Status.ASSIGNED], target=Status.IN_PROGRESS)
    def start_work(self):
        """Someone has started on it."""

    @transition(field=status, source=Status.IN_PROGRESS, target=Status.PENDING_CUSTOMER)
    def wait_for_customer(self):
        """Waiting on the customer."""

    @transition(field=status, source=Status.IN_PROGRESS, target=Status.PENDING_SUPPLIER)
    def wait_for_supplier(self):
        """Waiting on a supplier."""

    @transition(field=status, source=Status.IN_PROGRESS, target=Status.PENDING_CHANGE)
    def wait_for_change(self):
        """Waiting on a change."""

    @transition(field=status, source=list(PENDING_STATUSES), target=Status.IN_PROGRESS)
    def resume(self):
        """Back to work after waiting."""

    @transition(
        field=status,
        source=list(OPEN_STATUSES),
        target=Status.RESOLVED,
        conditions=[_has_resolution],
    )
    def resolve(self):
        self.resolved_at = timezone.now()

    @transition(field=status, source=Status.RESOLVED, target=Status.IN_PROGRESS)
    def reopen(self):
        self.resolved_at = None

    @transition(
        field=status, source=Status.RESOLVED, target=Status.CLOSED, conditions=[_review_done]
    )
    def close(self):
        self.closed_at = timezone.now()

    @transition(field=status, source=list(OPEN_STATUSES), target=Status.CANCELLED)
    def cancel(self):
        self.closed_at = timezone.now()


class Incident(Ticket):
    """An unplanned interruption or reduction in quality of a service."""

    number_prefix = "INC"
    kind = "incident"
    detail_url_name = "incidents:detail"

    is_major = models.BooleanField(_("major incident"), default=False)
    major_reason = models.TextField(_("why it is major"), blank=True, max_length=5000)
    major_manager = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("major incident manager"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="managed_major_incidents",
    )
    major_declared_at = models.DateTimeField(_("declared major"), null=True, blank=True)

    class Meta(Ticket.Meta):
        indexes = ticket_indexes("inc")

    def major_review_complete(self):
        if not self.is_major:
            return True
        review = MajorIncidentReview.objects.filter(incident=self).first()
        return review is not None and review.completed_at is not None


class ServiceRequest(Ticket):
    """A user's request for information, advice, access or a standard change."""

    number_prefix = "REQ"
    kind = "request"
    detail_url_name = "requests:detail"

    class Meta(Ticket.Meta):
        verbose_name = _("service request")
        indexes = ticket_indexes("req")


class MajorIncidentUpdate(models.Model):
    """A timestamped entry in a major incident's timeline."""

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="major_updates")
    at = models.DateTimeField(_("at"), default=timezone.now)
    body = models.TextField(_("update"), max_length=5000)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["at", "id"]

    def __str__(self):
        return f"{self.incident.number} {self.at:%Y-%m-%d %H:%M}"


class CustomerCommunication(models.Model):
    """A message sent to customers about a major incident (the communications log)."""

    class Channel(models.TextChoices):
        EMAIL = "email", _("Email")
        PHONE = "phone", _("Phone")
        PORTAL = "portal", _("Status page / portal")
        MEETING = "meeting", _("Meeting")

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="communications")
    sent_at = models.DateTimeField(_("sent"), default=timezone.now)
    channel = models.CharField(_("channel"), max_length=10, choices=Channel.choices)
    audience = models.CharField(_("audience"), max_length=300)
    subject = models.CharField(_("subject"), max_length=200)
    body = models.TextField(_("message"), max_length=10000)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["sent_at", "id"]

    def __str__(self):
        return self.subject


class MajorIncidentReview(Record):
    """The review that must be completed before a major incident can close."""

    incident = models.OneToOneField(Incident, on_delete=models.CASCADE, related_name="major_review")
    summary = models.TextField(_("summary"), max_length=10000)
    root_cause = models.TextField(_("root cause"), blank=True, max_length=10000)
    went_well = models.TextField(_("what went well"), blank=True, max_length=10000)
    went_badly = models.TextField(_("what went badly"), blank=True, max_length=10000)
    actions = models.TextField(_("follow-up actions"), blank=True, max_length=10000)
    completed_at = models.DateTimeField(_("completed"), null=True, blank=True)
    completed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    customer_field = "incident__customer"

    def __str__(self):
        return f"Review of {self.incident.number}"
