"""Fixed vocabularies of the configuration management database."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class CIStatus(models.TextChoices):
    PLANNED = "planned", _("Planned")
    ORDERED = "ordered", _("Ordered")
    IN_STOCK = "in_stock", _("In stock")
    LIVE = "live", _("Live")
    MAINTENANCE = "maintenance", _("Maintenance")
    RETIRED = "retired", _("Retired")
    DISPOSED = "disposed", _("Disposed")


class Criticality(models.IntegerChoices):
    CRITICAL = 1, _("Critical")
    HIGH = 2, _("High")
    MEDIUM = 3, _("Medium")
    LOW = 4, _("Low")


class AttributeKind(models.TextChoices):
    TEXT = "text", _("Text")
    NUMBER = "number", _("Number")
    DATE = "date", _("Date")
    CHOICE = "choice", _("Choice")
    REFERENCE = "reference", _("Reference to a CI")
    IP = "ip", _("IP address")


class ImpactFlow(models.TextChoices):
    """Which way a failure travels along a relationship of this type."""

    TO_SOURCE = "to_source", _("A failure of the target affects the source")
    TO_TARGET = "to_target", _("A failure of the source affects the target")
    BOTH = "both", _("Both ways")
    NONE = "none", _("Neither (no impact)")


class RunStatus(models.TextChoices):
    QUEUED = "queued", _("Queued")
    RUNNING = "running", _("Running")
    DONE = "done", _("Done")
    FAILED = "failed", _("Failed")


class AuditOutcome(models.TextChoices):
    UNCHANGED = "unchanged", _("Matched, unchanged")
    DIFFERENT = "different", _("Matched, different")
    MISSING = "missing", _("Missing (recorded, not discovered)")
    UNKNOWN = "unknown", _("Unknown (discovered, not recorded)")


class AuditDecision(models.TextChoices):
    PENDING = "pending", _("Pending")
    ACCEPTED = "accepted", _("Accepted")
    REJECTED = "rejected", _("Rejected")
    CREATED = "created", _("CI created")
