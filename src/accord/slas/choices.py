"""Choice sets of agreements and clocks."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class AgreementKind(models.TextChoices):
    SLA = "sla", _("Service level agreement")
    OLA = "ola", _("Operational level agreement")
    UC = "uc", _("Underpinning contract")


class AgreementStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    AGREED = "agreed", _("Agreed")
    EXPIRED = "expired", _("Expired")


class Metric(models.TextChoices):
    RESPONSE = "response", _("Response")
    RESOLUTION = "resolution", _("Resolution")


class ResponseEvent(models.TextChoices):
    ASSIGNMENT = "assignment", _("First assignment to a team or person")
    REPLY = "reply", _("First reply to the customer")


class ClockState(models.TextChoices):
    RUNNING = "running", _("Running")
    PAUSED = "paused", _("Paused")
    STOPPED = "stopped", _("Stopped")
    CANCELLED = "cancelled", _("Cancelled")


class EscalationAction(models.TextChoices):
    NOTIFY_MANAGER = "notify_manager", _("Notify the team manager")
    REASSIGN = "reassign", _("Reassign to a team")
    RAISE_PRIORITY = "raise_priority", _("Raise the priority by one")
