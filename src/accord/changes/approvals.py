"""Who approves a change, what their decisions add up to, and the advisory boards'
meetings: who plans them, their agenda of changes awaiting approval, and their
minutes. The board rules live here so every way in (pages, API, demo) keeps them."""

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Max
from django.utils.translation import gettext as _

from accord.core import history
from accord.core.forms import key_of
from accord.core.policy import Role, can, restrict, scope_for

from .choices import DEFAULT_APPROVERS, Approver, Decision, Quorum, Status


def approver_kind(change):
    """The approval rule's answer for the change's kind and risk class."""
    from .models import ApprovalRule

    rule = ApprovalRule.objects.filter(kind=change.kind, risk_class=change.risk_class).first()
    if rule is not None:
        return rule.approver
    return DEFAULT_APPROVERS.get((change.kind, change.risk_class), Approver.CAB)


def approvers_for(change):
    """(board, [users]) who must decide; ValidationError-worthy problems as text."""
    from .models import Board

    kind = change.approver_kind
    if kind == Approver.NONE:
        return None, []
    if kind == Approver.TEAM_MANAGER:
        team = change.assignment_team
        if team is None or team.manager_id is None:
            return None, None
        return None, [team.manager]
    board = Board.objects.filter(emergency=kind == Approver.ECAB).order_by("pk").first()
    if board is None:
        return None, None
    members = list(board.members.all())
    if board.chair not in members:
        members.append(board.chair)
    return board, members


def missing_approver_message(change):
    kind = change.approver_kind
    if kind == Approver.TEAM_MANAGER:
        return _("The assigned team has no manager to approve it.")
    if kind == Approver.ECAB:
        return _("No emergency change advisory board is set up.")
    return _("No change advisory board is set up.")


def verdict(change):
    """pending, approve or reject, by the decision rule of whoever approves."""
    if change.approver_kind == Approver.NONE:
        return Decision.APPROVE
    decisions = list(change.approvals.values_list("approver_id", "decision"))
    if not decisions:
        return Decision.PENDING
    board = change.board
    if board is None:  # a team manager
        return decisions[0][1]
    votes = dict(decisions)
    if board.quorum == Quorum.CHAIR:
        return votes.get(board.chair_id, Decision.PENDING)
    approve = sum(1 for d in votes.values() if d == Decision.APPROVE)
    reject = sum(1 for d in votes.values() if d == Decision.REJECT)
    if board.quorum == Quorum.UNANIMOUS:
        if reject:
            return Decision.REJECT
        return Decision.APPROVE if approve == len(votes) else Decision.PENDING
    # Majority of all members.
    if approve * 2 > len(votes):
        return Decision.APPROVE
    if reject * 2 >= len(votes):
        return Decision.REJECT
    return Decision.PENDING


# --- board meetings ----------------------------------------------------------------------------
def may_run_meetings(user, board):
    """Administrators, managers and the board's chair plan its meetings."""
    from .models import BoardMeeting

    scope = scope_for(user)
    if scope is None or scope.read_only or not can(user, "add", BoardMeeting):
        return False
    return scope.role in (Role.ADMINISTRATOR, Role.MANAGER) or board.chair_id == user.pk


def _require_meetings(user, board):
    if not may_run_meetings(user, board):
        raise PermissionDenied(_("You may not plan this board's meetings."))


def plan_meeting(user, board, meeting):
    """A new meeting of ``board`` (``meeting`` unsaved, its time and place set)."""
    _require_meetings(user, board)
    meeting.board = board
    meeting.full_clean(exclude=["board"])
    with transaction.atomic():
        meeting.save()
    return meeting


def find_change(user, reference, field="change"):
    """The change a user names by number (any case) or id, among those they may see;
    ValidationError naming ``field`` otherwise."""
    from .models import Change

    value = "".join(str(reference or "").split()).upper()[:30]
    qs = restrict(Change.objects.all(), user)
    if key_of(value) is not None:
        change = qs.filter(pk=key_of(value)).first()
    else:
        change = qs.filter(number=value).first()
    if change is None:
        raise ValidationError({field: _("You have no change %(n)s.") % {"n": value}})
    return change


def add_to_agenda(user, meeting, change):
    """Put a change awaiting approval on a meeting's agenda (last); journalled."""
    from .models import AgendaItem

    _require_meetings(user, meeting.board)
    if change.status != Status.AWAITING_APPROVAL:
        raise ValidationError(
            {"change": _("%(n)s is not awaiting approval.") % {"n": change.number}}
        )
    if meeting.agenda.filter(change=change).exists():
        raise ValidationError(
            {"change": _("%(n)s is already on the agenda.") % {"n": change.number}}
        )
    with transaction.atomic():
        last = meeting.agenda.aggregate(m=Max("position"))["m"]
        item = AgendaItem.objects.create(
            meeting=meeting, change=change, position=0 if last is None else last + 1
        )
        history.event(
            change,
            _("On the agenda of %(meeting)s.") % {"meeting": meeting},
            customer_visible=False,
        )
    return item


def remove_from_agenda(user, meeting, change):
    _require_meetings(user, meeting.board)
    with transaction.atomic():
        deleted, _rows = meeting.agenda.filter(change=change).delete()
        if not deleted:
            raise ValidationError(_("That change is not on the agenda."))
        history.event(
            change,
            _("Taken off the agenda of %(meeting)s.") % {"meeting": meeting},
            customer_visible=False,
        )


def record_minutes(user, meeting, minutes, *, expected_version=None):
    _require_meetings(user, meeting.board)
    with transaction.atomic():
        meeting.minutes = (minutes or "").strip()
        meeting.save(expected_version=expected_version)
    return meeting
