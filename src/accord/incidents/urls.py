"""URLs of the service desk: one set of pages per record type."""

from django.urls import include, path

from . import views
from .models import Incident, ServiceRequest


def ticket_patterns(model, namespace):
    options = {"model": model, "namespace": namespace}
    return (
        [
            path("", views.QueueView.as_view(**options), name="queue"),
            path("new/", views.TicketCreateView.as_view(**options), name="create"),
            path("<int:pk>/", views.TicketDetailView.as_view(**options), name="detail"),
            path("<int:pk>/edit/", views.TicketEditView.as_view(**options), name="edit"),
            path(
                "<int:pk>/<slug:action>/", views.TicketActionView.as_view(**options), name="action"
            ),
        ],
        namespace,
    )


urlpatterns = [
    path("incidents/", include(ticket_patterns(Incident, "incidents"))),
    path("requests/", include(ticket_patterns(ServiceRequest, "requests"))),
]
