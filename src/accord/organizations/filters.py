"""Filtersets of customers and contacts (UI and API)."""

import django_filters as filters
from django.utils.translation import gettext_lazy as _

from accord.core.policy import visible_choices

from .models import Contact, Customer


class CustomerFilterSet(filters.FilterSet):
    name = filters.CharFilter(label=_("Name contains"), lookup_expr="icontains")

    class Meta:
        model = Customer
        fields = ["name", "active"]


class ContactFilterSet(filters.FilterSet):
    name = filters.CharFilter(label=_("Name contains"), lookup_expr="icontains")
    customer = filters.ModelChoiceFilter(label=_("Customer"), queryset=visible_choices(Customer))

    class Meta:
        model = Contact
        fields = ["name", "customer"]
