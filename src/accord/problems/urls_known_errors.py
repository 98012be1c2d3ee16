"""URLs of the known error database (mounted under /problems/, namespace problems)."""

from django.urls import path

from . import views_known_errors as views

urlpatterns = [
    path("known-errors/", views.KnownErrorListView.as_view(), name="known_error_list"),
    path("known-errors/new/", views.KnownErrorEditView.as_view(), name="known_error_create"),
    path(
        "known-errors/suggestions/",
        views.SuggestionsView.as_view(),
        name="known_error_suggestions",
    ),
    path("known-errors/<int:pk>/", views.KnownErrorDetailView.as_view(), name="known_error_detail"),
    path(
        "known-errors/<int:pk>/edit/", views.KnownErrorEditView.as_view(), name="known_error_edit"
    ),
    path(
        "known-errors/<int:pk>/apply/",
        views.ApplyWorkaroundView.as_view(),
        name="known_error_apply",
    ),
]
