"""Forms of the release pages: plan and edit a release (its changes named by number),
the plan's stages, acceptance criteria and their sign-off, deployments (CI by name,
authorising change by number), lifecycle steps, incidents linked by hand, the
review, and a service's release policy.

References typed by people are resolved within what the user may see; the rules of
the process are left to ``releases``."""

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from accord.catalogue.choices import ServiceStatus
from accord.catalogue.models import Service
from accord.core.forms import key_of
from accord.core.policy import restrict
from accord.incidents.models import Incident
from accord.organizations.models import Customer

from . import releases
from .choices import Decision, ReleaseKind, StageKind
from .forms import (
    DATETIME,
    MAX_REFERENCES,
    no_record_message,
    resolve_cis,
    resolve_records,
    split_references,
    textarea,
)
from .forms import ReviewForm as ChangeReviewForm
from .models import Change, ReleasePolicy

DATE = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
VERSION = {"widget": forms.HiddenInput, "min_value": 1, "max_value": 2**31}


class KeyedMultipleChoiceField(forms.ModelMultipleChoiceField):
    """Rows chosen by id: an id no row can have is refused before the database is asked
    (a number past its integer range would fail there)."""

    def _check_values(self, value):
        for pk in value:
            text = str(pk)
            if key_of(text) is None:
                raise ValidationError(
                    self.error_messages["invalid_pk_value"],
                    code="invalid_pk_value",
                    params={"pk": text[:20]},
                )
        return super()._check_values(value)


class ReleaseForm(forms.Form):
    """Plan or edit a release. Services and customers are limited to what the user may
    see; changes are named by number."""

    short_description = forms.CharField(label=_("Name"), max_length=160)
    release_version = forms.CharField(
        label=_("Version"), max_length=50, help_text=_("As the release policy names them.")
    )
    kind = forms.ChoiceField(label=_("Kind"), choices=ReleaseKind.choices)
    manager = forms.ModelChoiceField(
        label=_("Release manager"), queryset=releases.possible_approvers(), required=False
    )
    services = KeyedMultipleChoiceField(
        label=_("Services"),
        queryset=Service.objects.none(),
        widget=forms.SelectMultiple(attrs={"size": 4}),
    )
    customers = KeyedMultipleChoiceField(
        label=_("Customers"),
        queryset=Customer.objects.none(),
        required=False,
        widget=forms.SelectMultiple(attrs={"size": 4}),
        help_text=_("Leave empty for a release of the provider's own (seen by all staff)."),
    )
    changes = forms.CharField(
        label=_("Changes"),
        required=False,
        max_length=5000,
        help_text=_("Change numbers, separated by commas (CHG0000012)."),
    )
    review_days = forms.IntegerField(
        label=_("Days watched after roll-out"),
        min_value=1,
        max_value=365,
        initial=14,
        help_text=_("Incidents raised in these days on its services or CIs go to its review."),
    )
    description = forms.CharField(
        label=_("Description"), required=False, max_length=20000, widget=textarea(4)
    )
    version = forms.IntegerField(required=False, **VERSION)

    # Side by side in pairs on the page: what it is, who runs it, what it touches.
    field_order = (
        "short_description",
        "release_version",
        "kind",
        "manager",
        "review_days",
        "services",
        "customers",
        "changes",
        "description",
    )

    def __init__(self, *args, user, release=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        self.release = release
        self.fields["services"].queryset = restrict(
            Service.objects.exclude(status=ServiceStatus.RETIRED), user
        )
        self.fields["customers"].queryset = restrict(Customer.objects.filter(active=True), user)
        if release is not None:
            self.fields["version"].required = True
            if not self.is_bound:
                self.initial.update(
                    {
                        "short_description": release.short_description,
                        "release_version": release.release_version,
                        "kind": release.kind,
                        "manager": release.manager_id,
                        "services": [s.pk for s in release.services.all()],
                        "customers": [
                            c.pk for c in self.fields["customers"].queryset.filter(releases=release)
                        ],
                        "changes": ", ".join(
                            c.number for c in restrict(release.changes.all(), user).order_by("pk")
                        ),
                        "review_days": release.review_days,
                        "description": release.description,
                        "version": release.version,
                    }
                )

    def clean_changes(self):
        refs = split_references(self.cleaned_data.get("changes", ""))
        if len(refs) > MAX_REFERENCES:
            raise ValidationError(_("Name at most %(n)s at once.") % {"n": MAX_REFERENCES})
        found, missing = resolve_records(Change, self.user, refs)
        if missing:
            raise ValidationError(no_record_message(Change, missing))
        return found

    def values(self):
        """(the release's own fields, the related lists) for the action."""
        data = dict(self.cleaned_data)
        extra = {name: data.pop(name, None) for name in ("services", "customers", "changes")}
        extra["version"] = data.pop("version", None)
        return data, extra


# --- the record page --------------------------------------------------------------------------
class TransitionForm(forms.Form):
    version = forms.IntegerField(**VERSION)
    name = forms.CharField(widget=forms.HiddenInput, max_length=30)
    note = forms.CharField(label=_("Reason"), required=False, max_length=2000, widget=textarea(2))

    def __init__(self, *args, step, release=None, **kwargs):
        kwargs.setdefault("auto_id", f"rtr-{step}-%s")
        super().__init__(*args, **kwargs)
        if step in releases.NOTE_NEEDED:
            self.fields["note"].required = True
        else:
            del self.fields["note"]
        if release is not None and not self.is_bound:
            self.initial.update({"version": release.version, "name": step})


class StageForm(forms.Form):
    kind = forms.ChoiceField(label=_("Stage"), choices=StageKind.choices)
    target = forms.CharField(
        label=_("Where"),
        required=False,
        max_length=200,
        help_text=_("For a roll-out wave: the location or group of CIs."),
    )
    starts_on = forms.DateField(label=_("From"), widget=DATE)
    ends_on = forms.DateField(label=_("Until"), widget=DATE)

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("auto_id", "stage-%s")
        super().__init__(*args, **kwargs)


class CriterionForm(forms.Form):
    text = forms.CharField(label=_("Criterion"), max_length=500)
    approver = forms.ModelChoiceField(
        label=_("Signed off by"), queryset=releases.possible_approvers()
    )

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("auto_id", "criterion-%s")
        super().__init__(*args, **kwargs)


class SignOffForm(forms.Form):
    criterion = forms.IntegerField(widget=forms.HiddenInput, min_value=1, max_value=2**63 - 1)
    decision = forms.ChoiceField(
        label=_("Decision"),
        choices=[(Decision.APPROVE, _("Approve")), (Decision.REJECT, _("Reject"))],
        widget=forms.RadioSelect(attrs={"class": "form-check-input"}),
    )
    comment = forms.CharField(
        label=_("Comment"),
        required=False,
        max_length=1000,
        widget=textarea(2),
        help_text=_("Needed to reject."),
    )

    def __init__(self, *args, criterion=None, **kwargs):
        prefix = criterion.pk if criterion is not None else "x"
        kwargs.setdefault("auto_id", f"signoff-{prefix}-%s")
        super().__init__(*args, **kwargs)
        if criterion is not None and not self.is_bound:
            self.initial["criterion"] = criterion.pk


class DeploymentForm(forms.Form):
    ci = forms.CharField(
        label=_("Configuration item"), max_length=200, help_text=_("Its name or id.")
    )
    change = forms.CharField(
        label=_("Authorising change"),
        max_length=30,
        help_text=_("One of the release's changes (CHG0000012)."),
    )
    planned_for = forms.DateTimeField(
        label=_("Planned"), widget=DATETIME, help_text=_("In your time zone.")
    )
    note = forms.CharField(label=_("Note"), required=False, max_length=1000)

    def __init__(self, *args, user=None, **kwargs):
        kwargs.setdefault("auto_id", "deploy-%s")
        super().__init__(*args, **kwargs)
        self.user = user

    def clean_ci(self):
        found = resolve_cis(self.user, self.cleaned_data["ci"].strip())
        if len(found) != 1:
            raise ValidationError(_("Name one configuration item."))
        return found[0]

    def clean_change(self):
        refs = split_references(self.cleaned_data["change"])
        if len(refs) != 1:
            raise ValidationError(_("Name one change."))
        found, missing = resolve_records(Change, self.user, refs)
        if missing:
            raise ValidationError(no_record_message(Change, missing))
        return found[0]


class DeploymentStepForm(forms.Form):
    """Done, failed, rolled back or removed: one deployment, with a note."""

    deployment = forms.IntegerField(widget=forms.HiddenInput, min_value=1, max_value=2**63 - 1)
    note = forms.CharField(label=_("Note"), required=False, max_length=1000)

    def __init__(self, *args, step="done", deployment=None, **kwargs):
        prefix = deployment.pk if deployment is not None else "x"
        kwargs.setdefault("auto_id", f"dep-{step}-{prefix}-%s")
        super().__init__(*args, **kwargs)
        if step in ("fail", "roll_back"):
            self.fields["note"].required = True
            self.fields["note"].label = (
                _("What went wrong") if step == "fail" else _("Why it is rolled back")
            )
        if deployment is not None and not self.is_bound:
            self.initial["deployment"] = deployment.pk


class LinkIncidentForm(forms.Form):
    incident = forms.CharField(
        label=_("Link an incident"), max_length=30, help_text=_("Its number (INC0000123).")
    )

    def __init__(self, *args, user=None, **kwargs):
        kwargs.setdefault("auto_id", "link-incident-%s")
        super().__init__(*args, **kwargs)
        self.user = user

    def clean_incident(self):
        refs = split_references(self.cleaned_data["incident"])
        if len(refs) != 1:
            raise ValidationError(_("Name one incident."))
        found, missing = resolve_records(Incident, self.user, refs)
        if missing:
            raise ValidationError(no_record_message(Incident, missing))
        return found[0]


class ReviewForm(ChangeReviewForm):
    """The post-release review: the change review's form, worded for a release."""

    def __init__(self, *args, release=None, **kwargs):
        super().__init__(*args, change=release, **kwargs)
        notes = self.fields["review_notes"]
        notes.label = _("Post-release review")
        notes.help_text = _("How the roll-out went, what the incidents after it say, what to keep.")


# --- release policy -----------------------------------------------------------------------------
class PolicyForm(forms.ModelForm):
    version = forms.IntegerField(required=False, **VERSION)

    class Meta:
        model = ReleasePolicy
        fields = ["frequency", "kinds", "naming", "rollback"]
        widgets = {name: textarea(3) for name in fields}

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("auto_id", "policy-%s")
        super().__init__(*args, **kwargs)
        self.fields["frequency"].help_text = _("How often releases go out, and when.")
        self.fields["kinds"].help_text = _("Major, minor and emergency: what each may hold.")
        self.fields["naming"].help_text = _("How releases are named and numbered.")
        self.fields["rollback"].help_text = _("When and how a release is rolled back.")
        if self.instance.pk:
            self.fields["version"].required = True
            if not self.is_bound:
                self.initial["version"] = self.instance.version

    def _post_clean(self):
        # Model validation runs in the action.
        pass
