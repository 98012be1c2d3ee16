"""Test support: the starting CI and relationship types come from a data migration,
which the flush after a transactional test empties; tests that need them again call
``ensure_starting_types()``."""

import importlib


def ensure_starting_types():
    from django.apps import apps

    from accord.core.context import acting_as

    from .models import CIType

    if CIType.objects.exists():
        return
    migration = importlib.import_module("accord.cmdb.migrations.0002_starting_types")
    with acting_as(None, "test"):
        migration.create(apps, None)
