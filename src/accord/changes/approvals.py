"""Who approves a change, and what their decisions add up to."""

from django.utils.translation import gettext as _

from .choices import DEFAULT_APPROVERS, Approver, Decision, Quorum


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
