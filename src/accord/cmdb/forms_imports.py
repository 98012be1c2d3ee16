"""The upload form of a CSV import."""

from django import forms
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext_lazy as _

from .imports import KEY_CHOICES, max_upload_bytes
from .models import ImportRun


def check_upload(upload):
    """The file's size: not empty, within the limit (its content is the worker's)."""
    if upload.size == 0:
        raise forms.ValidationError(_("The file is empty."))
    if upload.size > max_upload_bytes():
        raise forms.ValidationError(
            _("The file is larger than the limit of %(limit)s.")
            % {"limit": filesizeformat(max_upload_bytes())}
        )
    return upload


class ImportForm(forms.Form):
    kind = forms.ChoiceField(label=_("What the file holds"), choices=ImportRun.KINDS)
    key_column = forms.ChoiceField(
        label=_("Match existing CIs by"),
        choices=KEY_CHOICES,
        initial="external_key",
        help_text=_(
            "A row whose key names an existing CI updates it; any other row creates one. "
            "For relationships: how the source and target columns name CIs."
        ),
    )
    file = forms.FileField(
        label=_("CSV file (UTF-8)"),
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,text/csv"}),
    )

    def clean_file(self):
        return check_upload(self.cleaned_data["file"])
