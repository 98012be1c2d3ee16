"""The core app: the shared machinery every record type uses."""

from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "accord.core"
    label = "core"
    verbose_name = "Core"

    def ready(self):
        from django.db.models import Field, ForeignObject
        from django.db.models.signals import post_migrate

        from . import navigation
        from .numbering import ensure_sequences
        from .rows import AnyOf

        navigation.register_group("problems", "Problems")
        navigation.register_group("changes", "Changes")
        navigation.register_group("service_levels", "Service levels")
        Field.register_lookup(AnyOf)
        ForeignObject.register_lookup(AnyOf)  # related fields keep lookups of their own

        post_migrate.connect(ensure_sequences, dispatch_uid="accord-reference-sequences")
