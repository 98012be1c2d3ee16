"""Forms shared by every record type."""

from django import forms
from django.conf import settings
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext_lazy as _


class AttachmentForm(forms.Form):
    file = forms.FileField(label=_("File"))
    internal = forms.BooleanField(label=_("Internal (staff only)"), required=False)

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > settings.ATTACHMENT_MAX_BYTES:
            raise forms.ValidationError(
                _("The file is larger than the limit of %(limit)s.")
                % {"limit": filesizeformat(settings.ATTACHMENT_MAX_BYTES)}
            )
        if upload.size == 0:
            raise forms.ValidationError(_("The file is empty."))
        return upload


class JournalForm(forms.Form):
    kind = forms.ChoiceField(
        label=_("Kind"),
        choices=[("reply", _("Reply to customer")), ("work_note", _("Internal work note"))],
    )
    body = forms.CharField(
        label=_("Message"), widget=forms.Textarea(attrs={"rows": 3}), max_length=20000
    )


class RecordForm(forms.ModelForm):
    """A ModelForm for a Record: carries the version it was read at and the user."""

    version = forms.IntegerField(widget=forms.HiddenInput, required=False)

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        if self.instance.pk:
            self.fields["version"].initial = self.instance.version
            self.fields["version"].required = True


MAX_KEY = 2**63 - 1


def key_of(text):
    """The record id ``text`` names (ASCII digits, 1 to 2**63 - 1), else None; never
    an error, however long or odd the text (int() refuses over 4,300 digits)."""
    text = str(text or "").strip()
    if not (text.isascii() and text.isdigit() and len(text) <= 19):
        return None
    value = int(text)
    return value if 0 < value <= MAX_KEY else None
