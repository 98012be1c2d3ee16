"""Users, teams (support groups), roles and API tokens."""

from django.apps import AppConfig


class UsersConfig(AppConfig):
    name = "accord.users"
    label = "users"
    verbose_name = "Users and teams"

    def ready(self):
        from . import schema  # noqa: F401  (registers the OpenAPI auth extension)
