"""The one filterset per record type, shared by the queue pages and the API."""

import django_filters as filters
from django import forms
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from accord.catalogue.models import Service
from accord.core import search
from accord.core.filters import DateTimeFromFilter
from accord.core.policy import scope_for, visible_choices
from accord.organizations.models import Customer
from accord.users.models import Team, User

from .choices import Priority, Status
from .models import OPEN, Category, Incident, ServiceRequest

QUEUES = [
    ("mine", _("My work")),
    ("team", _("My teams")),
    ("unassigned", _("Unassigned")),
    ("open", _("All open")),
    ("all", _("All")),
]


def apply_queue(queryset, queue, user):
    if queue == "mine":
        return queryset.filter(OPEN, assignee=user)
    if queue == "team":
        return queryset.filter(OPEN, assignment_team__in=Team.objects.filter(members=user))
    if queue == "unassigned":
        return queryset.filter(OPEN, assignee__isnull=True)
    if queue == "open":
        return queryset.filter(OPEN)
    return queryset


TICKET_FILTERS = [
    "q",
    "queue",
    "status",
    "priority",
    "customer",
    "service",
    "category",
    "assignment_team",
    "assignee",
]


class TicketFilterSet(filters.FilterSet):
    q = filters.CharFilter(label=_("Words"), method="filter_words")
    queue = filters.ChoiceFilter(label=_("Queue"), choices=QUEUES, method="filter_queue")
    # distinct=False: these filter one column of the record itself, so no join can
    # repeat a row, and DISTINCT over every column costs dearly on a large table.
    status = filters.MultipleChoiceFilter(label=_("Status"), choices=Status.choices, distinct=False)
    priority = filters.MultipleChoiceFilter(
        label=_("Priority"), choices=Priority.choices, distinct=False
    )
    customer = filters.ModelChoiceFilter(label=_("Customer"), queryset=visible_choices(Customer))
    service = filters.ModelChoiceFilter(label=_("Service"), queryset=visible_choices(Service))
    category = filters.ModelChoiceFilter(label=_("Category"), queryset=Category.objects.all())
    assignment_team = filters.ModelChoiceFilter(label=_("Team"), queryset=Team.objects.all())
    assignee = filters.ModelChoiceFilter(
        label=_("Assigned to"), queryset=User.objects.exclude(role="customer")
    )
    created_after = DateTimeFromFilter(
        field_name="created", lookup_expr="gte", label=_("Created from")
    )
    created_before = DateTimeFromFilter(
        field_name="created", lookup_expr="lt", label=_("Created before")
    )

    # What a customer user does not filter on: the provider's internal assignment.
    STAFF_ONLY = ("assignment_team", "assignee", "customer", "category")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        scope = scope_for(self.request.user) if self.request else None
        if scope is not None and scope.is_customer:
            for name in self.STAFF_ONLY:
                self.filters.pop(name, None)

    def filter_words(self, queryset, name, value):
        ids = search.matching_object_ids(queryset.model, value)
        if ids is None:
            return queryset
        number = value.strip().upper()
        return queryset.filter(Q(pk__in=ids) | Q(number=number))

    def filter_queue(self, queryset, name, value):
        return apply_queue(queryset, value, self.request.user)


class IncidentFilterSet(TicketFilterSet):
    is_major = filters.BooleanFilter(
        label=_("Major incident"),
        widget=forms.Select(choices=[("", _("Any")), ("true", _("Yes")), ("false", _("No"))]),
    )

    class Meta:
        model = Incident
        fields = [*TICKET_FILTERS, "is_major"]


class ServiceRequestFilterSet(TicketFilterSet):
    class Meta:
        model = ServiceRequest
        fields = TICKET_FILTERS
