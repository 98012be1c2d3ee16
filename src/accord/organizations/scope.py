"""How a user's scope is worked out from their role, teams and organisation: at most
one query, once per request."""

from accord.core.policy import Role, Scope

from .models import Contact, Customer

NONE = frozenset()


def resolve_scope(user) -> Scope:
    if user.role in (Role.ADMINISTRATOR, Role.AUDITOR):
        return Scope(user.pk, user.role, True, NONE)
    if user.role == Role.CUSTOMER:
        ids = Contact.objects.filter(user=user).values_list("customer_id", flat=True)
    else:
        ids = Customer.support_teams.through.objects.filter(team__members=user).values_list(
            "customer_id", flat=True
        )
    return Scope(user.pk, user.role, False, frozenset(ids))
