"""Users, teams (support groups), roles and API tokens."""

from django.apps import AppConfig


class UsersConfig(AppConfig):
    name = "accord.users"
    label = "users"
    verbose_name = "Users and teams"
