"""Forms of the CMDB: a CI with its type's attributes, a relationship, a record's
affected CI."""

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from accord.catalogue.models import Service
from accord.core.forms import RecordForm
from accord.core.policy import restrict
from accord.organizations.models import Customer

from .choices import AttributeKind, CIStatus
from .models import ConfigurationItem, RelationshipType

CI_FIELDS = [
    "name",
    "status",
    "criticality",
    "owner",
    "location",
    "customers",
    "services",
    "serial",
    "asset_tag",
    "external_key",
    "installed_on",
    "warranty_end",
    "retire_by",
    "description",
]
DATE = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


def attribute_field(definition):
    """The form field for one typed attribute."""
    common = {"label": definition.label, "required": definition.required}
    kind = definition.kind
    if kind == AttributeKind.NUMBER:
        return forms.DecimalField(**common)
    if kind == AttributeKind.DATE:
        return forms.DateField(widget=DATE, **common)
    if kind == AttributeKind.CHOICE:
        return forms.ChoiceField(
            choices=[("", "—"), *[(c, c) for c in definition.choices]], **common
        )
    if kind == AttributeKind.IP:
        return forms.GenericIPAddressField(**common)
    if kind == AttributeKind.REFERENCE:
        return forms.CharField(
            help_text=_("The name or id of a %(type)s.")
            % {"type": definition.reference_type or _("configuration item")},
            max_length=200,
            **common,
        )
    return forms.CharField(max_length=1000, **common)


class CIForm(RecordForm):
    change_reference = forms.CharField(
        label=_("Authorising change"),
        required=False,
        max_length=50,
        help_text=_("The change record that authorises this change to a live CI."),
    )

    class Meta:
        model = ConfigurationItem
        fields = CI_FIELDS
        widgets = {
            "installed_on": DATE,
            "warranty_end": DATE,
            "retire_by": DATE,
            "description": forms.Textarea(attrs={"rows": 3}),
        }

    def __init__(self, *args, ci_type=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.ci_type = ci_type or self.instance.ci_type
        user = self.user
        self.fields["customers"].queryset = restrict(Customer.objects.all(), user)
        self.fields["services"].queryset = restrict(Service.objects.all(), user)
        self.fields["location"].queryset = restrict(
            ConfigurationItem.objects.filter(ci_type__is_location=True), user
        )
        self.attribute_keys = []
        for definition in self.ci_type.definitions():
            name = f"attr_{definition.key}"
            self.fields[name] = attribute_field(definition)
            value = (self.instance.attributes or {}).get(definition.key)
            if definition.kind == AttributeKind.REFERENCE and value is not None:
                value = (
                    ConfigurationItem.objects.filter(pk=value)
                    .values_list("name", flat=True)
                    .first()
                    or value
                )
            self.fields[name].initial = value
            self.attribute_keys.append((name, definition))
        if self.instance.pk is None or self.instance.status != CIStatus.LIVE:
            del self.fields["change_reference"]

    def clean_change_reference(self):
        from .actions import check_change_reference

        try:
            return check_change_reference(self.user, self.cleaned_data.get("change_reference"))
        except ValidationError as exc:
            raise ValidationError(exc.messages) from None

    def attribute_values(self):
        out = {}
        for name, definition in self.attribute_keys:
            value = self.cleaned_data.get(name)
            if value is None or value == "":
                continue
            if definition.kind == AttributeKind.DATE:
                value = value.isoformat()
            elif definition.kind == AttributeKind.NUMBER:
                value = str(value)
            out[definition.key] = value
        return out

    def customers_to_keep(self):
        """Customers the user can't see stay on the CI whatever the form says."""
        if self.instance.pk is None:
            return []
        visible = set(self.fields["customers"].queryset.values_list("pk", flat=True))
        return [c for c in self.instance.customers.all() if c.pk not in visible]

    def services_to_keep(self):
        if self.instance.pk is None:
            return []
        visible = set(self.fields["services"].queryset.values_list("pk", flat=True))
        return [s for s in self.instance.services.all() if s.pk not in visible]

    def _post_clean(self):
        # The model's own clean (attributes and all) runs in actions.save_ci, where the
        # attributes are set; here only the form's fields are copied onto the instance.
        from django.forms.models import construct_instance

        self.instance = construct_instance(self, self.instance, self._meta.fields)


class RelationshipForm(forms.Form):
    rel_type = forms.ChoiceField(label=_("Relationship"))
    other = forms.CharField(
        label=_("Configuration item"),
        max_length=200,
        help_text=_("Its name, or its id if several CIs share the name."),
    )
    change_reference = forms.CharField(label=_("Authorising change"), required=False, max_length=50)

    def __init__(self, *args, user=None, ci=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.user, self.ci = user, ci
        choices = []
        for rel in RelationshipType.objects.all():
            choices.append((f"out:{rel.pk}", f"{ci} {rel.name} …"))
            choices.append((f"in:{rel.pk}", f"{ci} {rel.reverse_name} …"))
        self.fields["rel_type"].choices = choices

    def clean_other(self):
        value = self.cleaned_data["other"].strip()
        qs = restrict(ConfigurationItem.objects.all(), self.user).select_related("ci_type")
        if value.isdigit():
            found = list(qs.filter(pk=int(value)))
        else:
            found = list(qs.filter(name=value)[:2])
        if not found:
            raise ValidationError(_("No configuration item “%(v)s”.") % {"v": value[:100]})
        if len(found) > 1:
            raise ValidationError(
                _("Several CIs are called “%(v)s”: give the id of the one you mean.")
                % {"v": value[:100]}
            )
        return found[0]

    def clean_rel_type(self):
        value = self.cleaned_data["rel_type"]
        direction, _sep, pk = value.partition(":")
        rel = RelationshipType.objects.filter(pk=pk).first() if pk.isdigit() else None
        if rel is None or direction not in ("in", "out"):
            raise ValidationError(_("Choose a relationship."))
        return direction, rel


class LinkCIForm(forms.Form):
    ci = forms.CharField(
        label=_("Configuration item"), max_length=200, help_text=_("Its name or id.")
    )

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user

    def clean_ci(self):
        value = self.cleaned_data["ci"].strip()
        qs = restrict(ConfigurationItem.objects.all(), self.user)
        found = list(qs.filter(pk=int(value)) if value.isdigit() else qs.filter(name=value)[:2])
        if not found:
            raise ValidationError(_("No configuration item “%(v)s”.") % {"v": value[:100]})
        if len(found) > 1:
            raise ValidationError(
                _("Several CIs are called “%(v)s”: give its id.") % {"v": value[:100]}
            )
        return found[0]
