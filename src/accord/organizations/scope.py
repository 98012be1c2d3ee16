"""How a user's scope is worked out from their role, teams and organisation."""

from accord.core.policy import Role, Scope

from .models import Contact, Customer


def resolve_scope(user) -> Scope:
    team_ids = (
        frozenset(user.teams.values_list("id", flat=True))
        if user.role != Role.CUSTOMER
        else frozenset()
    )
    if user.role in (Role.ADMINISTRATOR, Role.AUDITOR):
        return Scope(user.pk, user.role, True, frozenset(), team_ids)
    if user.role == Role.CUSTOMER:
        ids = frozenset(Contact.objects.filter(user=user).values_list("customer_id", flat=True))
        return Scope(user.pk, user.role, False, ids, team_ids)
    ids = (
        frozenset(
            Customer.support_teams.through.objects.filter(team_id__in=team_ids).values_list(
                "customer_id", flat=True
            )
        )
        if team_ids
        else frozenset()
    )
    return Scope(user.pk, user.role, False, ids, team_ids)
