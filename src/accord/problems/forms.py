"""Forms of the problem pages: log and edit a problem, the lifecycle steps with what
each records, the root cause analysis, incident links and the review."""

import re

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from accord.catalogue.choices import ServiceStatus
from accord.catalogue.models import Service
from accord.core.forms import key_of
from accord.core.policy import WRITING_STAFF, restrict
from accord.incidents.choices import Priority
from accord.incidents.models import Category, Incident
from accord.organizations.models import Customer
from accord.users.models import Team, User

from .choices import FactorKind
from .models import RISK_APPROVER_ROLES, AnalysisStep, ContributingFactor, Problem, TimelineEntry

DATE = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
DATETIME = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")
PROBLEM_FIELDS = [
    "short_description",
    "description",
    "impact",
    "urgency",
    "priority",
    "owner",
    "assignment_team",
    "category",
    "services",
    "customers",
    "is_major",
]
MAX_INCIDENTS = 200


def problem_owners():
    """Who may own a problem or a prevention action: staff who can write."""
    return User.objects.filter(is_active=True, role__in=WRITING_STAFF).order_by("username")


def risk_approvers():
    return User.objects.filter(is_active=True, role__in=RISK_APPROVER_ROLES).order_by("username")


def incident_categories():
    return Category.objects.filter(active=True, applies_to__in=["both", "incident"])


def textarea(rows):
    return forms.Textarea(attrs={"rows": rows})


class ProblemForm(forms.ModelForm):
    """Log or edit a problem. Choices are limited to what the user may see."""

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
        help_text=_("Needed only when the priority differs from the problem matrix."),
    )
    version = forms.IntegerField(widget=forms.HiddenInput, required=False)

    class Meta:
        model = Problem
        fields = PROBLEM_FIELDS
        widgets = {
            "description": textarea(5),
            "target_date": DATE,
            "services": forms.SelectMultiple(attrs={"size": 4}),
            "customers": forms.SelectMultiple(attrs={"size": 4}),
        }

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        self.fields["owner"].queryset = problem_owners()
        self.fields["assignment_team"].queryset = Team.objects.all()
        self.fields["category"].queryset = incident_categories()
        self.fields["services"].queryset = restrict(
            Service.objects.exclude(status=ServiceStatus.RETIRED), user
        )
        self.fields["customers"].queryset = restrict(Customer.objects.filter(active=True), user)
        self.fields["customers"].help_text = _(
            "Leave empty for a problem of the provider's own (seen by all staff)."
        )
        if self.instance.pk:
            self.fields["version"].initial = self.instance.version
            self.fields["version"].required = True
            self.fields["priority"].initial = self.instance.priority
            # Customers the user cannot see stay on the problem; show only theirs.
            self.initial["customers"] = [
                c.pk for c in self.fields["customers"].queryset.filter(problems=self.instance)
            ]
        order = [*PROBLEM_FIELDS]
        order.insert(order.index("priority") + 1, "priority_reason")
        self.order_fields(order)

    def _post_clean(self):
        # Model validation runs in the action, once the priority is applied.
        pass


class ProblemEditForm(ProblemForm):
    class Meta(ProblemForm.Meta):
        fields = [*PROBLEM_FIELDS, "target_date"]


INCIDENT_TOKEN = re.compile(r"[\s,;]+")


def parse_incident_refs(values):
    """Tokens (ids or numbers) from ?incidents=1,2&incidents=3 or a typed list."""
    out = []
    for value in values:
        out += [t for t in INCIDENT_TOKEN.split(str(value).strip()) if t]
    return list(dict.fromkeys(out))


def resolve_incidents(user, refs):
    """(incidents the user may see, in the order given; the references that name
    none the user may see). A reference is an incident number or an id."""
    qs = restrict(Incident.objects.all(), user).select_related("customer", "service", "category")
    numbers = [r.upper() for r in refs if not r.isdigit()]
    ids = [key_of(r) for r in refs if key_of(r) is not None]
    found = {}
    if numbers:
        for incident in qs.filter(number__in=numbers):
            found[incident.number] = incident
    if ids:
        for incident in qs.filter(pk__in=ids):
            found[str(incident.pk)] = incident
    incidents, missing = [], []
    for ref in refs:
        incident = found.get(ref.upper()) or found.get(ref)
        if incident is None:
            missing.append(ref)
        elif incident not in incidents:
            incidents.append(incident)
    return incidents, missing


def no_incident_message(missing):
    return _("You have no incident %(refs)s.") % {"refs": ", ".join(m[:30] for m in missing)}


class ProblemCreateForm(ProblemForm):
    incidents = forms.CharField(
        label=_("Incidents to link"),
        required=False,
        max_length=5000,
        help_text=_("Incident numbers, separated by commas (INC0000123, INC0000456)."),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.linked = []
        self.order_fields(["incidents", *self.fields])

    def clean_incidents(self):
        refs = parse_incident_refs([self.cleaned_data.get("incidents", "")])
        if len(refs) > MAX_INCIDENTS:
            raise ValidationError(_("Link at most %(n)s incidents at once.") % {"n": MAX_INCIDENTS})
        incidents, missing = resolve_incidents(self.user, refs)
        self.linked = incidents
        if missing:
            raise ValidationError(no_incident_message(missing))
        return incidents


class TransitionForm(forms.Form):
    """One lifecycle step with the fields it records (see STEP_FIELDS)."""

    version = forms.IntegerField(widget=forms.HiddenInput)
    name = forms.CharField(widget=forms.HiddenInput, max_length=30)
    root_cause = forms.CharField(
        label=_("Root cause"), required=False, max_length=20000, widget=textarea(3)
    )
    workaround = forms.CharField(
        label=_("Workaround"),
        required=False,
        max_length=20000,
        widget=textarea(4),
        help_text=_("The steps, in Markdown: numbered lists, **bold**, `code`, links."),
    )
    fix_change = forms.CharField(
        label=_("Fixing change"),
        required=False,
        max_length=50,
        help_text=_("The reference of the change that removes the cause."),
    )
    fix_description = forms.CharField(
        label=_("Fix"), required=False, max_length=10000, widget=textarea(3)
    )
    risk_reason = forms.CharField(
        label=_("Why the risk is accepted"), required=False, max_length=10000, widget=textarea(3)
    )
    risk_approver = forms.ModelChoiceField(
        label=_("Approved by"),
        required=False,
        queryset=User.objects.none(),
        help_text=_("An administrator, a team manager or a service owner."),
    )
    note = forms.CharField(label=_("Note"), required=False, max_length=2000, widget=textarea(2))

    STEP_FIELDS = {
        "investigate": [],
        "root_cause": ["root_cause", "note"],
        "known_error": ["root_cause", "workaround", "note"],
        "resolve": ["root_cause", "fix_change", "fix_description", "note"],
        "reopen": ["note"],
        "close": [],
        "accept_risk": ["risk_reason", "risk_approver", "note"],
        "cancel": ["note"],
    }
    # Steps whose note is their reason (required by the action).
    REASONED = ("reopen", "cancel")

    def __init__(self, *args, step, problem=None, **kwargs):
        kwargs.setdefault("auto_id", f"tr-{step}-%s")
        super().__init__(*args, **kwargs)
        self.step = step
        keep = {"version", "name", *self.STEP_FIELDS.get(step, [])}
        for name in list(self.fields):
            if name not in keep:
                del self.fields[name]
        if "risk_approver" in self.fields:
            self.fields["risk_approver"].queryset = risk_approvers()
        if "note" in self.fields and step in self.REASONED:
            self.fields["note"].label = _("Reason")
        if problem is not None and not self.is_bound:
            self.initial.update(
                {
                    "version": problem.version,
                    "name": step,
                    "root_cause": problem.root_cause,
                    "workaround": problem.workaround,
                    "fix_change": problem.fix_change,
                    "fix_description": problem.fix_description,
                    "risk_reason": problem.risk_reason,
                    "risk_approver": problem.risk_approver_id,
                }
            )

    def step_fields(self):
        """What the step records, for the action (blank values are left out)."""
        data = self.cleaned_data
        out = {name: data[name] for name in self.fields if name not in ("version", "name", "note")}
        return {k: v for k, v in out.items() if v not in (None, "") or k == "risk_approver"}


class VersionForm(forms.Form):
    version = forms.IntegerField(widget=forms.HiddenInput)
    note = forms.CharField(label=_("Note"), required=False, max_length=2000)


class AnalysisForm(forms.ModelForm):
    """The analysis written as text: symptoms, method, root cause, workaround."""

    version = forms.IntegerField(widget=forms.HiddenInput)

    class Meta:
        model = Problem
        fields = ["symptoms", "rca_method", "root_cause", "workaround"]
        widgets = {
            "symptoms": textarea(3),
            "root_cause": textarea(3),
            "workaround": textarea(4),
        }

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("auto_id", "analysis-%s")
        super().__init__(*args, **kwargs)
        if self.instance.pk and not self.is_bound:
            self.initial["version"] = self.instance.version

    def _post_clean(self):
        pass


class TimelineForm(forms.ModelForm):
    at = forms.DateTimeField(label=_("When"), widget=DATETIME)

    class Meta:
        model = TimelineEntry
        fields = ["at", "description"]

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("auto_id", "timeline-%s")
        super().__init__(*args, **kwargs)

    def _post_clean(self):
        pass


class FactorForm(forms.ModelForm):
    kind = forms.ChoiceField(label=_("Kind"), choices=FactorKind.choices)

    class Meta:
        model = ContributingFactor
        fields = ["kind", "description"]

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("auto_id", "factor-%s")
        super().__init__(*args, **kwargs)

    def _post_clean(self):
        pass


class StepForm(forms.ModelForm):
    class Meta:
        model = AnalysisStep
        fields = ["question", "answer"]
        widgets = {"answer": textarea(2)}

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("auto_id", "step-%s")
        super().__init__(*args, **kwargs)
        self.fields["question"].initial = _("Why?")

    def _post_clean(self):
        pass


ROW_FORMS = {"timeline": TimelineForm, "factor": FactorForm, "step": StepForm}


class LinkIncidentsForm(forms.Form):
    incidents = forms.CharField(
        label=_("Link incidents"),
        max_length=5000,
        help_text=_("Incident numbers, separated by commas."),
    )

    def __init__(self, *args, user=None, **kwargs):
        kwargs.setdefault("auto_id", "link-%s")
        super().__init__(*args, **kwargs)
        self.user = user

    def clean_incidents(self):
        refs = parse_incident_refs([self.cleaned_data["incidents"]])
        if not refs:
            raise ValidationError(_("Give the number of an incident."))
        if len(refs) > MAX_INCIDENTS:
            raise ValidationError(_("Link at most %(n)s incidents at once.") % {"n": MAX_INCIDENTS})
        incidents, missing = resolve_incidents(self.user, refs)
        if missing:
            raise ValidationError(no_incident_message(missing))
        return incidents


class ReviewForm(forms.Form):
    summary = forms.CharField(label=_("Summary"), max_length=10000, widget=textarea(3))
    went_well = forms.CharField(
        label=_("What went well"), required=False, max_length=10000, widget=textarea(3)
    )
    went_badly = forms.CharField(
        label=_("What did not go well"), required=False, max_length=10000, widget=textarea(3)
    )
    complete = forms.BooleanField(
        label=_("Mark the review complete (it can then no longer change)"), required=False
    )

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("auto_id", "review-%s")
        super().__init__(*args, **kwargs)


class ReviewActionForm(forms.Form):
    description = forms.CharField(label=_("Prevention action"), max_length=500)
    owner = forms.ModelChoiceField(label=_("Owner"), queryset=User.objects.none())
    due = forms.DateField(label=_("Due"), widget=DATE)

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("auto_id", "review-action-%s")
        super().__init__(*args, **kwargs)
        self.fields["owner"].queryset = problem_owners()


class ActionDoneForm(forms.Form):
    action = forms.IntegerField(widget=forms.HiddenInput, min_value=1, max_value=2**63 - 1)
    note = forms.CharField(label=_("How it was done"), required=False, max_length=1000)


class ProblemNumberForm(forms.Form):
    """Link an incident to an existing problem, from the incident's page."""

    number = forms.CharField(label=_("Problem number"), max_length=20)
