"""Forms of the relationship type pages: the type itself and one row per allowed pair
of CI types (a formset). They read the input; the rules that keep existing
relationships valid live in ``reltypes.py``."""

from django import forms
from django.forms import formset_factory
from django.utils.translation import gettext_lazy as _

from accord.core.forms import RecordForm

from .models import CIType, RelationshipType
from .reltypes import PREFIX


class RelationshipTypeForm(RecordForm):
    class Meta:
        model = RelationshipType
        fields = ["name", "reverse_name", "key", "impact", "acyclic"]
        labels = {"acyclic": _("May not close a loop")}
        help_texts = {
            "key": _("Lower-case letters, digits and hyphens; how imports and the API name it."),
            "name": _("How a link reads from its source, e.g. “runs on”."),
            "reverse_name": _("How it reads from its target, e.g. “hosts”."),
            "acyclic": _(
                "Refuse a relationship of this type that would close a loop "
                "(a runs on b runs on a)."
            ),
        }

    def __init__(self, *args, link_count=0, **kwargs):
        super().__init__(*args, **kwargs)
        if link_count:
            key = self.fields["key"]
            key.disabled = True
            key.help_text = _(
                "The key cannot change while relationships of this type exist (%(n)s now)."
            ) % {"n": link_count}


class PairForm(forms.Form):
    """One allowed pair as a row of the type's page."""

    id = forms.IntegerField(widget=forms.HiddenInput, required=False, min_value=1)
    source_type = forms.ModelChoiceField(
        label=_("Source type"), queryset=CIType.objects.all(), required=False, empty_label="—"
    )
    target_type = forms.ModelChoiceField(
        label=_("Target type"), queryset=CIType.objects.all(), required=False, empty_label="—"
    )

    def __init__(self, *args, usage=None, **kwargs):
        super().__init__(*args, **kwargs)
        initial = self.initial or {}
        pair = (initial.get("source_type"), initial.get("target_type"))
        self.in_use = (usage or {}).get(pair, 0) if initial.get("id") else 0


class BasePairFormSet(forms.BaseFormSet):
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
        """The filled rows for ``reltypes.save_reltype``, each with its place on the
        page."""
        out = []
        for index, form in enumerate(self.forms):
            data = getattr(form, "cleaned_data", None) or {}
            if not data or (not data.get("id") and data.get("DELETE")):
                continue  # an empty extra row, or a new row removed before saving
            if not data.get("id") and not data.get("source_type") and not data.get("target_type"):
                continue  # a blank row
            out.append({**data, "row": index, "delete": bool(data.get("DELETE"))})
        return out


PairFormSet = formset_factory(
    PairForm, formset=BasePairFormSet, extra=1, can_delete=True, max_num=500, validate_max=True
)


def pair_formset(rel_type, data=None, *, usage=None):
    """The formset of ``rel_type``'s allowed pairs (a blank row to add one)."""
    initial = []
    if rel_type is not None and rel_type.pk:
        pairs = rel_type.allowed_pairs.select_related("source_type", "target_type")
        initial = [
            {"id": p.pk, "source_type": p.source_type_id, "target_type": p.target_type_id}
            for p in sorted(pairs, key=lambda p: (p.source_type.name, p.target_type.name))
        ]
    formset = PairFormSet(data, initial=initial, prefix=PREFIX, usage=usage)
    formset.extra = 1 if initial else 2
    return formset
