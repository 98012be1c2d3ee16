"""URLs of business calendars."""

from django.urls import path

from . import views

app_name = "calendars"
urlpatterns = [
    path("", views.CalendarListView.as_view(), name="calendar_list"),
    path("new/", views.CalendarEditView.as_view(), name="calendar_create"),
    path("<int:pk>/", views.CalendarDetailView.as_view(), name="calendar_detail"),
    path("<int:pk>/edit/", views.CalendarEditView.as_view(), name="calendar_edit"),
]
