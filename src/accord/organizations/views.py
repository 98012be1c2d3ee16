"""Customer pages for staff: the list and a customer's page with its contacts."""

from django.contrib.auth.mixins import LoginRequiredMixin
from django.http import Http404
from django.shortcuts import render
from django.views import View

from accord.core.policy import restrict
from accord.core.views import RecordListView, StaffOnlyMixin

from .filters import CustomerFilterSet
from .models import Customer
from .tables import CustomerTable


class CustomerListView(StaffOnlyMixin, RecordListView):
    model = Customer
    table_class = CustomerTable
    filterset_class = CustomerFilterSet
    list_name = "customers"
    title = "Customers"


class CustomerDetailView(LoginRequiredMixin, StaffOnlyMixin, View):
    def get(self, request, pk):
        customer = restrict(Customer.objects.all(), request.user).filter(pk=pk).first()
        if customer is None:
            raise Http404
        return render(
            request,
            "organizations/customer_detail.html",
            {
                "customer": customer,
                "contacts": customer.contacts.select_related("user"),
                "teams": customer.support_teams.all(),
                "services": customer.services.all(),
            },
        )
