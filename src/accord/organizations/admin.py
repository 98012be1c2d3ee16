"""Django admin registrations for customers and contacts."""

from django.contrib import admin

from .models import Contact, Customer


class ContactInline(admin.TabularInline):
    model = Contact
    extra = 0
    fields = ("name", "email", "phone", "job_title", "user")


@admin.register(Customer)
class CustomerAdmin(admin.ModelAdmin):
    list_display = ("name", "code", "active")
    filter_horizontal = ("support_teams",)
    inlines = [ContactInline]
