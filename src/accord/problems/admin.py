"""Administrators' settings for problem management: the matrix and the targets."""

from django.contrib import admin

from .models import ProblemPriorityRule, ProblemSettings


@admin.register(ProblemPriorityRule)
class ProblemPriorityRuleAdmin(admin.ModelAdmin):
    list_display = ("impact", "urgency", "priority")
    list_editable = ("priority",)


@admin.register(ProblemSettings)
class ProblemSettingsAdmin(admin.ModelAdmin):
    list_display = ("__str__", "p1_days", "p2_days", "p3_days", "p4_days", "p5_days", "stale_days")
