"""Audit pages: the runs, loading a discovered dataset, a run's four groups (matched
and unchanged, matched and different, missing, unknown) and its decisions, and the
page where an auditor decides on one item."""

from django import forms
from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import FieldDoesNotExist, PermissionDenied, ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy
from django.utils.translation import ngettext
from django.views import View

from accord.core.pagination import paginate
from accord.core.policy import can, restrict
from accord.core.records import StaleRecordError
from accord.core.views import StaffOnlyMixin
from accord.organizations.models import Customer

from . import audits
from .audit_data import MAX_BYTES, DatasetError, read_dataset
from .choices import AuditDecision, AuditOutcome, CIStatus, RunStatus
from .models import AuditItem, CIType, ConfigurationItem

PAGE = 50
GROUPS = [
    (AuditOutcome.DIFFERENT, _lazy("Different")),
    (AuditOutcome.UNKNOWN, _lazy("Unknown")),
    (AuditOutcome.MISSING, _lazy("Missing")),
    (AuditOutcome.UNCHANGED, _lazy("Unchanged")),
]
DECISIONS = "decisions"
MATCHED_BY = {
    "external_key": _lazy("external key"),
    "serial": _lazy("serial number"),
    "name": _lazy("name"),
}


# --- forms --------------------------------------------------------------------------------
class AuditRunForm(forms.Form):
    name = forms.CharField(label=_lazy("Name"), max_length=150)
    file = forms.FileField(
        label=_lazy("Discovered dataset"),
        help_text=_lazy(
            "A CSV file with the CI CSV's columns (name, type, status, serial, asset_tag, "
            "external_key, … and attr:<key> for attributes), or a GLPI-Agent inventory "
            "in JSON (one, or a list of them). An empty cell means “not discovered”."
        ),
    )
    format = forms.ChoiceField(
        label=_lazy("Format"),
        choices=[
            ("auto", _lazy("Recognise from the content")),
            ("csv", _lazy("CSV")),
            ("glpi", _lazy("GLPI-Agent inventory (JSON)")),
        ],
        initial="auto",
    )
    location = forms.ModelChoiceField(
        label=_lazy("Only at location"),
        queryset=ConfigurationItem.objects.none(),
        required=False,
        help_text=_lazy("Missing CIs are looked for at this location (and within it) only."),
    )
    customer = forms.ModelChoiceField(
        label=_lazy("Only for customer"),
        queryset=Customer.objects.none(),
        required=False,
        help_text=_lazy("Missing CIs are looked for among this customer's CIs only."),
    )

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["location"].queryset = restrict(
            ConfigurationItem.objects.filter(ci_type__is_location=True), user
        )
        self.fields["customer"].queryset = restrict(Customer.objects.all(), user)

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > MAX_BYTES:
            raise forms.ValidationError(
                _("The file is larger than %(mb)s MB.") % {"mb": MAX_BYTES // (1024 * 1024)}
            )
        return upload


class DecisionForm(forms.Form):
    decision = forms.ChoiceField(label=_lazy("Decision"), widget=forms.RadioSelect)
    reason = forms.CharField(
        label=_lazy("Reason"),
        required=False,
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_lazy("Required to reject; kept with the decision."),
    )
    ci_type = forms.ModelChoiceField(
        label=_lazy("Type of the new CI"), queryset=CIType.objects.all(), required=False
    )
    status = forms.ChoiceField(label=_lazy("Status of the new CI"), choices=CIStatus.choices)
    customer = forms.ModelChoiceField(
        label=_lazy("Customer of the new CI"),
        queryset=Customer.objects.none(),
        required=False,
        help_text=_lazy("Empty: a shared CI (the provider's own infrastructure)."),
    )

    LABELS = {
        AuditDecision.ACCEPTED: _lazy("Accept: update the CI with the discovered values"),
        AuditDecision.REJECTED: _lazy("Reject: keep the record as it is"),
        AuditDecision.CREATED: _lazy("Create the CI from the discovered values"),
    }

    def __init__(self, *args, item, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.item = item
        self.fields["decision"].choices = [
            (d.value, self.LABELS[d]) for d in audits.choices_for(item)
        ]
        if item.outcome == AuditOutcome.UNKNOWN:
            record = item.discovered or {}
            known = CIType.objects.filter(key=record.get("type") or "").first()
            if known is not None:
                del self.fields["ci_type"]
            self.fields["status"].initial = record.get("fields", {}).get("status") or CIStatus.LIVE
            customers = restrict(Customer.objects.all(), user)
            self.fields["customer"].queryset = customers
            scope_customer = ((item.run.counts or {}).get("scope") or {}).get("customer")
            if scope_customer and customers.filter(pk=scope_customer).exists():
                self.fields["customer"].initial = scope_customer
        else:
            for name in ("ci_type", "status", "customer"):
                del self.fields[name]


# --- pages --------------------------------------------------------------------------------
class AuditListView(StaffOnlyMixin, LoginRequiredMixin, View):
    def get(self, request):
        runs, next_cursor, prev_cursor = paginate(
            audits.visible_runs(request.user).select_related("created_by"),
            "created",
            True,
            request.GET.get("cursor"),
            PAGE,
        )
        counts = audits.counts_for(request.user, runs)
        return render(
            request,
            "cmdb/audit_list.html",
            {
                "rows": [(run, counts[run.pk]) for run in runs],
                "next_url": f"?cursor={next_cursor}" if next_cursor else None,
                "prev_url": f"?cursor={prev_cursor}" if prev_cursor else None,
                "can_create": can(request.user, "audit", ConfigurationItem),
                "groups": GROUPS,
            },
        )


class AuditCreateView(StaffOnlyMixin, LoginRequiredMixin, View):
    def check(self, request):
        if not can(request.user, "audit", ConfigurationItem):
            raise PermissionDenied

    def render_form(self, form, status=200):
        return render(
            self.request,
            "cmdb/audit_form.html",
            {"form": form, "title": _("New audit run")},
            status=status,
        )

    def get(self, request):
        self.check(request)
        return self.render_form(AuditRunForm(user=request.user))

    def post(self, request):
        self.check(request)
        form = AuditRunForm(request.POST, request.FILES, user=request.user)
        if not form.is_valid():
            return self.render_form(form, status=400)
        data = form.cleaned_data
        try:
            source, records = read_dataset(data["file"], data["format"])
        except DatasetError as exc:
            for message in exc.messages:
                form.add_error("file", message)
            return self.render_form(form, status=400)
        run = audits.start_run(
            request.user,
            name=data["name"],
            filename=data["file"].name,
            source=source,
            records=records,
            location=data["location"],
            customer=data["customer"],
        )
        n = len(records)
        if run.status == RunStatus.DONE:
            text = ngettext(
                "%(n)s discovered item compared with the CMDB.",
                "%(n)s discovered items compared with the CMDB.",
                n,
            )
        else:
            text = ngettext(
                "%(n)s discovered item is being compared with the CMDB.",
                "%(n)s discovered items are being compared with the CMDB.",
                n,
            )
        messages.success(request, text % {"n": n})
        return redirect("cmdb:audit_detail", run.pk)


def _scope_words(run, user):
    """The run's scope as the user may read it: types, location, customer."""
    scope = (run.counts or {}).get("scope") or {}
    types = list(CIType.objects.filter(key__in=scope.get("types") or []).order_by("name"))
    location = customer = None
    if scope.get("location"):
        location = restrict(ConfigurationItem.objects.all(), user).filter(
            pk=scope["location"]
        ).first() or _("a location you do not see")
    if scope.get("customer"):
        customer = restrict(Customer.objects.all(), user).filter(pk=scope["customer"]).first() or _(
            "a customer you do not serve"
        )
    return {"types": types, "location": location, "customer": customer}


class AuditDetailView(StaffOnlyMixin, LoginRequiredMixin, View):
    def get(self, request, pk):
        user = request.user
        run = get_object_or_404(audits.visible_runs(user).select_related("created_by"), pk=pk)
        if request.GET.get("fragment") == "status":
            if run.status in (RunStatus.DONE, RunStatus.FAILED):
                response = HttpResponse(status=204)
                response["HX-Refresh"] = "true"
                return response
            return render(request, "cmdb/_audit_status.html", {"run": run})
        counts = audits.counts_for(user, [run])[run.pk]
        visible = audits.visible_items(user, run.items.all())
        decided_count = visible.exclude(decision=AuditDecision.PENDING).count()
        group = request.GET.get("group")
        if group not in {*AuditOutcome.values, DECISIONS}:
            group = next((g for g, _label in GROUPS if counts[g]), AuditOutcome.DIFFERENT)
        if group == DECISIONS:
            items = visible.exclude(decision=AuditDecision.PENDING)
        else:
            items = visible.filter(outcome=group)
        rows, next_cursor, prev_cursor = paginate(
            items.select_related("ci", "ci__ci_type", "decided_by"),
            "id",
            False,
            request.GET.get("cursor"),
            PAGE,
        )
        labels = audits.Labeller(rows)
        can_decide = can(user, "audit", ConfigurationItem) and run.status == RunStatus.DONE
        entries = [
            {
                "item": item,
                "name": item.ci.name if item.ci else (item.discovered or {}).get("name", ""),
                "matched_by": MATCHED_BY.get(item.matched_by, item.matched_by),
                "type": labels.type_of(item),
                "differences": labels.rows(item) if item.differences else [],
                "discovered": labels.discovered_rows(item) if item.discovered else [],
                "can_decide": can_decide
                and item.decision == AuditDecision.PENDING
                and bool(audits.choices_for(item)),
            }
            for item in rows
        ]

        def page_url(cursor):
            return f"?group={group}&cursor={cursor}" if cursor else None

        return render(
            request,
            "cmdb/audit_detail.html",
            {
                "run": run,
                "counts": counts,
                "decided_count": decided_count,
                "groups": [(g, label, counts[g]) for g, label in GROUPS],
                "group": group,
                "decisions_group": DECISIONS,
                "entries": entries,
                "next_url": page_url(next_cursor),
                "prev_url": page_url(prev_cursor),
                "scope": _scope_words(run, user),
                "can_decide": can_decide,
                "sees_unrecorded": audits.sees_unrecorded(user),
            },
        )


class AuditDecideView(StaffOnlyMixin, LoginRequiredMixin, View):
    def get_item(self, request, pk, item_pk):
        if not can(request.user, "audit", ConfigurationItem):
            raise PermissionDenied
        run = get_object_or_404(audits.visible_runs(request.user), pk=pk)
        item = (
            audits.visible_items(request.user, AuditItem.objects.filter(run=run))
            .select_related("run", "ci", "ci__ci_type", "decided_by")
            .filter(pk=item_pk)
            .first()
        )
        if item is None:
            raise Http404
        return item

    def render_page(self, request, item, form, status=200):
        labels = audits.Labeller([item])
        return render(
            request,
            "cmdb/audit_decide.html",
            {
                "run": item.run,
                "item": item,
                "matched_by": MATCHED_BY.get(item.matched_by, item.matched_by),
                "type": labels.type_of(item),
                "differences": labels.rows(item) if item.differences else [],
                "discovered": labels.discovered_rows(item) if item.discovered else [],
                "form": form,
                "back_url": reverse("cmdb:audit_detail", args=[item.run_id])
                + f"?group={item.outcome}",
            },
            status=status,
        )

    def get(self, request, pk, item_pk):
        item = self.get_item(request, pk, item_pk)
        form = None
        if item.decision == AuditDecision.PENDING and audits.choices_for(item):
            form = DecisionForm(item=item, user=request.user)
        return self.render_page(request, item, form)

    def post(self, request, pk, item_pk):
        item = self.get_item(request, pk, item_pk)
        if not audits.choices_for(item):
            raise Http404
        form = DecisionForm(request.POST, item=item, user=request.user)
        if item.decision != AuditDecision.PENDING:
            form.is_valid()
            form.add_error(
                None,
                _("This item was already decided (%(decision)s by %(user)s).")
                % {
                    "decision": item.get_decision_display().lower(),
                    "user": item.decided_by or _("someone"),
                },
            )
            return self.render_page(request, item, form, status=409)
        if not form.is_valid():
            return self.render_page(request, item, form, status=400)
        data = form.cleaned_data
        try:
            audits.decide(
                request.user,
                item,
                data["decision"],
                data.get("reason", ""),
                ci_type=data.get("ci_type"),
                status=data.get("status"),
                customer=data.get("customer"),
            )
        except StaleRecordError:
            form.add_error(
                None,
                _(
                    "The CI was changed by someone else meanwhile; nothing was saved. "
                    "Look at it again, then decide."
                ),
            )
            return self.render_page(request, item, form, status=409)
        except ValidationError as exc:
            _apply_errors(form, exc)
            return self.render_page(request, item, form, status=400)
        messages.success(
            request,
            _("%(name)s: %(decision)s.")
            % {
                "name": (item.discovered or {}).get("name") or item.ci,
                "decision": item.get_decision_display().lower(),
            },
        )
        return redirect(reverse("cmdb:audit_detail", args=[pk]) + f"?group={item.outcome}")


def _field_name(field):
    try:
        return str(ConfigurationItem._meta.get_field(field).verbose_name).capitalize()
    except FieldDoesNotExist:
        return field


def _apply_errors(form, exc):
    if hasattr(exc, "error_dict"):
        for field, errors in exc.error_dict.items():
            target = field if field in form.fields else None
            for error in errors:
                for message in error.messages:
                    label = ""
                    if target is None and field != "__all__":
                        label = f"{_field_name(field)}: "
                    form.add_error(target, f"{label}{message}")
    else:
        for message in exc.messages:
            form.add_error(None, message)
