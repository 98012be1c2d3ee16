"""The service catalogue (ISO/IEC 20000 6.1.1)."""

from django.apps import AppConfig


class CatalogueConfig(AppConfig):
    name = "accord.catalogue"
    label = "catalogue"
    verbose_name = "Service catalogue"

    def ready(self):
        from accord.core import navigation, search

        from .models import Service

        search.register(
            Service,
            title=lambda s: s.name,
            body=lambda s: s.description,
            fields={"name", "description"},
            customer_visible=lambda s: False,
        )
        navigation.register(
            "catalogue",
            "Service catalogue",
            "catalogue:service_list",
            order=40,
            group="service_levels",
        )
