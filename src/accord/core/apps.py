"""The core app: the shared machinery every record type uses."""

from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "accord.core"
    label = "core"
    verbose_name = "Core"

    def ready(self):
        from django.db.models import Field
        from django.db.models.signals import post_migrate

        from .numbering import ensure_sequences
        from .rows import AnyOf

        Field.register_lookup(AnyOf)

        post_migrate.connect(ensure_sequences, dispatch_uid="accord-reference-sequences")
