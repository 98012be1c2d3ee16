"""The CI filterset, shared by the CI list, its export, the API and baselines."""

import django_filters as filters
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from accord.catalogue.models import Service
from accord.core.policy import visible_choices
from accord.organizations.models import Customer
from accord.users.models import Team

from .choices import CIStatus, Criticality
from .models import CIType, ConfigurationItem, Relationship, RelationshipType


def _locations(request):
    from accord.core.policy import restrict

    if request is None:
        return ConfigurationItem.objects.none()
    return restrict(ConfigurationItem.objects.filter(ci_type__is_location=True), request.user)


class CIFilterSet(filters.FilterSet):
    q = filters.CharFilter(label=_("Name, serial or tag"), method="search")
    ci_type = filters.ModelMultipleChoiceFilter(label=_("Type"), queryset=CIType.objects.all())
    status = filters.MultipleChoiceFilter(label=_("Status"), choices=CIStatus.choices)
    criticality = filters.MultipleChoiceFilter(label=_("Criticality"), choices=Criticality.choices)
    owner = filters.ModelChoiceFilter(label=_("Owner"), queryset=Team.objects.all())
    no_owner = filters.BooleanFilter(label=_("No owner"), field_name="owner", lookup_expr="isnull")
    location = filters.ModelChoiceFilter(label=_("Location"), queryset=_locations)
    customer = filters.ModelChoiceFilter(
        label=_("Customer"), field_name="customers", queryset=visible_choices(Customer)
    )
    service = filters.ModelChoiceFilter(
        label=_("Service"), field_name="services", queryset=visible_choices(Service)
    )

    class Meta:
        model = ConfigurationItem
        fields = ["q", "ci_type", "status", "criticality", "owner", "location", "customer"]

    def search(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(
            Q(name__icontains=value)
            | Q(serial__iexact=value)
            | Q(asset_tag__iexact=value)
            | Q(external_key__iexact=value)
        )


class RelationshipFilterSet(filters.FilterSet):
    ci = filters.NumberFilter(label=_("Either end"), method="either_end", min_value=1)
    rel_type = filters.ModelChoiceFilter(
        label=_("Type"), queryset=RelationshipType.objects.all(), to_field_name="key"
    )

    class Meta:
        model = Relationship
        fields = ["ci", "rel_type"]

    def either_end(self, queryset, name, value):
        return queryset.filter(Q(source_id=value) | Q(target_id=value))
