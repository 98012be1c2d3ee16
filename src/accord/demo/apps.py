"""Demo data: a believable small service provider for trying Accord out."""

from django.apps import AppConfig


class DemoConfig(AppConfig):
    name = "accord.demo"
    label = "demo"
    verbose_name = "Demo data"
