"""The change and release filtersets, shared by the lists and the API."""

import django_filters as filters
from django import forms
from django.contrib.contenttypes.models import ContentType
from django.db.models import Exists, OuterRef, Q
from django.utils.translation import gettext_lazy as _

from accord.catalogue.models import Service
from accord.core import search
from accord.core.filters import DateTimeFromFilter
from accord.core.forms import key_of
from accord.core.policy import restrict, visible_choices
from accord.organizations.models import Customer
from accord.users.models import Team

from .choices import Decision, Kind, ReleaseKind, ReleaseStatus, RiskClass, Status
from .models import Change, ChangeApproval, Release

YES_NO = [("", _("Any")), ("true", _("Yes")), ("false", _("No"))]


def awaiting_approval_of(user):
    """The condition for changes awaiting this user's decision."""
    return Q(
        status=Status.AWAITING_APPROVAL,
        pk__in=ChangeApproval.objects.filter(approver_id=user.pk, decision=Decision.PENDING).values(
            "change_id"
        ),
    )


class ChangeFilterSet(filters.FilterSet):
    q = filters.CharFilter(label=_("Words"), method="filter_words")
    # distinct=False: one column of the change itself, no join that could repeat rows.
    status = filters.MultipleChoiceFilter(label=_("Status"), choices=Status.choices, distinct=False)
    kind = filters.MultipleChoiceFilter(label=_("Kind"), choices=Kind.choices, distinct=False)
    risk_class = filters.MultipleChoiceFilter(
        label=_("Risk class"), choices=RiskClass.choices, distinct=False
    )
    is_open = filters.BooleanFilter(label=_("Open"), widget=forms.Select(choices=YES_NO))
    awaiting_me = filters.BooleanFilter(
        label=_("Awaiting my approval"),
        method="filter_awaiting_me",
        widget=forms.Select(choices=YES_NO),
    )
    assignment_team = filters.ModelChoiceFilter(label=_("Team"), queryset=Team.objects.all())
    service = filters.ModelChoiceFilter(
        label=_("Service"),
        field_name="services",
        queryset=visible_choices(Service),
        distinct=False,  # a change names a service once: the join repeats no row
    )
    customer = filters.ModelChoiceFilter(
        label=_("Customer"),
        field_name="customers",
        queryset=visible_choices(Customer),
        distinct=False,
    )
    # A name or an id: a select of every CI would be far too long.
    ci = filters.CharFilter(
        label=_("Configuration item"), method="filter_ci", help_text=_("Its name or id.")
    )
    planned_from = DateTimeFromFilter(
        field_name="planned_start", lookup_expr="gte", label=_("Planned from")
    )
    planned_before = DateTimeFromFilter(
        field_name="planned_start", lookup_expr="lt", label=_("Planned before")
    )

    class Meta:
        model = Change
        fields = [
            "q",
            "status",
            "kind",
            "risk_class",
            "is_open",
            "awaiting_me",
            "assignment_team",
            "service",
            "customer",
            "ci",
        ]

    def filter_words(self, queryset, name, value):
        ids = search.matching_object_ids(queryset.model, value)
        if ids is None:
            return queryset
        return queryset.filter(Q(pk__in=ids) | Q(number=value.strip().upper()))

    def filter_awaiting_me(self, queryset, name, value):
        user = getattr(self.request, "user", None)
        if value is None or user is None:
            return queryset
        condition = awaiting_approval_of(user)
        return queryset.filter(condition) if value else queryset.exclude(condition)

    def filter_ci(self, queryset, name, value):
        from accord.cmdb.models import CILink, ConfigurationItem

        value = value.strip()
        if not value:
            return queryset
        cis = restrict(ConfigurationItem.objects.all(), getattr(self.request, "user", None))
        if key_of(value) is not None:
            cis = cis.filter(Q(pk=key_of(value)) | Q(name=value))
        else:
            cis = cis.filter(name=value[:200])
        links = CILink.objects.filter(
            content_type=ContentType.objects.get_for_model(Change),
            object_id=OuterRef("pk"),
            ci__in=cis.values("pk"),
        )
        return queryset.filter(Exists(links))


class ReleaseFilterSet(filters.FilterSet):
    """The release list's filters."""

    q = filters.CharFilter(label=_("Words"), method="filter_words")
    status = filters.MultipleChoiceFilter(
        label=_("Status"), choices=ReleaseStatus.choices, distinct=False
    )
    kind = filters.MultipleChoiceFilter(
        label=_("Kind"), choices=ReleaseKind.choices, distinct=False
    )
    service = filters.ModelChoiceFilter(
        label=_("Service"),
        field_name="services",
        queryset=visible_choices(Service),
        distinct=False,  # a release names a service once: the join repeats no row
    )
    customer = filters.ModelChoiceFilter(
        label=_("Customer"),
        field_name="customers",
        queryset=visible_choices(Customer),
        distinct=False,
    )

    class Meta:
        model = Release
        fields = ["q", "status", "kind", "service", "customer"]

    def filter_words(self, queryset, name, value):
        ids = search.matching_object_ids(queryset.model, value)
        if ids is None:
            return queryset
        return queryset.filter(Q(pk__in=ids) | Q(number=value.strip().upper()))
