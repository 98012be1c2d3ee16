"""Customers (the organisations a provider serves) and their contacts."""

from django.apps import AppConfig


class OrganizationsConfig(AppConfig):
    name = "accord.organizations"
    label = "organizations"
    verbose_name = "Customers"

    def ready(self):
        from accord.core.policy import set_scope_resolver

        from .scope import resolve_scope

        set_scope_resolver(resolve_scope)
        from accord.core import navigation

        navigation.register(
            "customers", "Customers", "organizations:customer_list", order=50, staff_only=True
        )
