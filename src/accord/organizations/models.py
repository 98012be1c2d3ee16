"""Customers and their contacts; a contact with a login is a customer user."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from accord.core.records import DetailPage, Record
from accord.users.models import Team


class Customer(DetailPage, Record):
    """An organisation the service provider serves."""

    name = models.CharField(_("name"), max_length=150, unique=True)
    code = models.SlugField(_("code"), max_length=30, unique=True)
    description = models.TextField(_("description"), blank=True)
    active = models.BooleanField(_("active"), default=True)
    support_teams = models.ManyToManyField(
        Team,
        verbose_name=_("support teams"),
        related_name="customers",
        blank=True,
        help_text=_("Teams that serve this customer; their members see its records."),
    )

    customer_field = "pk"

    @staticmethod
    def scope_allows(scope, obj) -> bool:
        return scope.all_customers or obj.pk in scope.customer_ids

    detail_url_name = "organizations:customer_detail"
    permissions = {"add": {"administrator"}, "change": {"administrator"}}

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


class Contact(Record):
    """A person at a customer. With a user account they log in as a customer user."""

    customer = models.ForeignKey(
        Customer, verbose_name=_("customer"), on_delete=models.CASCADE, related_name="contacts"
    )
    name = models.CharField(_("name"), max_length=150)
    email = models.EmailField(_("email"), blank=True)
    phone = models.CharField(_("phone"), max_length=40, blank=True)
    job_title = models.CharField(_("job title"), max_length=100, blank=True)
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        verbose_name=_("login"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="contact",
    )

    customer_field = "customer"
    permissions = {"add": {"administrator"}, "change": {"administrator"}}

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name
