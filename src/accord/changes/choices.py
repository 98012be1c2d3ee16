"""Choice sets of change and release management."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class Kind(models.TextChoices):
    STANDARD = "standard", _("Standard (pre-approved)")
    NORMAL = "normal", _("Normal")
    EMERGENCY = "emergency", _("Emergency")


class Status(models.TextChoices):
    DRAFT = "draft", _("Draft")
    SUBMITTED = "submitted", _("Submitted")
    ASSESSED = "assessed", _("Assessed")
    AWAITING_APPROVAL = "awaiting_approval", _("Awaiting approval")
    APPROVED = "approved", _("Approved")
    REJECTED = "rejected", _("Rejected")
    SCHEDULED = "scheduled", _("Scheduled")
    IMPLEMENTING = "implementing", _("Implementing")
    IMPLEMENTED = "implemented", _("Implemented")
    REVIEW = "review", _("In review")
    CLOSED = "closed", _("Closed")
    CANCELLED = "cancelled", _("Cancelled")


OPEN_STATUSES = (
    Status.DRAFT,
    Status.SUBMITTED,
    Status.ASSESSED,
    Status.AWAITING_APPROVAL,
    Status.APPROVED,
    Status.SCHEDULED,
    Status.IMPLEMENTING,
    Status.IMPLEMENTED,
    Status.REVIEW,
)
# Statuses in which a change holds its slot in the schedule (conflicts are sought among these).
SCHEDULED_STATUSES = (
    Status.SUBMITTED,
    Status.ASSESSED,
    Status.AWAITING_APPROVAL,
    Status.APPROVED,
    Status.SCHEDULED,
    Status.IMPLEMENTING,
)


class Outcome(models.TextChoices):
    SUCCESSFUL = "successful", _("Successful")
    FAILED = "failed", _("Failed")
    BACKED_OUT = "backed_out", _("Backed out")


class RiskClass(models.TextChoices):
    LOW = "low", _("Low")
    MEDIUM = "medium", _("Medium")
    HIGH = "high", _("High")


class Approver(models.TextChoices):
    NONE = "none", _("No approval (pre-approved)")
    TEAM_MANAGER = "team_manager", _("Manager of the assigned team")
    CAB = "cab", _("Change advisory board")
    ECAB = "ecab", _("Emergency change advisory board")


class Quorum(models.TextChoices):
    UNANIMOUS = "unanimous", _("Unanimous")
    MAJORITY = "majority", _("Majority of members")
    CHAIR = "chair", _("The chair decides")


class Decision(models.TextChoices):
    PENDING = "pending", _("Pending")
    APPROVE = "approve", _("Approve")
    REJECT = "reject", _("Reject")


class ConflictKind(models.TextChoices):
    SAME_CI = "same_ci", _("Overlaps a change on the same CI")
    DEPENDENT_CI = "dependent_ci", _("Overlaps a change on a CI that depends on it")
    BLACKOUT = "blackout", _("In a blackout window")
    MAINTENANCE = "maintenance", _("Outside a service's maintenance window")


class ReleaseKind(models.TextChoices):
    MAJOR = "major", _("Major")
    MINOR = "minor", _("Minor")
    EMERGENCY = "emergency", _("Emergency")


class ReleaseStatus(models.TextChoices):
    PLANNED = "planned", _("Planned")
    BUILD = "build", _("Build")
    TEST = "test", _("Test")
    ACCEPTANCE = "acceptance", _("Acceptance")
    ACCEPTED = "accepted", _("Accepted")
    DEPLOYING = "deploying", _("Deploying")
    DEPLOYED = "deployed", _("Deployed")
    REVIEWED = "reviewed", _("Reviewed")
    CANCELLED = "cancelled", _("Cancelled")


class StageKind(models.TextChoices):
    BUILD = "build", _("Build")
    TEST = "test", _("Test")
    ACCEPTANCE = "acceptance", _("Acceptance")
    ROLLOUT = "rollout", _("Roll-out")


class DeploymentStatus(models.TextChoices):
    PLANNED = "planned", _("Planned")
    DONE = "done", _("Done")
    FAILED = "failed", _("Failed")
    ROLLED_BACK = "rolled_back", _("Rolled back")


# The rules when an administrator has set none for a kind and risk class.
DEFAULT_APPROVERS = {
    (Kind.STANDARD, RiskClass.LOW): Approver.NONE,
    (Kind.STANDARD, RiskClass.MEDIUM): Approver.NONE,
    (Kind.STANDARD, RiskClass.HIGH): Approver.TEAM_MANAGER,
    (Kind.NORMAL, RiskClass.LOW): Approver.TEAM_MANAGER,
    (Kind.NORMAL, RiskClass.MEDIUM): Approver.CAB,
    (Kind.NORMAL, RiskClass.HIGH): Approver.CAB,
    (Kind.EMERGENCY, RiskClass.LOW): Approver.ECAB,
    (Kind.EMERGENCY, RiskClass.MEDIUM): Approver.ECAB,
    (Kind.EMERGENCY, RiskClass.HIGH): Approver.ECAB,
}
