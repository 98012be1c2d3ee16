"""The service filterset, shared by the catalogue page and the API."""

import django_filters as filters
from django.utils.translation import gettext_lazy as _

from accord.core.policy import visible_choices
from accord.organizations.models import Customer
from accord.users.models import Team

from .choices import ServiceStatus
from .models import Service


class ServiceFilterSet(filters.FilterSet):
    name = filters.CharFilter(label=_("Name contains"), lookup_expr="icontains")
    status = filters.MultipleChoiceFilter(label=_("Status"), choices=ServiceStatus.choices)
    support_team = filters.ModelChoiceFilter(label=_("Support team"), queryset=Team.objects.all())
    customer = filters.ModelChoiceFilter(
        label=_("Customer"), field_name="customers", queryset=visible_choices(Customer)
    )

    class Meta:
        model = Service
        fields = ["name", "status", "support_team", "customer"]
