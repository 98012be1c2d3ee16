"""The problem filterset, shared by the problem list and the API."""

import django_filters as filters
from django import forms
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accord.catalogue.models import Service
from accord.core import search
from accord.core.filters import DateTimeFromFilter
from accord.core.policy import STAFF_ROLES, visible_choices
from accord.incidents.choices import Priority
from accord.incidents.models import Category
from accord.organizations.models import Customer
from accord.users.models import Team, User

from .choices import Status
from .models import Problem

YES_NO = [("", _("Any")), ("true", _("Yes")), ("false", _("No"))]


def overdue_condition():
    """Open and past its target date."""
    return Q(is_open=True, target_date__lt=timezone.localdate())


class ProblemFilterSet(filters.FilterSet):
    q = filters.CharFilter(label=_("Words"), method="filter_words")
    # distinct=False: one column of the problem itself, no join that could repeat rows.
    status = filters.MultipleChoiceFilter(label=_("Status"), choices=Status.choices, distinct=False)
    priority = filters.MultipleChoiceFilter(
        label=_("Priority"), choices=Priority.choices, distinct=False
    )
    is_open = filters.BooleanFilter(label=_("Open"), widget=forms.Select(choices=YES_NO))
    overdue = filters.BooleanFilter(
        label=_("Past its target date"),
        method="filter_overdue",
        widget=forms.Select(choices=YES_NO),
    )
    owner = filters.ModelChoiceFilter(
        label=_("Problem owner"), queryset=User.objects.filter(role__in=STAFF_ROLES)
    )
    assignment_team = filters.ModelChoiceFilter(label=_("Team"), queryset=Team.objects.all())
    service = filters.ModelChoiceFilter(
        label=_("Service"),
        field_name="services",
        queryset=visible_choices(Service),
        distinct=False,  # a problem names a service once: the join repeats no row
    )
    customer = filters.ModelChoiceFilter(
        label=_("Customer"),
        field_name="customers",
        queryset=visible_choices(Customer),
        distinct=False,
    )
    category = filters.ModelChoiceFilter(label=_("Category"), queryset=Category.objects.all())
    is_major = filters.BooleanFilter(label=_("Major problem"), widget=forms.Select(choices=YES_NO))
    created_after = DateTimeFromFilter(
        field_name="created", lookup_expr="gte", label=_("Logged from")
    )
    created_before = DateTimeFromFilter(
        field_name="created", lookup_expr="lt", label=_("Logged before")
    )

    class Meta:
        model = Problem
        fields = [
            "q",
            "status",
            "priority",
            "is_open",
            "overdue",
            "owner",
            "assignment_team",
            "service",
            "customer",
            "category",
            "is_major",
        ]

    def filter_words(self, queryset, name, value):
        ids = search.matching_object_ids(queryset.model, value)
        if ids is None:
            return queryset
        return queryset.filter(Q(pk__in=ids) | Q(number=value.strip().upper()))

    def filter_overdue(self, queryset, name, value):
        if value is None:
            return queryset
        return (
            queryset.filter(overdue_condition()) if value else queryset.exclude(overdue_condition())
        )
