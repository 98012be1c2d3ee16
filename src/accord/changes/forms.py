"""Forms of the change pages: raise and edit a change (its CIs, and the problems and
incidents it fixes, named by number), the lifecycle steps with what each records, the
risk questionnaire, decisions, accepting conflicts, the review, and board meetings.

References typed by people (CI names, record numbers) are resolved here, within what
the user may see; every rule of the process is left to ``actions``."""

import re

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from accord.catalogue.choices import ServiceStatus
from accord.catalogue.models import Service
from accord.core.forms import key_of
from accord.core.policy import WRITING_STAFF, restrict
from accord.incidents.models import Incident
from accord.organizations.models import Customer
from accord.problems.models import Problem
from accord.users.models import Team, User

from .choices import Decision, Kind, Outcome
from .models import BoardMeeting, Change, ChangeTemplate, RiskQuestion

DATETIME = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")
MAX_REFERENCES = 200
MAX_CIS = 500
CHANGE_FIELDS = [
    "short_description",
    "description",
    "reason",
    "emergency_reason",
    "implementation_plan",
    "backout_plan",
    "test_plan",
    "planned_start",
    "planned_end",
    "assignment_team",
    "assignee",
    "services",
    "customers",
]
# Fields laid out across the whole form's width.
WIDE = ("short_description", "description", "reason", "emergency_reason", "cis")


def textarea(rows):
    return forms.Textarea(attrs={"rows": rows})


def implementers():
    return User.objects.filter(is_active=True, role__in=WRITING_STAFF).order_by("username")


# --- references typed by people -------------------------------------------------------------
REFERENCE_TOKEN = re.compile(r"[\s,;]+")


def split_references(text):
    """Record numbers or ids from a typed list (commas, spaces or new lines)."""
    return list(dict.fromkeys(t for t in REFERENCE_TOKEN.split(str(text or "").strip()) if t))


def _as_key(ref):
    return key_of(ref)


def resolve_records(model, user, refs):
    """(records the user may see, in the order asked; references naming none of them).
    A reference is a number (PRB0000012) or an id."""
    qs = restrict(model.objects.all(), user)
    numbers = [r.upper() for r in refs if _as_key(r) is None]
    ids = [k for k in (_as_key(r) for r in refs) if k is not None]
    found = {}
    if numbers:
        found.update({r.number: r for r in qs.filter(number__in=numbers)})
    if ids:
        found.update({str(r.pk): r for r in qs.filter(pk__in=ids)})
    records, missing = [], []
    for ref in refs:
        record = found.get(ref.upper()) or found.get(ref)
        if record is None:
            missing.append(ref[:30])
        elif record not in records:
            records.append(record)
    return records, missing


def no_record_message(model, missing):
    noun = model._meta.verbose_name
    return _("You have no %(noun)s %(refs)s.") % {"noun": noun, "refs": ", ".join(missing)}


CI_SEPARATOR = re.compile(r"[\n,;]+")


def split_ci_names(text):
    return list(dict.fromkeys(t.strip() for t in CI_SEPARATOR.split(text or "") if t.strip()))


def resolve_cis(user, text):
    """The CIs named (by name or id, one per line or separated by commas) that the user
    may see; ValidationError naming the ones not found or ambiguous."""
    from accord.cmdb.models import ConfigurationItem

    names = split_ci_names(text)
    if len(names) > MAX_CIS:
        raise ValidationError(_("Name at most %(n)s configuration items.") % {"n": MAX_CIS})
    if not names:
        return []
    qs = restrict(ConfigurationItem.objects.all(), user)
    ids = [k for k in (_as_key(n) for n in names) if k is not None]
    by_id = {str(ci.pk): ci for ci in qs.filter(pk__in=ids)} if ids else {}
    by_name = {}
    for ci in qs.filter(name__in=[n[:200] for n in names]):
        by_name.setdefault(ci.name, []).append(ci)
    out, missing, ambiguous = [], [], []
    for name in names:
        found = by_name.get(name, [])
        if len(found) > 1:
            ambiguous.append(name[:100])
            continue
        ci = found[0] if found else by_id.get(name)
        if ci is None:
            missing.append(name[:100])
        elif ci not in out:
            out.append(ci)
    errors = []
    if missing:
        errors.append(_("No configuration item %(names)s.") % {"names": ", ".join(missing)})
    if ambiguous:
        errors.append(
            _("Several CIs are called %(names)s: give the id.") % {"names": ", ".join(ambiguous)}
        )
    if errors:
        raise ValidationError(errors)
    return out


# --- raise and edit ---------------------------------------------------------------------------
class ChangeForm(forms.ModelForm):
    """Raise or edit a change. Choices are limited to what the user may see."""

    cis = forms.CharField(
        label=_("Configuration items"),
        required=False,
        max_length=20000,
        widget=textarea(2),
        help_text=_("Their names or ids, one per line or separated by commas."),
    )
    version = forms.IntegerField(widget=forms.HiddenInput, required=False)

    class Meta:
        model = Change
        fields = CHANGE_FIELDS
        widgets = {
            "description": textarea(3),
            "reason": textarea(2),
            "emergency_reason": textarea(2),
            "implementation_plan": textarea(4),
            "backout_plan": textarea(3),
            "test_plan": textarea(3),
            "planned_start": DATETIME,
            "planned_end": DATETIME,
            "services": forms.SelectMultiple(attrs={"size": 4}),
            "customers": forms.SelectMultiple(attrs={"size": 4}),
        }

    def __init__(self, *args, user, kind=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        self.kind = kind or self.instance.kind
        self.fields["assignment_team"].queryset = Team.objects.all()
        self.fields["assignee"].queryset = implementers()
        self.fields["services"].queryset = restrict(
            Service.objects.exclude(status=ServiceStatus.RETIRED), user
        )
        self.fields["customers"].queryset = restrict(Customer.objects.filter(active=True), user)
        self.fields["customers"].help_text = _(
            "Leave empty for a change of the provider's own (seen by all staff)."
        )
        for name in ("planned_start", "planned_end"):
            self.fields[name].help_text = _("In your time zone.")
        if self.kind == Kind.EMERGENCY:
            self.fields["emergency_reason"].required = True
            self.fields["emergency_reason"].help_text = _(
                "Why it cannot wait for the normal approval."
            )
        else:
            del self.fields["emergency_reason"]
        if self.instance.pk:
            self.fields["version"].initial = self.instance.version
            self.fields["version"].required = True
            # Customers the user cannot see stay on the change; show only theirs.
            self.initial["customers"] = [
                c.pk for c in self.fields["customers"].queryset.filter(changes=self.instance)
            ]

    def clean_cis(self):
        return resolve_cis(self.user, self.cleaned_data.get("cis", ""))

    def _post_clean(self):
        # Model validation runs in the action, with the template's plans applied.
        pass

    def values(self):
        """(the change's own fields, the related lists) for the action."""
        data = dict(self.cleaned_data)
        extra = {}
        for name in ("services", "customers", "cis", "problems", "incidents", "version"):
            extra[name] = data.pop(name, None)
        return data, extra


class ChangeCreateForm(ChangeForm):
    kind = forms.ChoiceField(label=_("Kind"), choices=Kind.choices, widget=forms.HiddenInput)
    template = forms.ModelChoiceField(
        label=_("Standard change"), queryset=ChangeTemplate.objects.none(), required=False
    )
    problems = forms.CharField(
        label=_("Problems it fixes"),
        required=False,
        max_length=5000,
        help_text=_("Problem numbers, separated by commas (PRB0000012)."),
    )
    incidents = forms.CharField(
        label=_("Incidents it fixes"),
        required=False,
        max_length=5000,
        help_text=_("Incident numbers, separated by commas (INC0000123)."),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["kind"].initial = self.kind
        if self.kind == Kind.STANDARD:
            self.fields["template"].queryset = ChangeTemplate.objects.filter(active=True)
            self.fields["template"].required = True
            self.fields["template"].help_text = _(
                "Its plans are filled in from the template; leave them as they are or adjust."
            )
            for name in ("implementation_plan", "backout_plan", "test_plan"):
                self.fields[name].help_text = _("From the template when left empty.")
        else:
            del self.fields["template"]
        self.order_fields(["kind", "template", *CHANGE_FIELDS, "cis", "problems", "incidents"])

    def clean_problems(self):
        return self._records(Problem, "problems")

    def clean_incidents(self):
        return self._records(Incident, "incidents")

    def _records(self, model, name):
        refs = split_references(self.cleaned_data.get(name, ""))
        if len(refs) > MAX_REFERENCES:
            raise ValidationError(_("Name at most %(n)s at once.") % {"n": MAX_REFERENCES})
        records, missing = resolve_records(model, self.user, refs)
        if missing:
            raise ValidationError(no_record_message(model, missing))
        return records


# --- the record page ------------------------------------------------------------------------
class TransitionForm(forms.Form):
    """One lifecycle step with the fields it records (see STEP_FIELDS)."""

    version = forms.IntegerField(widget=forms.HiddenInput, min_value=1, max_value=2**31)
    name = forms.CharField(widget=forms.HiddenInput, max_length=30)
    outcome = forms.ChoiceField(
        label=_("Outcome"),
        choices=[("", "—"), *Outcome.choices],
        required=False,
    )
    outcome_notes = forms.CharField(
        label=_("What happened"),
        required=False,
        max_length=10000,
        widget=textarea(3),
        help_text=_("Needed when it failed or was backed out."),
    )
    note = forms.CharField(label=_("Reason"), required=False, max_length=2000, widget=textarea(2))

    STEP_FIELDS = {
        "submit": [],
        "assess": [],
        "request_approval": [],
        "schedule": [],
        "start": [],
        "finish": ["outcome", "outcome_notes"],
        "begin_review": [],
        "close": [],
        "cancel": ["note"],
    }

    def __init__(self, *args, step, change=None, **kwargs):
        kwargs.setdefault("auto_id", f"tr-{step}-%s")
        super().__init__(*args, **kwargs)
        keep = {"version", "name", *self.STEP_FIELDS.get(step, [])}
        for name in list(self.fields):
            if name not in keep:
                del self.fields[name]
        if "outcome" in self.fields:
            self.fields["outcome"].required = True
        if "note" in self.fields:
            self.fields["note"].required = True
        if change is not None and not self.is_bound:
            self.initial.update({"version": change.version, "name": step})

    def step_values(self):
        data = self.cleaned_data
        return {
            "note": data.get("note", ""),
            "outcome": data.get("outcome", ""),
            "notes": data.get("outcome_notes", ""),
        }


class RiskForm(forms.Form):
    """The risk questionnaire: one answer per active question (fields ``q<id>``, the
    names the action's refusals use)."""

    def __init__(self, *args, change=None, questions=None, **kwargs):
        kwargs.setdefault("auto_id", "risk-%s")
        super().__init__(*args, **kwargs)
        if questions is None:
            questions = RiskQuestion.objects.filter(active=True).prefetch_related("options")
        chosen = {}
        if change is not None and change.pk:
            chosen = dict(change.risk_answers.values_list("question_id", "option_id"))
        for question in questions:
            self.fields[f"q{question.pk}"] = forms.ChoiceField(
                label=question.text,
                choices=[(str(o.pk), o.label) for o in question.options.all()],
                widget=forms.RadioSelect(attrs={"class": "form-check-input"}),
                initial=str(chosen[question.pk]) if question.pk in chosen else None,
            )

    def answers(self):
        return {int(name[1:]): value for name, value in self.cleaned_data.items()}


class DecisionForm(forms.Form):
    decision = forms.ChoiceField(
        label=_("Decision"),
        choices=[(Decision.APPROVE, _("Approve")), (Decision.REJECT, _("Reject"))],
        widget=forms.RadioSelect(attrs={"class": "form-check-input"}),
    )
    comment = forms.CharField(
        label=_("Comment"),
        required=False,
        max_length=5000,
        widget=textarea(2),
        help_text=_("Needed to reject."),
    )
    conflict_override = forms.CharField(
        label=_("Why the conflicts are acceptable"),
        required=False,
        max_length=5000,
        widget=textarea(2),
        help_text=_("The schedule has conflicts: approving accepts them, with this reason."),
    )

    def __init__(self, *args, conflicts=False, **kwargs):
        kwargs.setdefault("auto_id", "decide-%s")
        super().__init__(*args, **kwargs)
        if not conflicts:
            del self.fields["conflict_override"]


class OverrideForm(forms.Form):
    conflict_override = forms.CharField(
        label=_("Why the conflicts are acceptable"), max_length=5000, widget=textarea(2)
    )

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("auto_id", "override-%s")
        super().__init__(*args, **kwargs)


class ReviewForm(forms.Form):
    version = forms.IntegerField(widget=forms.HiddenInput, min_value=1, max_value=2**31)
    review_notes = forms.CharField(
        label=_("Post-implementation review"),
        max_length=20000,
        widget=textarea(4),
        help_text=_("What went as planned, what did not, and what to do differently."),
    )

    def __init__(self, *args, change=None, **kwargs):
        kwargs.setdefault("auto_id", "review-%s")
        super().__init__(*args, **kwargs)
        if change is not None and not self.is_bound:
            self.initial.update({"version": change.version, "review_notes": change.review_notes})


class AddCIForm(forms.Form):
    ci = forms.CharField(label=_("Add a configuration item"), max_length=200)

    def __init__(self, *args, user=None, **kwargs):
        kwargs.setdefault("auto_id", "add-ci-%s")
        super().__init__(*args, **kwargs)
        self.user = user

    def clean_ci(self):
        found = resolve_cis(self.user, self.cleaned_data["ci"].strip())
        if len(found) != 1:
            raise ValidationError(_("Name one configuration item."))
        return found[0]


class NoteForm(forms.Form):
    body = forms.CharField(
        label=_("Add a work note"),
        max_length=20000,
        widget=textarea(3),
        help_text=_("Staff only: it goes in the change's history."),
    )

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("auto_id", "note-%s")
        super().__init__(*args, **kwargs)


class FixForm(forms.Form):
    """Further problems and incidents the change fixes, by number."""

    problems = forms.CharField(
        label=_("Problems it also fixes"),
        required=False,
        max_length=5000,
        help_text=_("Problem numbers, separated by commas (PRB0000012)."),
    )
    incidents = forms.CharField(
        label=_("Incidents it also fixes"),
        required=False,
        max_length=5000,
        help_text=_("Incident numbers, separated by commas (INC0000123)."),
    )

    def __init__(self, *args, user=None, **kwargs):
        kwargs.setdefault("auto_id", "fix-%s")
        super().__init__(*args, **kwargs)
        self.user = user

    def clean_problems(self):
        return self._records(Problem, "problems")

    def clean_incidents(self):
        return self._records(Incident, "incidents")

    def _records(self, model, name):
        refs = split_references(self.cleaned_data.get(name, ""))
        if len(refs) > MAX_REFERENCES:
            raise ValidationError(_("Name at most %(n)s at once.") % {"n": MAX_REFERENCES})
        records, missing = resolve_records(model, self.user, refs)
        if missing:
            raise ValidationError(
                _("No such %(noun)s: %(refs)s.")
                % {"noun": model._meta.verbose_name, "refs": ", ".join(missing)}
            )
        return records

    def clean(self):
        data = super().clean()
        if not self.errors and not data.get("problems") and not data.get("incidents"):
            raise ValidationError(_("Name a problem or an incident it fixes."))
        return data


# --- boards -------------------------------------------------------------------------------
class MeetingForm(forms.ModelForm):
    starts_at = forms.DateTimeField(label=_("Starts"), widget=DATETIME)

    class Meta:
        model = BoardMeeting
        fields = ["starts_at", "location"]

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("auto_id", "meeting-%s")
        super().__init__(*args, **kwargs)
        self.fields["starts_at"].help_text = _("In your time zone.")


class MinutesForm(forms.Form):
    version = forms.IntegerField(widget=forms.HiddenInput, min_value=1, max_value=2**31)
    minutes = forms.CharField(
        label=_("Minutes"), required=False, max_length=20000, widget=textarea(6)
    )

    def __init__(self, *args, meeting=None, **kwargs):
        kwargs.setdefault("auto_id", "minutes-%s")
        super().__init__(*args, **kwargs)
        if meeting is not None and not self.is_bound:
            self.initial.update({"version": meeting.version, "minutes": meeting.minutes})


class AgendaForm(forms.Form):
    change = forms.CharField(
        label=_("Add a change awaiting approval"),
        max_length=30,
        help_text=_("Its number (CHG0000012)."),
    )

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("auto_id", "agenda-%s")
        super().__init__(*args, **kwargs)
