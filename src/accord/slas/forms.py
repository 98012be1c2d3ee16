"""The agreement form: the agreement's fields, its targets as a grid (priority ×
response/resolution, in hours and minutes of business time) and its escalation rules."""

import re

from django import forms
from django.forms import inlineformset_factory
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accord.core.forms import RecordForm
from accord.incidents.choices import Priority, Status

from .choices import AgreementStatus, Metric
from .models import Agreement, EscalationRule

_DURATION = re.compile(r"^\s*(?:(\d+)\s*h)?\s*(?:(\d+)\s*m(?:in)?)?\s*$", re.IGNORECASE)
_HHMM = re.compile(r"^\s*(\d+):(\d{2})\s*$")


def parse_duration(text):
    """'4h', '1h 30m', '90m', '1:30' or a number of hours -> seconds; ValueError."""
    text = (text or "").strip()
    if not text:
        return None
    if m := _HHMM.match(text):
        return (int(m.group(1)) * 60 + int(m.group(2))) * 60
    try:
        return int(round(float(text.replace(",", ".")) * 3600))
    except ValueError:
        pass
    m = _DURATION.match(text)
    if not m or not (m.group(1) or m.group(2)):
        raise ValueError(_("write a duration such as 4h, 1h 30m, 90m or 1:30"))
    return (int(m.group(1) or 0) * 60 + int(m.group(2) or 0)) * 60


def format_duration(seconds):
    if not seconds:
        return ""
    minutes = seconds // 60
    h, m = divmod(minutes, 60)
    return f"{h}h {m}m" if h and m else (f"{h}h" if h else f"{m}m")


def target_field_name(metric, priority):
    return f"target_{metric}_{priority}"


class AgreementForm(RecordForm):
    pause_statuses = forms.MultipleChoiceField(
        label=gettext_lazy("Statuses that pause the clock"),
        choices=[
            (s.value, s.label) for s in Status if s not in ("resolved", "closed", "cancelled")
        ],
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    warning_percents = forms.CharField(
        label=gettext_lazy("Warn at (% of target)"),
        initial="75, 90",
        required=False,
        help_text=gettext_lazy("Whole percentages from 1 to 99, separated by commas."),
    )

    class Meta:
        model = Agreement
        fields = [
            "kind",
            "name",
            "description",
            "customer",
            "services",
            "team",
            "supplier",
            "supports",
            "calendar",
            "status",
            "valid_from",
            "valid_to",
            "review_date",
            "response_event",
        ]
        widgets = {
            "valid_from": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
            "valid_to": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
            "review_date": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        from accord.core.policy import restrict

        if self.user is not None:
            self.fields["customer"].queryset = restrict(self.fields["customer"].queryset, self.user)
        supports = Agreement.objects.filter(kind="sla")
        if self.instance.pk:
            supports = supports.exclude(pk=self.instance.pk)
        self.fields["supports"].queryset = supports
        self.fields["pause_statuses"].initial = self.instance.pause_statuses
        self.fields["warning_percents"].initial = ", ".join(
            str(p) for p in self.instance.warning_percents or []
        )
        existing = {}
        if self.instance.pk:
            existing = {(t.metric, t.priority): t.seconds for t in self.instance.targets.all()}
        self.target_names = []
        for metric in Metric:
            row = []
            for priority in Priority:
                name = target_field_name(metric.value, priority.value)
                self.fields[name] = forms.CharField(
                    label=f"{metric.label} P{priority.value}",
                    required=False,
                    max_length=20,
                    initial=format_duration(existing.get((metric.value, priority.value))),
                )
                row.append(name)
            self.target_names.append((metric.label, row))

    def target_rows(self):
        return [(label, [self[name] for name in names]) for label, names in self.target_names]

    def clean_warning_percents(self):
        text = self.cleaned_data.get("warning_percents", "")
        values = []
        for part in filter(None, (p.strip() for p in text.split(","))):
            if not part.isdigit() or not 1 <= int(part) <= 99:
                raise forms.ValidationError(
                    _("%(part)s is not a whole percentage from 1 to 99.") % {"part": part}
                )
            values.append(int(part))
        return sorted(set(values))

    def clean(self):
        data = super().clean()
        self.targets = {}
        for metric in Metric:
            for priority in Priority:
                name = target_field_name(metric.value, priority.value)
                try:
                    seconds = parse_duration(data.get(name))
                except ValueError as exc:
                    self.add_error(name, str(exc))
                    continue
                if seconds is not None:
                    if seconds < 60:
                        self.add_error(name, _("A target is at least one minute."))
                        continue
                    self.targets[(metric.value, priority.value)] = seconds
        if not self.targets and not any(n.startswith("target_") for n in self.errors):
            self.add_error(
                None,
                _("Give at least one target: a response or resolution time for a priority."),
            )
        if data.get("status") == AgreementStatus.AGREED and not self.targets:
            self.add_error("status", _("An agreement without targets cannot be agreed."))
        self.instance.pause_statuses = data.get("pause_statuses") or []
        self.instance.warning_percents = data.get("warning_percents") or []
        return data


EscalationFormSet = inlineformset_factory(
    Agreement,
    EscalationRule,
    fields=["at_percent", "metric", "action", "team"],
    extra=2,
    can_delete=True,
)
