"""Filtersets of customers and contacts (UI and API)."""

import django_filters as filters
from django.utils.translation import gettext_lazy as _

from accord.core.policy import restrict

from .models import Contact, Customer


class CustomerFilterSet(filters.FilterSet):
    name = filters.CharFilter(label=_("Name contains"), lookup_expr="icontains")

    class Meta:
        model = Customer
        fields = ["name", "active"]


def _customers(request):
    # Only the customers the user may see: a choice list must not name the others.
    return restrict(Customer.objects.all(), request.user) if request else Customer.objects.none()


class ContactFilterSet(filters.FilterSet):
    name = filters.CharFilter(label=_("Name contains"), lookup_expr="icontains")
    customer = filters.ModelChoiceFilter(label=_("Customer"), queryset=_customers)

    class Meta:
        model = Contact
        fields = ["name", "customer"]
