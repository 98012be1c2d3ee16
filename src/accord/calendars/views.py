"""Calendar pages for staff: the list, a calendar's page, create and edit."""

from django.contrib.auth.mixins import LoginRequiredMixin
from django.http import Http404
from django.shortcuts import render
from django.views import View

from accord.core.policy import can, restrict
from accord.core.views import RecordEditView, RecordListView, StaffOnlyMixin

from .engine import WEEKDAYS
from .forms import DAY_LABELS, CalendarForm
from .models import Calendar
from .tables import CalendarTable


class CalendarListView(StaffOnlyMixin, RecordListView):
    model = Calendar
    table_class = CalendarTable
    list_name = "calendars"
    title = "Business calendars"
    create_url_name = "calendars:calendar_create"


class CalendarDetailView(LoginRequiredMixin, StaffOnlyMixin, View):
    def get(self, request, pk):
        calendar = restrict(Calendar.objects.all(), request.user).filter(pk=pk).first()
        if calendar is None:
            raise Http404
        hours = calendar.weekly_hours or {}
        return render(
            request,
            "calendars/calendar_detail.html",
            {
                "calendar": calendar,
                "week": [(DAY_LABELS[d], hours.get(d, [])) for d in WEEKDAYS],
                "holidays": calendar.holiday_rows(),
                "can_change": can(request.user, "change", Calendar),
                "extra_panels": [p(calendar, request.user) for p in DETAIL_PANELS],
            },
        )


# Other apps add sections to a calendar's page (e.g. the agreements that use it and
# the state of a clock recomputation): callables (calendar, user) -> dict or None.
DETAIL_PANELS: list = []


class CalendarEditView(StaffOnlyMixin, RecordEditView):
    model = Calendar
    form_class = CalendarForm
    list_url_name = "calendars:calendar_list"
