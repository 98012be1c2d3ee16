"""Administrators' settings for change management: templates, the risk
questionnaire, thresholds, approval rules, boards, windows and release policies."""

from django.contrib import admin

from . import models


class RiskOptionInline(admin.TabularInline):
    model = models.RiskOption
    extra = 3


@admin.register(models.RiskQuestion)
class RiskQuestionAdmin(admin.ModelAdmin):
    list_display = ("text", "position", "active")
    inlines = [RiskOptionInline]


@admin.register(models.ChangeTemplate)
class ChangeTemplateAdmin(admin.ModelAdmin):
    list_display = ("name", "active")


@admin.register(models.ChangeSettings)
class ChangeSettingsAdmin(admin.ModelAdmin):
    list_display = ("__str__", "medium_from", "high_from", "caused_incident_days")


@admin.register(models.ApprovalRule)
class ApprovalRuleAdmin(admin.ModelAdmin):
    list_display = ("kind", "risk_class", "approver")


@admin.register(models.Board)
class BoardAdmin(admin.ModelAdmin):
    list_display = ("name", "emergency", "chair", "quorum")
    filter_horizontal = ("members",)


@admin.register(models.BlackoutWindow)
class BlackoutWindowAdmin(admin.ModelAdmin):
    list_display = ("name", "starts_at", "ends_at")


@admin.register(models.MaintenanceWindow)
class MaintenanceWindowAdmin(admin.ModelAdmin):
    list_display = ("service", "calendar")


@admin.register(models.ReleasePolicy)
class ReleasePolicyAdmin(admin.ModelAdmin):
    list_display = ("service",)
