"""Forms of the known error database: the record's form, the list's filters and the
question the suggestions answer (what an incident is about)."""

import re

import django_filters as filters
from django import forms
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from accord.catalogue.models import Service
from accord.cmdb.models import CILink, ConfigurationItem
from accord.core import search
from accord.core.forms import RecordForm
from accord.core.policy import restrict, visible_choices
from accord.organizations.models import Customer

from .choices import KnownErrorStatus
from .models import KnownError, Problem

KNOWN_ERROR_FIELDS = [
    "short_description",
    "symptoms",
    "root_cause",
    "workaround",
    "status",
    "problem",
    "services",
    "customers",
]
MAX_CIS = 50
MAX_ID = 2**63 - 1
_SPLIT = re.compile(r"[\n,;]+")


def _is_id(value):
    return value.isascii() and value.isdigit() and len(value) < 19


def find_ci(user, value):
    """The CI a user means by a name or an id, among those they may see; a
    ValidationError that names the value otherwise."""
    value = value.strip()
    qs = restrict(ConfigurationItem.objects.all(), user)
    found = list(qs.filter(pk=int(value)) if _is_id(value) else qs.filter(name=value)[:2])
    if not found:
        raise ValidationError(_("No configuration item “%(v)s”.") % {"v": value[:100]})
    if len(found) > 1:
        raise ValidationError(
            _("Several CIs are called “%(v)s”: give its id.") % {"v": value[:100]}
        )
    return found[0]


class KnownErrorForm(RecordForm):
    """A known error as staff write it. Services, customers and CIs the user cannot
    see stay on the record whatever the form says (see ``*_to_keep``)."""

    problem = forms.CharField(
        label=_("Problem"),
        required=False,
        max_length=20,
        help_text=_("The problem's number, e.g. PRB0000012 (optional)."),
    )
    cis = forms.CharField(
        label=_("Configuration items"),
        required=False,
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("Names or ids, one per line or separated by commas."),
    )

    class Meta:
        model = KnownError
        fields = KNOWN_ERROR_FIELDS
        widgets = {
            "symptoms": forms.Textarea(attrs={"rows": 4}),
            "root_cause": forms.Textarea(attrs={"rows": 3}),
            "workaround": forms.Textarea(attrs={"rows": 8}),
            "services": forms.SelectMultiple(attrs={"size": 6}),
            "customers": forms.SelectMultiple(attrs={"size": 4}),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        user = self.user
        self.fields["services"].queryset = restrict(Service.objects.all(), user)
        self.fields["customers"].queryset = restrict(Customer.objects.all(), user)
        self.fields["customers"].help_text = _(
            "None: every team may use it. Otherwise only the teams serving these customers."
        )
        self.hidden_problem = None
        if self.instance.pk:
            if self.instance.problem_id:
                visible = restrict(Problem.objects.filter(pk=self.instance.problem_id), user)
                number = visible.values_list("number", flat=True).first()
                self.fields["problem"].initial = number
                if number is None:
                    # A problem the user cannot see stays linked; they see no number.
                    self.hidden_problem = self.instance.problem
            self.fields["cis"].initial = "\n".join(c.name for c in self.visible_cis())

    # --- what the user sees of the record's links ------------------------------
    def linked_ci_ids(self):
        if self.instance.pk is None:
            return []
        return list(
            CILink.objects.filter(
                content_type=ContentType.objects.get_for_model(KnownError),
                object_id=self.instance.pk,
            ).values_list("ci_id", flat=True)
        )

    def visible_cis(self):
        ids = self.linked_ci_ids()
        if not ids:
            return []
        return list(
            restrict(ConfigurationItem.objects.filter(pk__in=ids), self.user).order_by("name")
        )

    def customers_to_keep(self):
        if self.instance.pk is None:
            return []
        visible = set(self.fields["customers"].queryset.values_list("pk", flat=True))
        return [c for c in self.instance.customers.all() if c.pk not in visible]

    def services_to_keep(self):
        if self.instance.pk is None:
            return []
        visible = set(self.fields["services"].queryset.values_list("pk", flat=True))
        return [s for s in self.instance.services.all() if s.pk not in visible]

    # --- fields ---------------------------------------------------------------
    def clean_problem(self):
        value = (self.cleaned_data.get("problem") or "").strip().upper()
        if not value:
            return self.hidden_problem
        found = restrict(Problem.objects.filter(number=value), self.user).first()
        if found is None:
            raise ValidationError(_("No problem %(n)s.") % {"n": value[:20]})
        return found

    def clean_cis(self):
        names = [v.strip() for v in _SPLIT.split(self.cleaned_data.get("cis") or "") if v.strip()]
        if len(names) > MAX_CIS:
            raise ValidationError(_("Name at most %(n)s configuration items.") % {"n": MAX_CIS})
        found, errors = {}, []
        for name in names:
            try:
                ci = find_ci(self.user, name)
            except ValidationError as exc:
                errors.extend(exc.messages)
                continue
            found[ci.pk] = ci
        if errors:
            raise ValidationError(errors)
        return list(found.values())

    def _post_clean(self):
        # The model's validation runs in actions.save_known_error; here the form's
        # fields are only copied onto the instance.
        from django.forms.models import construct_instance

        self.instance = construct_instance(self, self.instance, self._meta.fields)


class KnownErrorFilterForm(forms.Form):
    """The filters' form: a CI is named by name or id, among those the user may see."""

    user = None

    def clean_ci(self):
        value = (self.cleaned_data.get("ci") or "").strip()
        return find_ci(self.user, value) if value else None


class KnownErrorFilterSet(filters.FilterSet):
    """The known error list's filters: words, service, CI, status."""

    q = filters.CharFilter(label=_("Words"), method="filter_words")
    service = filters.ModelChoiceFilter(
        label=_("Service"), field_name="services", queryset=visible_choices(Service)
    )
    ci = filters.CharFilter(label=_("Configuration item"), method="filter_ci")
    status = filters.MultipleChoiceFilter(
        label=_("Status"), choices=KnownErrorStatus.choices, distinct=False
    )

    class Meta:
        model = KnownError
        fields = ["q", "service", "ci", "status"]
        form = KnownErrorFilterForm

    @property
    def form(self):
        form = super().form
        form.user = self.request.user if self.request else None
        return form

    def filter_words(self, queryset, name, value):
        ids = search.matching_object_ids(KnownError, value)
        return queryset if ids is None else queryset.filter(pk__in=ids)

    def filter_ci(self, queryset, name, value):
        if not value:
            return queryset
        linked = CILink.objects.filter(
            ci=value, content_type=ContentType.objects.get_for_model(KnownError)
        ).values("object_id")
        return queryset.filter(pk__in=linked)


class SuggestionQueryForm(forms.Form):
    """What the suggestions are asked for: an incident, or the fields of one being
    logged (service, CIs, words)."""

    incident = forms.IntegerField(
        label=_("Incident"), required=False, min_value=1, max_value=MAX_ID
    )
    service = forms.IntegerField(label=_("Service"), required=False, min_value=1, max_value=MAX_ID)
    ci = forms.CharField(label=_("Configuration items"), required=False, max_length=2000)
    short_description = forms.CharField(
        label=_("Short description"), required=False, max_length=500
    )
    description = forms.CharField(label=_("Description"), required=False, max_length=20000)

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user

    def clean_ci(self):
        """The CIs named (ids or names), as a subquery of those the user may see; a
        name still being typed matches nothing, which narrows nothing."""
        names = [v.strip() for v in _SPLIT.split(self.cleaned_data.get("ci") or "") if v.strip()]
        if len(names) > MAX_CIS:
            raise ValidationError(_("Name at most %(n)s configuration items.") % {"n": MAX_CIS})
        if not names:
            return []
        ids = [int(n) for n in names if _is_id(n)]
        return (
            restrict(ConfigurationItem.objects.all(), self.user)
            .filter(Q(pk__in=ids) | Q(name__in=names))
            .values("pk")
        )
