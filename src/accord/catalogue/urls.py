"""URLs of the service catalogue."""

from django.urls import path

from . import views

app_name = "catalogue"
urlpatterns = [
    path("", views.ServiceListView.as_view(), name="service_list"),
    path("new/", views.ServiceEditView.as_view(), name="service_create"),
    path("<int:pk>/", views.ServiceDetailView.as_view(), name="service_detail"),
    path("<int:pk>/edit/", views.ServiceEditView.as_view(), name="service_edit"),
]
