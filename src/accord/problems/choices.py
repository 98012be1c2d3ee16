"""Choice sets of problem management and the known error database."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class Status(models.TextChoices):
    NEW = "new", _("New")
    INVESTIGATING = "investigating", _("Under investigation")
    ROOT_CAUSE_KNOWN = "root_cause_known", _("Root cause known")
    KNOWN_ERROR = "known_error", _("Known error")
    RESOLVED = "resolved", _("Resolved (fixed by a change)")
    CLOSED = "closed", _("Closed")
    CANCELLED = "cancelled", _("Cancelled")
    ACCEPTED_RISK = "accepted_risk", _("Accepted risk")


OPEN_STATUSES = (
    Status.NEW,
    Status.INVESTIGATING,
    Status.ROOT_CAUSE_KNOWN,
    Status.KNOWN_ERROR,
    Status.RESOLVED,
)
# Ended: no more work, nothing more to track or escalate.
ENDED_STATUSES = (Status.CLOSED, Status.CANCELLED, Status.ACCEPTED_RISK)


class Origin(models.TextChoices):
    INCIDENTS = "incidents", _("Raised from incidents")
    PROACTIVE = "proactive", _("Proactive")
    TREND = "trend", _("Trend analysis")


# The problem matrix: (impact, urgency) -> priority. Low impact and low urgency is
# "planning": investigated when there is room, never escalated for age.
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

# Days from logging to the target date, per priority (administrators change them).
DEFAULT_TARGET_DAYS = {1: 7, 2: 14, 3: 30, 4: 60, 5: 120}


class RcaMethod(models.TextChoices):
    FIVE_WHYS = "five_whys", _("Five whys")
    ISHIKAWA = "ishikawa", _("Cause and effect (Ishikawa)")
    KEPNER_TREGOE = "kepner_tregoe", _("Kepner-Tregoe problem analysis")
    FAULT_TREE = "fault_tree", _("Fault tree")
    CHANGE_ANALYSIS = "change_analysis", _("Change analysis")
    TIMELINE = "timeline", _("Timeline analysis")
    OTHER = "other", _("Other")


class FactorKind(models.TextChoices):
    PEOPLE = "people", _("People")
    PROCESS = "process", _("Process")
    TECHNOLOGY = "technology", _("Technology")
    SUPPLIER = "supplier", _("Supplier")
    ENVIRONMENT = "environment", _("Environment")
    DOCUMENTATION = "documentation", _("Documentation")


class KnownErrorStatus(models.TextChoices):
    OPEN = "open", _("Open (workaround in use)")
    FIXED = "fixed", _("Fixed")
    RETIRED = "retired", _("Retired")


class ClusterKind(models.TextChoices):
    SERVICE = "service", _("Same service")
    CI = "ci", _("Same configuration item")
    CATEGORY = "category", _("Same category")
    TEXT = "text", _("Similar descriptions")
