"""URLs of the problem pages (namespace ``problems``, under /problems/)."""

from django.urls import path

from . import views_problems as views

urlpatterns = [
    path("", views.ProblemListView.as_view(), name="list"),
    path("new/", views.ProblemCreateView.as_view(), name="create"),
    path("<int:pk>/", views.ProblemDetailView.as_view(), name="detail"),
    path("<int:pk>/edit/", views.ProblemEditView.as_view(), name="edit"),
    path("<int:pk>/<slug:action>/", views.ProblemActionView.as_view(), name="action"),
    path(
        "incident/<int:pk>/link/",
        views.IncidentLinkView.as_view(),
        name="incident_link",
    ),
]
