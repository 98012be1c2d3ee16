"""Services, the hours they are offered in, and who uses and supports them."""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Exists, OuterRef, Q
from django.utils.translation import gettext_lazy as _

from accord.core.policy import OWNER_EDITED, Role
from accord.core.records import DetailPage, Record
from accord.organizations.models import Customer
from accord.users.models import Team

from .choices import ServiceStatus


class ServiceHours(Record):
    """A named definition of when a service is offered, e.g. "Business hours (CET)".

    For now a description; the business calendar engine will give it working times.
    """

    name = models.CharField(_("name"), max_length=100, unique=True)
    description = models.CharField(_("description"), max_length=300, blank=True)

    permissions = {"add": {Role.ADMINISTRATOR}, "change": {Role.ADMINISTRATOR}}

    class Meta:
        ordering = ["name"]
        verbose_name_plural = _("service hours")

    def __str__(self):
        return self.name


SERVICE_FIELDS = [
    "name",
    "description",
    "owner",
    "status",
    "customers",
    "service_hours",
    "support_team",
    "depends_on",
]


_served_cache: dict = {}


def _forget_served(sender, **kwargs):
    _served_cache.clear()


class Service(DetailPage, Record):
    """An IT service in the catalogue."""

    name = models.CharField(_("name"), max_length=150, unique=True)
    description = models.TextField(_("description"), blank=True, max_length=5000)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("owner"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="owned_services",
    )
    status = models.CharField(
        _("status"), max_length=10, choices=ServiceStatus.choices, default=ServiceStatus.PIPELINE
    )
    customers = models.ManyToManyField(
        Customer, verbose_name=_("customers"), related_name="services", blank=True
    )
    service_hours = models.ForeignKey(
        ServiceHours,
        verbose_name=_("service hours"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="services",
    )
    support_team = models.ForeignKey(
        Team,
        verbose_name=_("support team"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="supported_services",
    )
    depends_on = models.ManyToManyField(
        "self", verbose_name=_("depends on"), symmetrical=False, related_name="used_by", blank=True
    )

    permissions = OWNER_EDITED

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name

    detail_url_name = "catalogue:service_detail"

    def served_customer_ids(self) -> frozenset:
        """The ids of the customers that use this service (none: open to all).

        Read on every incident and request logged, so kept per process, keyed by the
        row's version and update time: every edit of the set through Accord bumps
        both, so a process that loaded the service row fresh never sees an old set."""
        key = (self.pk, self.version, self.updated)
        found = _served_cache.get(key)
        if found is None:
            through = type(self).customers.through
            found = frozenset(
                through.objects.filter(service_id=self.pk).values_list("customer_id", flat=True)
            )
            if len(_served_cache) > 5000:
                _served_cache.clear()
            _served_cache[key] = found
        return found

    def check_dependencies(self, services):
        """The rule on ``depends_on`` (checked by the form and the API before the
        many-to-many set is written): a service cannot depend on itself."""
        if self.pk is not None and any(s.pk == self.pk for s in services):
            raise ValidationError(_("A service cannot depend on itself."))

    @staticmethod
    def scope_allows(scope, obj) -> bool:
        if not scope.is_customer:
            return True
        return obj.status == ServiceStatus.LIVE and bool(
            obj.served_customer_ids() & scope.customer_ids
        )

    @classmethod
    def scope_condition(cls, scope):
        """Staff see the whole catalogue; a customer user sees the live services their
        organisation uses."""
        if not scope.is_customer:
            return Q()
        used = Service.customers.through.objects.filter(
            service_id=OuterRef("pk"), customer_id__in=scope.customer_ids
        )
        return Q(Exists(used), status=ServiceStatus.LIVE)


models.signals.m2m_changed.connect(_forget_served, sender=Service.customers.through)
models.signals.post_delete.connect(_forget_served, sender=Customer)
