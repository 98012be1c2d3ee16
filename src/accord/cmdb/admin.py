"""Administrators' settings for the CMDB: CI types with their attributes, and
relationship types with the pairs of CI types they may join."""

from django.contrib import admin

from .models import AllowedPair, AttributeDefinition, CIType, RelationshipType


class AttributeDefinitionInline(admin.TabularInline):
    model = AttributeDefinition
    fk_name = "ci_type"
    extra = 1
    fields = ("order", "key", "label", "kind", "required", "choices", "reference_type")


@admin.register(CIType)
class CITypeAdmin(admin.ModelAdmin):
    list_display = ("name", "key", "is_location")
    prepopulated_fields = {"key": ("name",)}
    inlines = [AttributeDefinitionInline]


class AllowedPairInline(admin.TabularInline):
    model = AllowedPair
    extra = 1


@admin.register(RelationshipType)
class RelationshipTypeAdmin(admin.ModelAdmin):
    list_display = ("name", "reverse_name", "key", "impact", "acyclic")
    prepopulated_fields = {"key": ("name",)}
    inlines = [AllowedPairInline]
