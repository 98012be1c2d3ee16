"""The core app: the shared machinery every record type uses."""

from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "accord.core"
    label = "core"
    verbose_name = "Core"

    def ready(self):
        from django.db.models.signals import post_migrate

        from .numbering import ensure_sequences

        post_migrate.connect(ensure_sequences, dispatch_uid="accord-reference-sequences")
