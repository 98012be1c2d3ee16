"""Administrators' settings for the service desk: categories, matrix, desk settings."""

from django.contrib import admin

from .models import Category, DeskSettings, PriorityRule


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    list_display = ("path", "applies_to", "active")
    list_filter = ("applies_to", "active")
    exclude = ("path",)


@admin.register(PriorityRule)
class PriorityRuleAdmin(admin.ModelAdmin):
    list_display = ("impact", "urgency", "priority")
    list_editable = ("priority",)


@admin.register(DeskSettings)
class DeskSettingsAdmin(admin.ModelAdmin):
    list_display = ("__str__", "auto_close_days")
