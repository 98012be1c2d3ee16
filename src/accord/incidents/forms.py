"""Forms of the service desk: log and edit (staff), log (customer users), resolve,
declare major, timeline updates, communications and the review."""

from django import forms
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from accord.catalogue.choices import ServiceStatus
from accord.catalogue.models import Service
from accord.core.policy import Role, restrict
from accord.organizations.models import Contact, Customer
from accord.users.models import Team, User

from .choices import Priority, ResolutionCode
from .models import Category, CustomerCommunication, MajorIncidentReview

TICKET_FIELDS = [
    "customer",
    "caller",
    "service",
    "category",
    "short_description",
    "description",
    "impact",
    "urgency",
    "priority",
    "assignment_team",
    "assignee",
    "workaround",
]


def staff_users():
    return User.objects.filter(is_active=True).exclude(role=Role.CUSTOMER)


def callers_for(user):
    """Who ``user`` may name as the caller: staff, and the people of the customers the
    user may see (never another customer's people)."""
    people = restrict(Contact.objects.filter(user__isnull=False), user).values("user_id")
    return User.objects.filter(is_active=True).filter(~Q(role=Role.CUSTOMER) | Q(pk__in=people))


class TicketForm(forms.ModelForm):
    """Staff log or edit an incident or request. Choices are limited to what the
    user may see, so an id of another customer's record is "not a valid choice"."""

    priority = forms.TypedChoiceField(
        label=_("Priority"),
        choices=[("", _("From impact and urgency"))] + Priority.choices,
        coerce=int,
        empty_value=None,
        required=False,
    )
    priority_reason = forms.CharField(
        label=_("Reason for priority override"),
        required=False,
        max_length=500,
        help_text=_("Needed only when the priority differs from the matrix."),
    )
    version = forms.IntegerField(widget=forms.HiddenInput, required=False)

    field_order = [*TICKET_FIELDS[: TICKET_FIELDS.index("priority") + 1], "priority_reason"]

    class Meta:
        fields = TICKET_FIELDS
        widgets = {
            "description": forms.Textarea(attrs={"rows": 5}),
            "workaround": forms.Textarea(attrs={"rows": 3}),
        }

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        self.fields["customer"].queryset = restrict(Customer.objects.filter(active=True), user)
        self.fields["caller"].queryset = callers_for(user)
        self.fields["service"].queryset = Service.objects.exclude(status=ServiceStatus.RETIRED)
        self.fields["category"].queryset = Category.objects.filter(
            active=True, applies_to__in=["both", self._meta.model.kind]
        )
        self.fields["assignment_team"].queryset = Team.objects.all()
        self.fields["assignee"].queryset = staff_users()
        if self.instance.pk:
            self.fields["version"].initial = self.instance.version
            self.fields["version"].required = True
            self.fields["priority"].initial = self.instance.priority

    def clean(self):
        data = super().clean()
        # The priority is decided by the action (matrix or reasoned override).
        data.pop("priority_reason", None)
        return data

    def _post_clean(self):
        # Model validation runs in the action, with the priority applied.
        pass


def ticket_form_for(model, data=None, instance=None, user=None, initial=None):
    form_class = forms.modelform_factory(model, form=TicketForm, fields=TICKET_FIELDS)
    return form_class(data, instance=instance, user=user, initial=initial)


class CustomerTicketForm(forms.ModelForm):
    """A customer user logs an incident or request for their own organisation."""

    class Meta:
        fields = ["service", "short_description", "description", "impact", "urgency"]
        widgets = {"description": forms.Textarea(attrs={"rows": 6})}

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        self.fields["service"].queryset = restrict(Service.objects.all(), user)
        self.fields["impact"].help_text = _("How many people or how much of the business is hit.")
        self.fields["urgency"].help_text = _("How soon it must be fixed.")

    def _post_clean(self):
        pass


def customer_form_for(model, data=None, user=None, initial=None):
    form_class = forms.modelform_factory(
        model, form=CustomerTicketForm, fields=CustomerTicketForm.Meta.fields
    )
    return form_class(data, user=user, initial=initial)


class TransitionForm(forms.Form):
    version = forms.IntegerField(widget=forms.HiddenInput)
    note = forms.CharField(
        label=_("Note"), required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 2})
    )
    resolution_code = forms.ChoiceField(
        label=_("Resolution code"),
        choices=[("", "---------")] + ResolutionCode.choices,
        required=False,
    )
    resolution_notes = forms.CharField(
        label=_("Resolution notes"),
        required=False,
        max_length=10000,
        widget=forms.Textarea(attrs={"rows": 3}),
    )


class DeclareMajorForm(forms.Form):
    version = forms.IntegerField(widget=forms.HiddenInput)
    major_reason = forms.CharField(
        label=_("Why is this a major incident?"),
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    major_manager = forms.ModelChoiceField(
        label=_("Major incident manager"), queryset=User.objects.none()
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["major_manager"].queryset = staff_users().exclude(role=Role.AUDITOR)


class MajorUpdateForm(forms.Form):
    body = forms.CharField(
        label=_("Update"), max_length=5000, widget=forms.Textarea(attrs={"rows": 2})
    )


class CommunicationForm(forms.ModelForm):
    class Meta:
        model = CustomerCommunication
        fields = ["channel", "audience", "subject", "body"]
        widgets = {"body": forms.Textarea(attrs={"rows": 3})}


class ReviewForm(forms.ModelForm):
    complete = forms.BooleanField(label=_("Mark the review complete"), required=False)

    class Meta:
        model = MajorIncidentReview
        fields = ["summary", "root_cause", "went_well", "went_badly", "actions"]
        widgets = {
            name: forms.Textarea(attrs={"rows": 3})
            for name in ["summary", "root_cause", "went_well", "went_badly", "actions"]
        }
