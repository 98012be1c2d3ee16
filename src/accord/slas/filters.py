"""Filters of the agreement list."""

import django_filters
from django.utils.translation import gettext_lazy as _

from accord.core.policy import visible_choices
from accord.organizations.models import Customer

from .choices import AgreementKind, AgreementStatus
from .models import Agreement


class AgreementFilterSet(django_filters.FilterSet):
    kind = django_filters.ChoiceFilter(choices=AgreementKind.choices, label=_("Kind"))
    status = django_filters.ChoiceFilter(choices=AgreementStatus.choices, label=_("Status"))
    customer = django_filters.ModelChoiceFilter(
        queryset=visible_choices(Customer), label=_("Customer")
    )

    class Meta:
        model = Agreement
        fields = ["kind", "status", "customer"]
