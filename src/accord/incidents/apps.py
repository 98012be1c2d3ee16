"""Incidents and service requests (ISO/IEC 20000 8.1-8.2)."""

from django.apps import AppConfig


class IncidentsConfig(AppConfig):
    name = "accord.incidents"
    label = "incidents"
    verbose_name = "Incidents and requests"

    def ready(self):
        from accord.core import navigation, search

        from .models import Incident, ServiceRequest

        for model in (Incident, ServiceRequest):
            search.register(
                model,
                title=lambda t: f"{t.number} {t.short_description}",
                body=lambda t: t.description,
                fields={"short_description", "description", "customer"},
            )
        navigation.register("incidents", "Incidents", "incidents:queue", order=10)
        navigation.register("requests", "Requests", "requests:queue", order=20)
