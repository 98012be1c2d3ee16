"""URLs of the release pages and the release policies (included by urls.py under the
changes namespace, mounted at /changes/)."""

from django.urls import path

from . import views_releases

urlpatterns = [
    path("releases/", views_releases.ReleaseListView.as_view(), name="release_list"),
    path("releases/new/", views_releases.ReleaseCreateView.as_view(), name="release_create"),
    path(
        "releases/policies/",
        views_releases.PolicyListView.as_view(),
        name="release_policy_list",
    ),
    path(
        "releases/policies/<int:service_pk>/",
        views_releases.PolicyView.as_view(),
        name="release_policy",
    ),
    path("releases/<int:pk>/", views_releases.ReleaseDetailView.as_view(), name="release_detail"),
    path("releases/<int:pk>/edit/", views_releases.ReleaseEditView.as_view(), name="release_edit"),
    path(
        "releases/<int:pk>/<slug:action>/",
        views_releases.ReleaseActionView.as_view(),
        name="release_action",
    ),
]
