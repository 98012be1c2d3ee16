"""URLs of service level management."""

from django.urls import path

from . import views

app_name = "slas"
urlpatterns = [
    path("", views.AgreementListView.as_view(), name="agreement_list"),
    path("new/", views.AgreementEditView.as_view(), name="agreement_create"),
    path("compliance/", views.ComplianceView.as_view(), name="compliance"),
    path("<int:pk>/", views.AgreementDetailView.as_view(), name="agreement_detail"),
    path("<int:pk>/edit/", views.AgreementEditView.as_view(), name="agreement_edit"),
]
