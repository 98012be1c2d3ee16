"""Visibility and permission: the one place that decides what a user may see and do.

A user's Scope says their role and the customers whose records they may see: staff
see the customers their teams serve, administrators and auditors see every customer,
a customer user sees their own organisation only. ``restrict()`` narrows any queryset
of a Record type to the scope; ``can()`` answers whether the role may perform an
action on a record type (and, given an object, whether the object is in scope).
Every list, detail, edit, API endpoint, search, export and count goes through here.
"""

from dataclasses import dataclass

from django.db import models
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    ADMINISTRATOR = "administrator", _("Administrator")
    AGENT = "agent", _("Service desk agent")
    MANAGER = "manager", _("Team manager")
    OWNER = "owner", _("Service owner")
    AUDITOR = "auditor", _("Auditor (read-only)")
    CUSTOMER = "customer", _("Customer user")


STAFF_ROLES = frozenset({Role.ADMINISTRATOR, Role.AGENT, Role.MANAGER, Role.OWNER, Role.AUDITOR})
WRITING_STAFF = frozenset({Role.ADMINISTRATOR, Role.AGENT, Role.MANAGER, Role.OWNER})
ALL_ROLES = frozenset(Role)

# Catalogue-like records that administrators and service owners maintain.
OWNER_EDITED = {
    "add": frozenset({Role.ADMINISTRATOR, Role.OWNER}),
    "change": frozenset({Role.ADMINISTRATOR, Role.OWNER}),
}

# Who may do what to a record type unless the model says otherwise ("permissions").
DEFAULT_PERMISSIONS = {
    "view": ALL_ROLES,
    "add": WRITING_STAFF,
    "change": WRITING_STAFF,
    "delete": frozenset({Role.ADMINISTRATOR}),
}


@dataclass(frozen=True)
class Scope:
    user_id: int
    role: str
    all_customers: bool
    customer_ids: frozenset

    @property
    def is_customer(self) -> bool:
        return self.role == Role.CUSTOMER

    @property
    def is_staff(self) -> bool:
        return self.role in STAFF_ROLES

    @property
    def read_only(self) -> bool:
        return self.role == Role.AUDITOR


_resolver = None


def set_scope_resolver(func):
    """Called once from the organizations app: func(user) -> Scope."""
    global _resolver
    _resolver = func


def scope_for(user) -> Scope | None:
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return None
    cached = user.__dict__.get("_accord_scope")
    if cached is None:
        cached = _resolver(user)
        user.__dict__["_accord_scope"] = cached
    return cached


def forget_scope(user):
    user.__dict__.pop("_accord_scope", None)


def restrict(queryset, user):
    """The rows of ``queryset`` the user may see."""
    scope = scope_for(user)
    if scope is None:
        return queryset.none()
    model = queryset.model
    condition = model.scope_condition(scope) if hasattr(model, "scope_condition") else None
    if condition is not None:
        return queryset.filter(condition)
    if scope.all_customers:
        return queryset
    path = getattr(model, "customer_field", None)
    if path is None:
        # Records that belong to no customer: shared reference data for staff.
        return queryset if scope.is_staff else queryset.none()
    return queryset.filter(**{f"{path}__in": scope.customer_ids})


def narrows(model, user) -> bool:
    """Whether ``restrict`` would leave out any row of ``model`` for this user (when
    it would not, asking the database which rows they may see can be skipped)."""
    scope = scope_for(user)
    if scope is None:
        return True
    if hasattr(model, "scope_condition"):
        condition = model.scope_condition(scope)
        if condition is not None:
            return bool(condition)
    if scope.all_customers:
        return False
    if getattr(model, "customer_field", None) is None:
        return not scope.is_staff
    return True


def visible_by_pk(model, user, pk):
    """The row ``pk`` of ``model`` if the user may see it, else None.

    A model that can tell from the row itself whether a scope covers it declares
    ``scope_allows(scope, obj)`` (which must agree with ``restrict()``; a test holds
    them together): then this costs one prebuilt SELECT, which matters for the
    references every API write names. Others go through ``restrict()``."""
    scope = scope_for(user)
    if scope is None:
        return None
    allows = getattr(model, "scope_allows", None)
    if allows is None:
        return restrict(model._default_manager.all(), user).filter(pk=pk).first()
    from .rows import fetch_by_pk

    obj = fetch_by_pk(model, pk)
    return obj if obj is not None and allows(scope, obj) else None


def can(user, action: str, model_or_obj) -> bool:
    """May the user's role do ``action`` (view/add/change/delete or a model's own verb)
    to this record type? Objects themselves are always loaded through ``restrict()``,
    so an object out of scope is never reached to be asked about."""
    scope = scope_for(user)
    if scope is None:
        return False
    model = model_or_obj if isinstance(model_or_obj, type) else type(model_or_obj)
    allowed = getattr(model, "permissions", {}).get(action, DEFAULT_PERMISSIONS.get(action))
    return bool(allowed) and scope.role in allowed


def customer_ids_of(record) -> set:
    """The customers a record belongs to (none: the provider's own, seen by all staff)."""
    customer_id = getattr(record, "customer_id", None)
    if customer_id is not None:
        return {customer_id}
    related = getattr(record, "customers", None)
    if related is not None and hasattr(related, "values_list"):
        return set(related.values_list("pk", flat=True))
    return set()


def seen_by_every_reader(host, named) -> bool:
    """Whether everyone who may see ``host`` may also see ``named``: only then may the
    host's journal (read by all of them) name it. Staff see what names no customer or
    one they serve, so ``named`` must name no customer, or every customer of ``host``
    (journal lines that name other records are internal: customer users never read
    them)."""
    theirs = customer_ids_of(named)
    if not theirs:
        return True
    own = customer_ids_of(host)
    return bool(own) and own <= theirs


def name_in_journal(host, named, text=None):
    """``named`` as ``host``'s journal may name it: ``text`` (its own name by default)
    when every reader of the host may see it, else "one of the <records>" (each
    reader finds those they may see on the host's page)."""
    if seen_by_every_reader(host, named):
        return str(named) if text is None else text
    return str(_("one of the %(records)s") % {"records": named._meta.verbose_name_plural})


def customer_allowed(user, customer_id) -> bool:
    """May the user act for this customer (e.g. log a record against it)?"""
    scope = scope_for(user)
    if scope is None or customer_id is None:
        return False
    return scope.all_customers or customer_id in scope.customer_ids


def visible_choices(model):
    """For a filter's ``queryset=``: the rows of ``model`` the requesting user may see,
    so a choice list never names another customer's records."""

    def choices(request):
        if request is None:
            return model._default_manager.none()
        return restrict(model._default_manager.all(), request.user)

    return choices
