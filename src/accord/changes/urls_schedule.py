"""URLs of the forward schedule, its iCalendar feed and the change reports (included
by urls.py under the changes namespace, mounted at /changes/)."""

from django.urls import path

from . import views_schedule

urlpatterns = [
    path("schedule/", views_schedule.ScheduleView.as_view(), name="schedule"),
    path("schedule.ics", views_schedule.ScheduleFeedView.as_view(), name="schedule_ics"),
    path("reports/", views_schedule.ReportsView.as_view(), name="reports"),
]
