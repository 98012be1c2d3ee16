"""URLs of the CMDB's baselines pages (included by urls.py under the cmdb namespace)."""

from django.urls import path

from . import views_baselines as views

urlpatterns: list = [
    path("baselines/", views.BaselineListView.as_view(), name="baseline_list"),
    path("baselines/new/", views.BaselineCreateView.as_view(), name="baseline_create"),
    path("baselines/<int:pk>/", views.BaselineDetailView.as_view(), name="baseline_detail"),
    path(
        "baselines/<int:pk>/compare/",
        views.BaselineCompareView.as_view(),
        name="baseline_compare",
    ),
    path("accounting/", views.AccountingView.as_view(), name="accounting"),
    path(
        "accounting/unauthorised-changes/",
        views.UnauthorisedChangesView.as_view(),
        name="unauthorised_changes",
    ),
]
