"""Catalogue pages: the list (staff) or the browsable catalogue (customer users), a
service's page, and create/edit for administrators and service owners."""

from django.contrib.auth.mixins import LoginRequiredMixin
from django.http import Http404
from django.shortcuts import render
from django.views import View

from accord.core.policy import can, restrict, scope_for
from accord.core.views import RecordEditView, RecordListView

from .filters import ServiceFilterSet
from .forms import ServiceForm
from .models import Service
from .tables import ServiceTable


class ServiceListView(RecordListView):
    model = Service
    table_class = ServiceTable
    filterset_class = ServiceFilterSet
    list_name = "services"
    title = "Service catalogue"
    create_url_name = "catalogue:service_create"

    def get(self, request, *args, **kwargs):
        if scope_for(request.user) and scope_for(request.user).is_customer:
            services = restrict(Service.objects.all(), request.user).select_related(
                "service_hours", "support_team"
            )
            return render(request, "catalogue/browse.html", {"services": services})
        return super().get(request, *args, **kwargs)


class ServiceDetailView(LoginRequiredMixin, View):
    def get(self, request, pk):
        service = (
            restrict(
                Service.objects.select_related("owner", "support_team", "service_hours"),
                request.user,
            )
            .filter(pk=pk)
            .first()
        )
        if service is None:
            raise Http404
        scope = scope_for(request.user)
        return render(
            request,
            "catalogue/service_detail.html",
            {
                "service": service,
                "customers": restrict(service.customers.all(), request.user),
                "depends_on": restrict(service.depends_on.all(), request.user),
                "used_by": restrict(service.used_by.all(), request.user),
                "can_change": can(request.user, "change", Service),
                "is_customer": scope.is_customer,
            },
        )


class ServiceEditView(RecordEditView):
    model = Service
    form_class = ServiceForm
    list_url_name = "catalogue:service_list"
