"""The configuration management database (ISO/IEC 20000 9.1): configuration items of
types an administrator defines, typed and directed relationships between them, the
records that name them, baselines, imports and audits.

Who sees a CI: administrators and auditors see all; other staff see the CIs of the
customers their teams serve and the shared ones (no customer: the provider's own
infrastructure); a customer user sees the CIs of their organisation only.
"""

import datetime
import ipaddress
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Exists, F, OuterRef, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accord.catalogue.models import Service
from accord.core.policy import Role
from accord.core.records import DetailPage, Record
from accord.organizations.models import Customer
from accord.users.models import Team

from .choices import (
    AttributeKind,
    AuditDecision,
    AuditOutcome,
    CIStatus,
    Criticality,
    ImpactFlow,
    RunStatus,
)

ADMINISTRATORS = {
    "add": frozenset({Role.ADMINISTRATOR}),
    "change": frozenset({Role.ADMINISTRATOR}),
}
CONFIGURATION_STAFF = frozenset({Role.ADMINISTRATOR, Role.OWNER, Role.MANAGER, Role.AGENT})


class CIType(DetailPage, Record):
    """A kind of configuration item with attributes of its own."""

    key = models.SlugField(_("key"), max_length=50, unique=True)
    name = models.CharField(_("name"), max_length=100, unique=True)
    description = models.CharField(_("description"), max_length=300, blank=True)
    is_location = models.BooleanField(
        _("is a location"), default=False, help_text=_("CIs of this type can be a CI's location.")
    )

    permissions = ADMINISTRATORS
    detail_url_name = "cmdb:type_detail"

    class Meta:
        ordering = ["name"]
        verbose_name = _("CI type")

    def __str__(self):
        return self.name

    def definitions(self):
        """The attribute definitions in their order (cached on the instance)."""
        cached = self.__dict__.get("_definitions")
        if cached is None:
            cached = list(self.attribute_definitions.all())
            self.__dict__["_definitions"] = cached
        return cached


class AttributeDefinition(models.Model):
    """One typed attribute of a CI type."""

    ci_type = models.ForeignKey(
        CIType, on_delete=models.CASCADE, related_name="attribute_definitions"
    )
    key = models.SlugField(_("key"), max_length=50)
    label = models.CharField(_("label"), max_length=100)
    kind = models.CharField(_("kind"), max_length=10, choices=AttributeKind.choices)
    required = models.BooleanField(_("required"), default=False)
    choices = models.JSONField(
        _("choices"), default=list, blank=True, help_text=_("For a choice: the allowed values.")
    )
    reference_type = models.ForeignKey(
        CIType,
        verbose_name=_("referenced type"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text=_("For a reference: the type of CI it must name (any type if empty)."),
    )
    order = models.PositiveSmallIntegerField(_("order"), default=0)

    class Meta:
        ordering = ["order", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["ci_type", "key"], name="attribute_key_per_type")
        ]

    def __str__(self):
        return self.label

    def clean(self):
        if self.kind == AttributeKind.CHOICE and not self.choices:
            raise ValidationError({"choices": _("A choice attribute needs its choices.")})
        if self.kind != AttributeKind.REFERENCE and self.reference_type_id:
            raise ValidationError({"reference_type": _("Only a reference names a type.")})

    def convert(self, value):
        """The stored (JSON) form of ``value`` for this attribute, or ValidationError
        with a message that names the attribute. Empty is None."""
        if value is None or (isinstance(value, str) and not value.strip()):
            if self.required:
                raise ValidationError(_("%(label)s is required.") % {"label": self.label})
            return None
        text = value.strip() if isinstance(value, str) else value
        kind = self.kind
        if kind == AttributeKind.TEXT:
            if not isinstance(text, str | int | float) or isinstance(text, bool):
                raise ValidationError(_("%(label)s must be text.") % {"label": self.label})
            text = str(text)
            if len(text) > 1000:
                raise ValidationError(
                    _("%(label)s is longer than 1,000 characters.") % {"label": self.label}
                )
            return text
        if kind == AttributeKind.NUMBER:
            if isinstance(text, bool):
                raise ValidationError(_("%(label)s must be a number.") % {"label": self.label})
            try:
                number = Decimal(str(text))
            except InvalidOperation:
                raise ValidationError(
                    _("%(label)s must be a number, not “%(value)s”.")
                    % {"label": self.label, "value": str(text)[:50]}
                ) from None
            if not number.is_finite():
                raise ValidationError(_("%(label)s must be a number.") % {"label": self.label})
            return int(number) if number == number.to_integral_value() else float(number)
        if kind == AttributeKind.DATE:
            if isinstance(text, datetime.date):
                return text.isoformat()
            try:
                return datetime.date.fromisoformat(str(text)).isoformat()
            except ValueError:
                raise ValidationError(
                    _("%(label)s must be a date (YYYY-MM-DD), not “%(value)s”.")
                    % {"label": self.label, "value": str(text)[:50]}
                ) from None
        if kind == AttributeKind.CHOICE:
            if str(text) not in self.choices:
                raise ValidationError(
                    _("%(label)s must be one of %(choices)s, not “%(value)s”.")
                    % {
                        "label": self.label,
                        "choices": ", ".join(self.choices),
                        "value": str(text)[:50],
                    }
                )
            return str(text)
        if kind == AttributeKind.IP:
            try:
                return str(ipaddress.ip_address(str(text)))
            except ValueError:
                raise ValidationError(
                    _("%(label)s must be an IP address, not “%(value)s”.")
                    % {"label": self.label, "value": str(text)[:50]}
                ) from None
        if kind == AttributeKind.REFERENCE:
            return self._reference(text)
        raise ValidationError(_("%(label)s has an unknown kind.") % {"label": self.label})

    def _reference(self, value):
        """A reference is stored as the CI's id; given as an id or as a name."""
        qs = ConfigurationItem.objects.all()
        if self.reference_type_id:
            qs = qs.filter(ci_type_id=self.reference_type_id)
        if isinstance(value, int) or (isinstance(value, str) and value.isdigit()):
            found = qs.filter(pk=int(value)).values_list("pk", flat=True).first()
        else:
            names = list(qs.filter(name=str(value)).values_list("pk", flat=True)[:2])
            if len(names) > 1:
                raise ValidationError(
                    _("%(label)s: more than one CI is called “%(value)s”; give its id.")
                    % {"label": self.label, "value": str(value)[:100]}
                )
            found = names[0] if names else None
        if found is None:
            raise ValidationError(
                _("%(label)s names no CI “%(value)s”.")
                % {"label": self.label, "value": str(value)[:100]}
            )
        return found


class RelationshipType(DetailPage, Record):
    """A directed kind of link with a name each way (depends on / used by)."""

    key = models.SlugField(_("key"), max_length=50, unique=True)
    name = models.CharField(_("name"), max_length=60, unique=True)
    reverse_name = models.CharField(_("reverse name"), max_length=60)
    impact = models.CharField(
        _("impact"), max_length=10, choices=ImpactFlow.choices, default=ImpactFlow.TO_SOURCE
    )
    acyclic = models.BooleanField(
        _("no cycles"),
        default=False,
        help_text=_("Refuse a link of this type that would close a loop."),
    )

    permissions = ADMINISTRATORS
    detail_url_name = "cmdb:type_list"

    class Meta:
        ordering = ["name"]
        verbose_name = _("relationship type")

    def __str__(self):
        return self.name

    def get_absolute_url(self):
        from django.urls import reverse

        return reverse("cmdb:type_list") + "#relationships"


class AllowedPair(models.Model):
    """A pair of CI types a relationship type may join; a type with none joins any."""

    rel_type = models.ForeignKey(
        RelationshipType, on_delete=models.CASCADE, related_name="allowed_pairs"
    )
    source_type = models.ForeignKey(CIType, on_delete=models.CASCADE, related_name="+")
    target_type = models.ForeignKey(CIType, on_delete=models.CASCADE, related_name="+")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["rel_type", "source_type", "target_type"], name="allowed_pair_once"
            )
        ]

    def __str__(self):
        return f"{self.source_type} → {self.target_type}"


class ConfigurationItem(DetailPage, Record):
    """A configuration item: a server, an application, a contract…"""

    name = models.CharField(_("name"), max_length=200)
    ci_type = models.ForeignKey(
        CIType, verbose_name=_("type"), on_delete=models.PROTECT, related_name="items"
    )
    status = models.CharField(
        _("status"), max_length=12, choices=CIStatus.choices, default=CIStatus.PLANNED
    )
    criticality = models.PositiveSmallIntegerField(
        _("criticality"), choices=Criticality.choices, default=Criticality.MEDIUM
    )
    owner = models.ForeignKey(
        Team,
        verbose_name=_("owner"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="configuration_items",
    )
    location = models.ForeignKey(
        "self",
        verbose_name=_("location"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="located_here",
    )
    customers = models.ManyToManyField(
        Customer, verbose_name=_("customers"), related_name="configuration_items", blank=True
    )
    services = models.ManyToManyField(
        Service,
        verbose_name=_("services supported"),
        related_name="configuration_items",
        blank=True,
    )
    description = models.TextField(_("description"), blank=True, max_length=5000)
    serial = models.CharField(_("serial number"), max_length=100, blank=True, db_index=True)
    asset_tag = models.CharField(_("asset tag"), max_length=100, blank=True, db_index=True)
    external_key = models.CharField(
        _("external key"),
        max_length=200,
        blank=True,
        help_text=_("The key a discovery tool knows this CI by."),
    )
    installed_on = models.DateField(_("installed"), null=True, blank=True)
    warranty_end = models.DateField(_("warranty end"), null=True, blank=True)
    retire_by = models.DateField(_("retire by"), null=True, blank=True)
    attributes = models.JSONField(_("attributes"), default=dict, blank=True)

    permissions = {
        "add": CONFIGURATION_STAFF,
        "change": CONFIGURATION_STAFF,
        "import": frozenset({Role.ADMINISTRATOR, Role.OWNER, Role.MANAGER}),
        "audit": frozenset({Role.ADMINISTRATOR, Role.OWNER, Role.MANAGER}),
    }
    detail_url_name = "cmdb:ci_detail"

    class Meta:
        ordering = ["name", "pk"]
        verbose_name = _("configuration item")
        constraints = [
            models.UniqueConstraint(fields=["ci_type", "name"], name="ci_name_per_type"),
            models.UniqueConstraint(
                fields=["external_key"], condition=~Q(external_key=""), name="ci_external_key"
            ),
        ]
        indexes = [
            models.Index(fields=["status", "ci_type"], name="ci_status_type"),
            models.Index(fields=["name", "id"], name="ci_name_id"),
            models.Index(fields=["updated", "id"], name="ci_updated_id"),
        ]

    def __str__(self):
        return self.name

    # --- visibility ------------------------------------------------------------
    @classmethod
    def scope_condition(cls, scope):
        if scope.all_customers:
            return Q()
        through = cls.customers.through
        mine = Exists(
            through.objects.filter(
                configurationitem_id=OuterRef("pk"), customer_id__in=scope.customer_ids
            )
        )
        if scope.is_customer:
            return Q(mine)
        shared = ~Exists(through.objects.filter(configurationitem_id=OuterRef("pk")))
        return Q(mine) | Q(shared)

    def customer_ids(self) -> frozenset:
        through = type(self).customers.through
        return frozenset(
            through.objects.filter(configurationitem_id=self.pk).values_list(
                "customer_id", flat=True
            )
        )

    @staticmethod
    def scope_allows(scope, obj) -> bool:
        if scope.all_customers:
            return True
        ids = obj.customer_ids()
        if scope.is_customer:
            return bool(ids & scope.customer_ids)
        return not ids or bool(ids & scope.customer_ids)

    # --- rules -------------------------------------------------------------------
    def clean_attributes(self, given=None):
        """Check ``given`` (default: the current attributes) against the type's
        definitions; returns the stored form. Errors name the attribute; unknown
        attributes are refused by name."""
        given = self.attributes if given is None else given
        if not isinstance(given, dict):
            raise ValidationError({"attributes": _("Attributes must be a set of named values.")})
        definitions = {d.key: d for d in self.ci_type.definitions()}
        errors = []
        unknown = sorted(set(given) - set(definitions))
        if unknown:
            errors.append(
                _("%(type)s has no attribute %(names)s.")
                % {"type": self.ci_type, "names": ", ".join(f"“{u}”" for u in unknown)}
            )
        out = {}
        for key, definition in definitions.items():
            try:
                value = definition.convert(given.get(key))
            except ValidationError as exc:
                errors += exc.messages
                continue
            if value is not None:
                out[key] = value
        if errors:
            raise ValidationError({"attributes": errors})
        return out

    def clean(self):
        errors = {}
        if self.location_id is not None:
            if self.location_id == self.pk:
                errors["location"] = _("A CI cannot be its own location.")
            elif not ConfigurationItem.objects.filter(
                pk=self.location_id, ci_type__is_location=True
            ).exists():
                errors["location"] = _("The location must be a CI of a location type.")
        for start, end, field in (
            (self.installed_on, self.retire_by, "retire_by"),
            (self.installed_on, self.warranty_end, "warranty_end"),
        ):
            if start and end and end < start:
                errors[field] = _("This date is before the installation date.")
        if errors:
            raise ValidationError(errors)
        if self.ci_type_id is not None:
            self.attributes = self.clean_attributes()

    def attribute_rows(self):
        """(definition, stored value) for every attribute of the type, in order."""
        return [(d, (self.attributes or {}).get(d.key)) for d in self.ci_type.definitions()]


class Relationship(Record):
    """``source`` —type→ ``target``, e.g. payroll-app —runs on→ srv-01."""

    source = models.ForeignKey(ConfigurationItem, on_delete=models.CASCADE, related_name="outgoing")
    target = models.ForeignKey(ConfigurationItem, on_delete=models.CASCADE, related_name="incoming")
    rel_type = models.ForeignKey(
        RelationshipType, verbose_name=_("type"), on_delete=models.PROTECT, related_name="links"
    )
    note = models.CharField(_("note"), max_length=300, blank=True)

    permissions = {
        "add": CONFIGURATION_STAFF,
        "change": CONFIGURATION_STAFF,
        "delete": CONFIGURATION_STAFF,
    }

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["source", "target", "rel_type"], name="relationship_once"
            ),
            models.CheckConstraint(
                condition=~Q(source=F("target")), name="relationship_not_to_itself"
            ),
        ]

    def __str__(self):
        return self.label

    @property
    def label(self):
        return f"{self.source} {self.rel_type} {self.target}"

    @classmethod
    def scope_condition(cls, scope):
        """A relationship is seen by whoever sees both its ends."""
        if scope.all_customers:
            return Q()
        visible = ConfigurationItem.objects.filter(ConfigurationItem.scope_condition(scope)).values(
            "pk"
        )
        return Q(source__in=visible, target__in=visible)


class CILink(models.Model):
    """A record (an incident, a problem, a change…) that names a CI."""

    ci = models.ForeignKey(ConfigurationItem, on_delete=models.CASCADE, related_name="links")
    content_type = models.ForeignKey(ContentType, on_delete=models.CASCADE)
    object_id = models.PositiveBigIntegerField()
    record = GenericForeignKey("content_type", "object_id")
    created = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    def __str__(self):
        return f"{self.ci} on {self.content_type.model} #{self.object_id}"

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["ci", "content_type", "object_id"], name="ci_link_once")
        ]
        indexes = [models.Index(fields=["content_type", "object_id"], name="ci_link_record")]


class LiveChange(models.Model):
    """A change to a live CI's attributes or relationships, with the change record
    that authorised it when one was named: the status accounting report lists those
    without."""

    ci = models.ForeignKey(ConfigurationItem, on_delete=models.CASCADE, related_name="live_changes")
    at = models.DateTimeField(default=timezone.now, db_index=True)
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor = models.CharField(max_length=100, blank=True)
    summary = models.CharField(_("what changed"), max_length=500)
    change_reference = models.CharField(
        _("authorising change"), max_length=50, blank=True, db_index=True
    )

    def __str__(self):
        return f"{self.ci}: {self.summary}"

    class Meta:
        ordering = ["-at", "-pk"]


class Baseline(DetailPage, Record):
    """A named snapshot of a set of CIs with their attributes and relationships."""

    name = models.CharField(_("name"), max_length=150, unique=True)
    description = models.CharField(_("description"), max_length=500, blank=True)
    criteria = models.JSONField(_("selection"), default=dict, blank=True)
    taken_at = models.DateTimeField(_("taken"), default=timezone.now)
    taken_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    item_count = models.PositiveIntegerField(_("items"), default=0)

    permissions = {
        "add": frozenset({Role.ADMINISTRATOR, Role.OWNER, Role.MANAGER}),
        "change": frozenset({Role.ADMINISTRATOR, Role.OWNER, Role.MANAGER}),
    }
    detail_url_name = "cmdb:baseline_detail"

    class Meta:
        ordering = ["-taken_at", "-pk"]

    def __str__(self):
        return self.name

    @classmethod
    def scope_condition(cls, scope):
        """Baselines span customers: the provider's staff see them, customers don't."""
        return Q() if not scope.is_customer else Q(pk__in=[])


class BaselineItem(models.Model):
    baseline = models.ForeignKey(Baseline, on_delete=models.CASCADE, related_name="items")
    ci_id = models.PositiveBigIntegerField()  # the CI may be deleted since
    name = models.CharField(max_length=200)
    ci_type = models.CharField(max_length=100)
    data = models.JSONField(default=dict)  # fields and attributes, as shown
    relations = models.JSONField(default=list)  # [type, direction, other id, other name]

    def __str__(self):
        return self.name

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["baseline", "ci_id"], name="baseline_item_once")
        ]


class ImportRun(models.Model):
    """A CSV file of CIs or of relationships applied by the worker: all or nothing."""

    KINDS = [("cis", _("Configuration items")), ("relationships", _("Relationships"))]

    kind = models.CharField(_("kind"), max_length=20, choices=KINDS)
    file = models.FileField(upload_to="cmdb-imports/")
    filename = models.CharField(_("file"), max_length=200)
    key_column = models.CharField(_("key column"), max_length=50, blank=True)
    status = models.CharField(
        _("status"), max_length=10, choices=RunStatus.choices, default=RunStatus.QUEUED
    )
    total_rows = models.PositiveIntegerField(default=0)
    processed = models.PositiveIntegerField(default=0)
    created_count = models.PositiveIntegerField(default=0)
    updated_count = models.PositiveIntegerField(default=0)
    unchanged_count = models.PositiveIntegerField(default=0)
    errors = models.JSONField(default=list, blank=True)  # [{line, column, message}]
    created = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    def __str__(self):
        return self.filename

    class Meta:
        ordering = ["-created", "-pk"]


class AuditRun(models.Model):
    """A discovered dataset compared with the CMDB; its decisions are kept."""

    SOURCES = [("csv", _("CSV file")), ("glpi", _("GLPI-Agent inventory (JSON)"))]

    name = models.CharField(_("name"), max_length=150)
    source = models.CharField(_("source"), max_length=10, choices=SOURCES)
    filename = models.CharField(_("file"), max_length=200)
    status = models.CharField(
        _("status"), max_length=10, choices=RunStatus.choices, default=RunStatus.QUEUED
    )
    counts = models.JSONField(default=dict, blank=True)  # outcome -> number
    error = models.CharField(max_length=1000, blank=True)
    created = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created", "-pk"]

    def __str__(self):
        return self.name


class AuditItem(models.Model):
    run = models.ForeignKey(AuditRun, on_delete=models.CASCADE, related_name="items")
    ci = models.ForeignKey(
        ConfigurationItem, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    outcome = models.CharField(max_length=10, choices=AuditOutcome.choices)
    matched_by = models.CharField(max_length=20, blank=True)  # external key, serial, name
    discovered = models.JSONField(default=dict, blank=True)
    differences = models.JSONField(default=dict, blank=True)  # field -> [recorded, found]
    decision = models.CharField(
        max_length=10, choices=AuditDecision.choices, default=AuditDecision.PENDING
    )
    reason = models.CharField(max_length=500, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)

    def __str__(self):
        return f"{self.get_outcome_display()}: {self.discovered.get('name', '')}"

    class Meta:
        ordering = ["outcome", "pk"]
        indexes = [models.Index(fields=["run", "outcome"], name="audit_item_outcome")]


class GraphEvent(models.Model):
    """What changed in the graph since a process loaded it: a CI (its name, type,
    status, customers or services) or a relationship. Processes apply the events
    they have not seen to their copy of the graph instead of reloading it all."""

    CI = "ci"
    LINK_ADDED = "link+"
    LINK_REMOVED = "link-"
    RELOAD = "reload"

    op = models.CharField(max_length=6)
    ci_id = models.BigIntegerField(null=True)
    source_id = models.BigIntegerField(null=True)
    target_id = models.BigIntegerField(null=True)
    rel_type_id = models.BigIntegerField(null=True)
    at = models.DateTimeField(default=timezone.now)

    def __str__(self):
        return f"{self.op} {self.ci_id or ''}{self.source_id or ''}"
