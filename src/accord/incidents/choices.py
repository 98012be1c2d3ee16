"""Choice sets of incidents and service requests."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class Impact(models.IntegerChoices):
    HIGH = 1, _("1 - High")
    MEDIUM = 2, _("2 - Medium")
    LOW = 3, _("3 - Low")


class Urgency(models.IntegerChoices):
    HIGH = 1, _("1 - High")
    MEDIUM = 2, _("2 - Medium")
    LOW = 3, _("3 - Low")


class Priority(models.IntegerChoices):
    P1 = 1, _("P1 - Critical")
    P2 = 2, _("P2 - High")
    P3 = 3, _("P3 - Moderate")
    P4 = 4, _("P4 - Low")
    P5 = 5, _("P5 - Planning")


# The common ITIL 3x3 table: (impact, urgency) -> priority.
DEFAULT_MATRIX = {
    (1, 1): 1,
    (1, 2): 2,
    (1, 3): 3,
    (2, 1): 2,
    (2, 2): 3,
    (2, 3): 4,
    (3, 1): 3,
    (3, 2): 4,
    (3, 3): 5,
}


class Status(models.TextChoices):
    NEW = "new", _("New")
    ASSIGNED = "assigned", _("Assigned")
    IN_PROGRESS = "in_progress", _("In progress")
    PENDING_CUSTOMER = "pending_customer", _("Pending customer")
    PENDING_SUPPLIER = "pending_supplier", _("Pending supplier")
    PENDING_CHANGE = "pending_change", _("Pending change")
    RESOLVED = "resolved", _("Resolved")
    CLOSED = "closed", _("Closed")
    CANCELLED = "cancelled", _("Cancelled")


OPEN_STATUSES = (
    Status.NEW,
    Status.ASSIGNED,
    Status.IN_PROGRESS,
    Status.PENDING_CUSTOMER,
    Status.PENDING_SUPPLIER,
    Status.PENDING_CHANGE,
)
PENDING_STATUSES = (Status.PENDING_CUSTOMER, Status.PENDING_SUPPLIER, Status.PENDING_CHANGE)
WORKING_STATUSES = (Status.NEW, Status.ASSIGNED, Status.IN_PROGRESS, *PENDING_STATUSES)


class ResolutionCode(models.TextChoices):
    SOLVED = "solved", _("Solved (permanently)")
    WORKAROUND = "workaround", _("Solved by workaround")
    USER_ERROR = "user_error", _("User error / training")
    NOT_REPRODUCIBLE = "not_reproducible", _("Not reproducible")
    DUPLICATE = "duplicate", _("Duplicate")
    FULFILLED = "fulfilled", _("Request fulfilled")
    REJECTED = "rejected", _("Request rejected")


class CategoryScope(models.TextChoices):
    BOTH = "both", _("Incidents and requests")
    INCIDENT = "incident", _("Incidents only")
    REQUEST = "request", _("Requests only")
