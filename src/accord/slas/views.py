"""Agreement pages, the clock panel of a record, the calendar page's SLA section and
the SLA compliance report."""

import datetime

from django.contrib.auth.mixins import LoginRequiredMixin
from django.db import transaction
from django.db.models import Count, Q
from django.http import Http404
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views import View

from accord.catalogue.models import Service
from accord.core import history
from accord.core.exports import stream_csv
from accord.core.policy import can, restrict, scope_for
from accord.core.views import RecordEditView, RecordListView, StaffOnlyMixin
from accord.incidents.choices import Status
from accord.organizations.models import Customer

from . import clocks
from .choices import ClockState, Metric
from .filters import AgreementFilterSet
from .forms import AgreementForm, EscalationFormSet, format_duration
from .models import Agreement, Clock, Recalculation
from .tables import AgreementTable


class AgreementListView(RecordListView):
    model = Agreement
    table_class = AgreementTable
    filterset_class = AgreementFilterSet
    list_name = "agreements"
    title = "Agreements"
    create_url_name = "slas:agreement_create"


class AgreementDetailView(LoginRequiredMixin, View):
    def get(self, request, pk):
        agreement = (
            restrict(Agreement.objects.select_related("customer", "calendar", "team"), request.user)
            .filter(pk=pk)
            .first()
        )
        if agreement is None:
            raise Http404
        targets = {(t.metric, t.priority): t.seconds for t in agreement.targets.all()}
        grid = [
            (m.label, [format_duration(targets.get((m.value, p))) or "—" for p in range(1, 6)])
            for m in Metric
        ]
        scope = scope_for(request.user)
        return render(
            request,
            "slas/agreement_detail.html",
            {
                "agreement": agreement,
                "grid": grid,
                "services": restrict(agreement.services.all(), request.user),
                "supports": restrict(agreement.supports.all(), request.user),
                "supported_by": restrict(agreement.supported_by.all(), request.user),
                "escalations": agreement.escalations.select_related("team"),
                "pauses": [
                    str(Status(s).label) for s in agreement.pause_statuses if s in Status.values
                ],
                "can_change": can(request.user, "change", Agreement),
                "is_customer": scope.is_customer,
                "timeline": _history(agreement) if not scope.is_customer else [],
            },
        )


def _history(agreement):
    rows = list(history.for_record(Agreement, agreement.pk))
    return history.describe(Agreement, rows)


class AgreementEditView(RecordEditView):
    """The record edit page, with the targets grid and the escalation rules."""

    model = Agreement
    form_class = AgreementForm
    list_url_name = "slas:agreement_list"
    template_name = "slas/agreement_form.html"
    formset = None

    def render_form(self, form, status=200):
        obj = form.instance if form.instance.pk else None
        return render(
            self.request,
            self.template_name,
            {
                "form": form,
                "formset": self.formset or EscalationFormSet(instance=obj),
                "title": _("Edit %(name)s") % {"name": obj} if obj else _("New agreement"),
                "cancel_url": obj.get_absolute_url() if obj else reverse(self.list_url_name),
            },
            status=status,
        )

    def post(self, request, pk=None):
        obj = self.get_object(pk)
        self.check(obj)
        form = AgreementForm(request.POST, instance=obj, user=request.user)
        self.formset = EscalationFormSet(request.POST, instance=obj or Agreement())
        if not form.is_valid() or not self.formset.is_valid():
            return self.render_form(form, status=400)
        version = form.cleaned_data.get("version")

        def save():
            with transaction.atomic():
                before = history.m2m_snapshot(obj, ["services", "supports"])
                before_targets = _targets_of(obj)
                calendar_before = obj.calendar_id if obj else None
                instance = form.save(commit=False)
                instance.save(expected_version=version if obj else None)
                form.save_m2m()
                _write_targets(instance, form.targets)
                self.formset.instance = instance
                self.formset.save()
                if obj is not None:
                    history.record_m2m(instance, before)
                    after_targets = _targets_of(instance)
                    if after_targets != before_targets:
                        history.record(
                            instance, "update", {"targets": [before_targets, after_targets]}
                        )
                    if after_targets != before_targets or calendar_before != instance.calendar_id:
                        _retarget_clocks(Agreement.objects.get(pk=instance.pk))
                return instance

        return self.run_action(form, save)


def _targets_of(agreement):
    if agreement is None or agreement.pk is None:
        return {}
    return {
        f"{t.metric} P{t.priority}": format_duration(t.seconds) for t in agreement.targets.all()
    }


def _write_targets(agreement, targets):
    existing = {(t.metric, t.priority): t for t in agreement.targets.all()}
    for key, t in existing.items():
        if key not in targets:
            t.delete()
    for (metric, priority), seconds in targets.items():
        t = existing.get((metric, priority))
        if t is None:
            agreement.targets.create(metric=metric, priority=priority, seconds=seconds)
        elif t.seconds != seconds:
            t.seconds = seconds
            t.save(update_fields=["seconds"])
    agreement._prefetched_objects_cache = {}


def _retarget_clocks(agreement):
    """Live clocks of the agreement take its new targets (time spent is kept)."""
    now = timezone.now()
    live = list(
        Clock.objects.filter(agreement=agreement, state__in=clocks.LIVE).select_related(
            "agreement", "calendar"
        )
    )
    changed = []
    for clock in live:
        target = agreement.target_for(clock.priority, clock.metric)
        if target is None:
            clocks.cancel(clock, now, _("The agreement no longer has this target."))
            changed.append(clock)
        elif target.seconds != clock.target_seconds or clock.calendar_id != agreement.calendar_id:
            clocks.retarget(
                clock,
                agreement,
                target.seconds,
                now,
                _("Agreement changed: target %(t)s on %(c)s")
                % {"t": format_duration(target.seconds), "c": agreement.calendar},
            )
            changed.append(clock)
    clocks._save(changed)
    if changed:
        from accord.slas.tasks import _refresh_due

        _refresh_due({(c.content_type_id, c.object_id) for c in changed})


# --- panels -------------------------------------------------------------------------------
EVENT_LABELS = {
    "started": _("started"),
    "paused": _("paused"),
    "resumed": _("resumed"),
    "met": _("met"),
    "stopped late": _("stopped after the deadline"),
    "breached": _("breached"),
    "warning": _("warning"),
    "target changed": _("target changed"),
    "calendar changed": _("calendar changed"),
    "cancelled": _("cancelled"),
}


def clock_view(clock, now):
    used = clocks.spent(clock, now)
    percent = int(used * 100 / clock.target_seconds) if clock.target_seconds else 0
    steps = [
        {
            "at": datetime.datetime.fromisoformat(step["at"]) if step.get("at") else None,
            "event": EVENT_LABELS.get(step["event"], step["event"]),
            "note": step.get("note", ""),
            "deadline": datetime.datetime.fromisoformat(step["deadline"])
            if step.get("deadline")
            else None,
        }
        for step in clock.timeline
    ]
    overdue = clock.state == ClockState.RUNNING and clock.deadline and clock.deadline < now
    return {
        "clock": clock,
        "used": format_duration(used) or "0m",
        "target": format_duration(clock.target_seconds),
        "percent": percent,
        "overdue": overdue or clock.breached_at is not None,
        "steps": steps,
    }


def clock_panel(record, user):
    scope = scope_for(user)
    if scope is None:
        return None
    record_clocks = list(clocks.clocks_of(record))
    if scope.is_customer:
        record_clocks = [c for c in record_clocks if c.agreement.kind == "sla"]
    now = timezone.now()
    return {
        "template": "slas/_clock_panel.html",
        "clocks": [clock_view(c, now) for c in record_clocks],
        "no_agreement": not record_clocks,
    }


def calendar_panel(calendar, user):
    run = Recalculation.objects.filter(calendar=calendar).first()
    agreements = restrict(calendar.agreements.all(), user)
    return {
        "template": "slas/_calendar_panel.html",
        "run": run,
        "agreements": agreements,
        "live_clocks": Clock.objects.filter(calendar=calendar, state__in=clocks.LIVE).count(),
    }


# --- compliance ---------------------------------------------------------------------------
GROUPS = {
    "agreement": ("agreement_id", Agreement, _("Agreement")),
    "customer": ("customer_id", Customer, _("Customer")),
    "service": ("service_id", Service, _("Service")),
}


def _month(text):
    today = timezone.localdate()
    try:
        year, month = (int(x) for x in (text or "").split("-"))
        first = datetime.date(year, month, 1)
    except ValueError:
        first = today.replace(day=1)
    nxt = (first + datetime.timedelta(days=32)).replace(day=1)
    return first, nxt


class ComplianceView(LoginRequiredMixin, StaffOnlyMixin, View):
    def get(self, request):
        first, nxt = _month(request.GET.get("month"))
        group = request.GET.get("by") if request.GET.get("by") in GROUPS else "agreement"
        metric = request.GET.get("metric") if request.GET.get("metric") in Metric.values else ""
        tz = timezone.get_current_timezone()
        start = datetime.datetime.combine(first, datetime.time(), tz)
        end = datetime.datetime.combine(nxt, datetime.time(), tz)
        qs = (
            restrict(Clock.objects.all(), request.user)
            .filter(started_at__gte=start, started_at__lt=end)
            .exclude(state=ClockState.CANCELLED)
        )
        if metric:
            qs = qs.filter(metric=metric)
        column, model, label = GROUPS[group]
        rows = list(
            qs.values(column)
            .annotate(
                met=Count("id", filter=Q(met=True)),
                breached=Count("id", filter=Q(breached_at__isnull=False)),
                running=Count("id", filter=Q(state__in=clocks.LIVE, breached_at__isnull=True)),
            )
            .order_by(column)
        )
        names = {
            o.pk: str(o) for o in model._default_manager.filter(pk__in=[r[column] for r in rows])
        }
        table = []
        for r in rows:
            decided = r["met"] + r["breached"]
            table.append(
                {
                    "name": names.get(r[column], _("(none)")),
                    "met": r["met"],
                    "breached": r["breached"],
                    "running": r["running"],
                    "percent": round(100 * r["met"] / decided, 1) if decided else None,
                }
            )
        table.sort(key=lambda r: r["name"])
        if request.GET.get("export") == "csv":
            return stream_csv(
                f"sla-compliance-{first:%Y-%m}-{group}.csv",
                [str(label), _("Met"), _("Breached"), _("In progress"), _("% met")],
                ([r["name"], r["met"], r["breached"], r["running"], r["percent"]] for r in table),
            )
        now = timezone.now()
        worst = []
        for clock in qs.filter(breached_at__isnull=False).select_related("agreement", "calendar")[
            :500
        ]:
            over = clocks.spent(clock, now) - clock.target_seconds
            worst.append((over, clock))
        worst.sort(key=lambda p: -p[0])
        months = []
        day = timezone.localdate().replace(day=1)
        for _i in range(12):
            months.append(day)
            day = (day - datetime.timedelta(days=1)).replace(day=1)
        return render(
            request,
            "slas/compliance.html",
            {
                "first": first,
                "group": group,
                "group_label": label,
                "metric": metric,
                "table": table,
                "totals": {
                    "met": sum(r["met"] for r in table),
                    "breached": sum(r["breached"] for r in table),
                    "running": sum(r["running"] for r in table),
                },
                "worst": [
                    {"clock": c, "over": format_duration(max(o, 0)) or "0m", "url": _record_url(c)}
                    for o, c in worst[:10]
                ],
                "months": months,
                "groups": [(k, v[2]) for k, v in GROUPS.items()],
                "metrics": Metric.choices,
            },
        )


def _record_url(clock):
    model = clock.content_type.model_class()
    name = getattr(model, "detail_url_name", None)
    return reverse(name, args=[clock.object_id]) if name else ""
