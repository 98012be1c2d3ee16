"""Helpers of the Accord benchmark (bench/run.py).

Every module that touches Django runs in a subprocess of its own with the right
DJANGO_SETTINGS_MODULE and database URL: ``accord.settings`` for the product,
``benchkit.bare.settings`` for the bare comparison app. The orchestrator itself never
imports Django.
"""
