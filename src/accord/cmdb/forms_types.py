"""Forms of the CI type pages: the type itself and one row per attribute definition
(a formset). They read and check the input; the rules that keep existing CIs valid
live in ``types.py``."""

from django import forms
from django.core.exceptions import ValidationError
from django.forms import formset_factory
from django.utils.translation import gettext_lazy as _

from accord.core.forms import RecordForm

from .choices import AttributeKind
from .models import CIType
from .types import PREFIX

MAX_CHOICES = 200
MAX_CHOICE_LENGTH = 100


class CITypeForm(RecordForm):
    class Meta:
        model = CIType
        fields = ["key", "name", "description", "is_location"]
        help_texts = {
            "key": _("Lower-case letters, digits and hyphens; how imports and the API name it.")
        }

    def __init__(self, *args, ci_count=0, **kwargs):
        super().__init__(*args, **kwargs)
        self.ci_count = ci_count
        if ci_count:
            key = self.fields["key"]
            key.disabled = True
            key.help_text = _("The key cannot change while CIs of this type exist (%(n)s now).") % {
                "n": ci_count
            }


class ChoicesField(forms.CharField):
    """The allowed values of a choice attribute, one per line."""

    widget = forms.Textarea(attrs={"rows": 2})

    def prepare_value(self, value):
        if isinstance(value, list | tuple):
            return "\n".join(value)
        return value

    def to_python(self, value):
        text = super().to_python(value)
        out = []
        for line in text.splitlines():
            choice = " ".join(line.split())
            if not choice:
                continue
            if len(choice) > MAX_CHOICE_LENGTH:
                raise ValidationError(
                    _("The choice “%(c)s…” is longer than %(n)s characters.")
                    % {"c": choice[:30], "n": MAX_CHOICE_LENGTH}
                )
            if choice in out:
                raise ValidationError(_("“%(c)s” is listed twice.") % {"c": choice})
            out.append(choice)
        if len(out) > MAX_CHOICES:
            raise ValidationError(_("At most %(n)s choices.") % {"n": MAX_CHOICES})
        return out


class DefinitionForm(forms.Form):
    """One attribute definition as a row of the type's page."""

    id = forms.IntegerField(widget=forms.HiddenInput, required=False, min_value=1)
    order = forms.IntegerField(label=_("Order"), required=False, min_value=0, max_value=32767)
    key = forms.SlugField(label=_("Key"), max_length=50)
    label = forms.CharField(label=_("Label"), max_length=100)
    kind = forms.ChoiceField(label=_("Kind"), choices=AttributeKind.choices, initial="text")
    required = forms.BooleanField(label=_("Required"), required=False)
    choices = ChoicesField(label=_("Choices (one per line)"), required=False, max_length=20000)
    reference_type = forms.ModelChoiceField(
        label=_("Referenced type"),
        queryset=CIType.objects.all(),
        required=False,
        empty_label=_("any type"),
    )
    remove_values = forms.BooleanField(label=_("Also remove the values"), required=False)

    def __init__(self, *args, usage=None, **kwargs):
        super().__init__(*args, **kwargs)
        usage = usage or {}
        key = (self.initial or {}).get("key")
        self.in_use = usage.get(key, 0) if self.initial.get("id") else 0
        if self.in_use:
            self.fields["remove_values"].label = _("Also remove the values from %(n)s CIs") % {
                "n": self.in_use
            }

    def has_changed(self):
        # A new row with neither key nor label is a blank row, whatever its kind says.
        if not self.initial.get("id") and self.is_bound:
            typed = [
                (self.data.get(self.add_prefix(name)) or "").strip() for name in ("key", "label")
            ]
            if not any(typed):
                return False
        return super().has_changed()


class BaseDefinitionFormSet(forms.BaseFormSet):
    def __init__(self, *args, usage=None, **kwargs):
        self.usage = usage or {}
        super().__init__(*args, **kwargs)

    def add_fields(self, form, index):
        super().add_fields(form, index)
        if "DELETE" in form.fields:
            form.fields["DELETE"].label = _("Remove")

    def get_form_kwargs(self, index):
        return {**super().get_form_kwargs(index), "usage": self.usage}

    def rows(self):
        """The filled rows for ``types.save_type``, each with its place on the page."""
        out = []
        for index, form in enumerate(self.forms):
            data = getattr(form, "cleaned_data", None) or {}
            if not data or (not data.get("id") and data.get("DELETE")):
                continue  # an empty extra row, or a new row removed before saving
            out.append({**data, "row": index, "delete": bool(data.get("DELETE"))})
        return out


DefinitionFormSet = formset_factory(
    DefinitionForm,
    formset=BaseDefinitionFormSet,
    extra=1,
    can_delete=True,
    max_num=200,
    validate_max=True,
)


def definition_formset(ci_type, data=None, *, extra_rows=0, usage=None):
    """The formset of ``ci_type``'s definitions (blank rows to add new ones)."""
    initial = []
    if ci_type is not None and ci_type.pk:
        initial = [
            {
                "id": d.pk,
                "order": d.order,
                "key": d.key,
                "label": d.label,
                "kind": d.kind,
                "required": d.required,
                "choices": d.choices,
                "reference_type": d.reference_type_id,
            }
            for d in ci_type.attribute_definitions.all()
        ]
    formset = DefinitionFormSet(data, initial=initial, prefix=PREFIX, usage=usage)
    formset.extra = extra_rows or (1 if initial else 3)
    return formset
