"""Configuration management (ISO/IEC 20000 9.1): the CMDB."""

from django.apps import AppConfig


class CmdbConfig(AppConfig):
    name = "accord.cmdb"
    label = "cmdb"
    verbose_name = "Configuration management"

    def ready(self):
        from accord.core import navigation, panels, search, warmup
        from accord.incidents.models import Ticket

        from . import graph, views
        from .models import ConfigurationItem

        graph.connect()
        warmup.register(graph.preload)
        search.register(
            ConfigurationItem,
            title=lambda ci: ci.name,
            body=lambda ci: " ".join(
                filter(None, [ci.serial, ci.asset_tag, ci.external_key, ci.description])
            ),
            fields={"name", "serial", "asset_tag", "external_key", "description"},
            customer_visible=lambda ci: False,
        )
        panels.register(Ticket, views.affected_panel)
        navigation.register("cmdb", "Configuration items", "cmdb:ci_list", order=60)
