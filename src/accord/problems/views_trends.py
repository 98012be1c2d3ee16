"""Pages of trend analysis: the latest run's clusters as the user may see them, a
form to start a run (queued for the worker; its progress shown while it works), a
cluster's incidents, and raising a problem from a cluster in one click. Staff only."""

from django import forms
from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views import View

from accord.core.policy import restrict
from accord.core.views import StaffOnlyMixin
from accord.incidents.models import Incident

from . import clusters, trends
from .choices import ClusterKind
from .models import TrendRun

PAGE = 50
INCIDENT_PAGE = 100


WINDOW_ERROR = gettext_lazy("Window (days): enter a whole number of days from 1 to 3650.")
MIN_COUNT_ERROR = gettext_lazy(
    "Smallest cluster: enter a whole number of incidents from 2 to 1000."
)


def _errors(message):
    return {key: message for key in ("required", "invalid", "min_value", "max_value")}


class TrendRunForm(forms.Form):
    """A run's settings; a refusal names the field (trends.check_settings has the same
    limits, for runs started any other way)."""

    window_days = forms.IntegerField(
        label=gettext_lazy("Window (days)"),
        initial=trends.DEFAULT_WINDOW_DAYS,
        min_value=1,
        max_value=trends.MAX_WINDOW_DAYS,
        error_messages=_errors(WINDOW_ERROR),
        help_text=gettext_lazy("Incidents logged in this many days up to now."),
    )
    min_count = forms.IntegerField(
        label=gettext_lazy("Smallest cluster"),
        initial=trends.DEFAULT_MIN_COUNT,
        min_value=trends.MIN_COUNT_RANGE[0],
        max_value=trends.MIN_COUNT_RANGE[1],
        error_messages=_errors(MIN_COUNT_ERROR),
        help_text=gettext_lazy("Fewer incidents than this are not a trend."),
    )


def _problem_url(problem):
    """The problem's page (None while problem pages are not there)."""
    try:
        return problem.get_absolute_url()
    except NoReverseMatch:
        return None


def _kind(request):
    kind = request.GET.get("kind") or ""
    return kind if kind in ClusterKind.values else ""


def _status_context(run):
    return {
        "current": run,
        "scanned": trends.progress(run) if run else 0,
        "working": run is not None and run.state in (TrendRun.State.QUEUED, TrendRun.State.RUNNING),
        "status_url": reverse("problems:trend_status", args=[run.pk]) if run else "",
    }


class TrendView(StaffOnlyMixin, LoginRequiredMixin, View):
    def get(self, request):
        return self.page(request, TrendRunForm())

    def page(self, request, form, status=200):
        user = request.user
        if not trends.may_view(user):
            raise PermissionDenied
        run_id = request.GET.get("run")
        run = clusters.latest_run(user, int(run_id) if run_id and run_id.isdigit() else None)
        if run_id and run is None:
            raise Http404
        kind = _kind(request)
        set_aside = request.GET.get("view") == "dismissed"
        seen = clusters.visible_clusters(run, user, kind or None, dismissed=set_aside)
        dismissed_count = (
            len(seen)
            if set_aside
            else len(clusters.visible_clusters(run, user, kind or None, dismissed=True))
        )
        page = Paginator(seen, PAGE).get_page(request.GET.get("page"))
        clusters.own_dates(page.object_list)
        for view in page.object_list:
            view.problem_url = _problem_url(view.problem) if view.problem else None
        current = restrict(TrendRun.objects.all(), user).order_by("-created", "-id").first()
        recent = restrict(TrendRun.objects.all(), user).select_related("requested_by")[:10]
        context = {
            "title": _("Trend analysis"),
            "form": form,
            "run": run,
            "page": page,
            "kind": kind,
            "kinds": ClusterKind.choices,
            "total": len(seen),
            "set_aside": set_aside,
            "dismissed_count": dismissed_count,
            "can_dismiss": clusters.may_dismiss(user),
            "recent": recent,
            "can_start": trends.may_start(user),
            "member_cap": trends.MEMBER_CAP,
            "top_per_kind": trends.TOP_PER_KIND,
            "top_per_customer": trends.TOP_PER_CUSTOMER,
            **_status_context(current),
        }
        return render(request, "problems/trend_list.html", context, status=status)


class TrendStartView(StaffOnlyMixin, LoginRequiredMixin, View):
    def post(self, request):
        if not trends.may_start(request.user):
            raise PermissionDenied
        form = TrendRunForm(request.POST)
        if not form.is_valid():
            return TrendView().page(request, form, status=400)
        try:
            trends.start_run(
                request.user,
                window_days=form.cleaned_data["window_days"],
                min_count=form.cleaned_data["min_count"],
            )
        except ValidationError as exc:
            for name, errors in exc.message_dict.items():
                form.add_error(None if name == "__all__" else name, errors)
            return TrendView().page(request, form, status=400)
        messages.success(request, _("Trend run queued: the worker analyses it now."))
        return redirect("problems:trends")


class TrendStatusView(StaffOnlyMixin, LoginRequiredMixin, View):
    """The state of a run, polled by the page while it works; once it has finished the
    page reloads to show its clusters."""

    def get(self, request, pk):
        if not trends.may_view(request.user):
            raise PermissionDenied
        run = restrict(TrendRun.objects.filter(pk=pk), request.user).first()
        if run is None:
            raise Http404
        context = _status_context(run)
        if request.headers.get("HX-Request") and not context["working"]:
            response = HttpResponse(status=200)
            response["HX-Refresh"] = "true"
            return response
        return render(request, "problems/trend_status.html", context)


class DismissForm(forms.Form):
    reason = forms.CharField(
        label=gettext_lazy("Why it is set aside"),
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=gettext_lazy("E.g. expected demand, or covered by a change already planned."),
        error_messages={"required": gettext_lazy("Say why this trend is set aside.")},
    )
    until = forms.DateField(
        label=gettext_lazy("Show it again from"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text=gettext_lazy("Leave empty to set it aside until someone restores it."),
    )


class TrendClusterView(StaffOnlyMixin, LoginRequiredMixin, View):
    """A cluster's incidents that the user may see."""

    def get(self, request, pk, dismiss_form=None, status=200):
        view = clusters.cluster_for(request.user, pk)
        if view is None or not trends.may_view(request.user):
            raise Http404
        page = Paginator(view.incident_ids, INCIDENT_PAGE).get_page(request.GET.get("page"))
        found = {
            i.pk: i
            for i in restrict(
                Incident.objects.filter(pk__in=list(page.object_list)), request.user
            ).select_related("customer", "service", "category")
        }
        incidents = [found[pk] for pk in page.object_list if pk in found]
        return render(
            request,
            "problems/trend_cluster.html",
            {
                "title": view.cluster.label,
                "view": view,
                "cluster": view.cluster,
                "run": view.cluster.run,
                "page": page,
                "incidents": incidents,
                "gone": len(page.object_list) - len(incidents),
                "can_start": trends.may_start(request.user),
                "problem_url": _problem_url(view.problem) if view.problem else None,
                "member_cap": trends.MEMBER_CAP,
                "can_dismiss": clusters.may_dismiss(request.user),
                "dismiss_form": dismiss_form or DismissForm(),
            },
            status=status,
        )


class TrendRaiseView(StaffOnlyMixin, LoginRequiredMixin, View):
    def post(self, request, pk):
        if not trends.may_start(request.user):
            raise PermissionDenied
        back = request.POST.get("back") or ""
        fallback = reverse("problems:trends")
        target = back if back.startswith("/problems/trends/") else fallback
        try:
            problem, linked, skipped = clusters.raise_problem(request.user, pk)
        except ValidationError as exc:
            for errors in exc.message_dict.values():
                for error in errors:
                    messages.error(request, error)
            return redirect(target)
        text = _("Problem %(number)s raised with %(n)s incidents linked.") % {
            "number": problem.number,
            "n": linked,
        }
        if skipped:
            text += " " + _(
                "%(n)s incidents of the cluster were left out: linked to a problem since, "
                "or no longer there."
            ) % {"n": skipped}
        messages.success(request, text)
        return redirect(_problem_url(problem) or target)


class TrendDismissView(StaffOnlyMixin, LoginRequiredMixin, View):
    """Set a cluster's trend aside, with the reason; later runs list it apart."""

    def post(self, request, pk):
        if not clusters.may_dismiss(request.user):
            raise PermissionDenied
        form = DismissForm(request.POST)
        if form.is_valid():
            try:
                dismissal = clusters.dismiss(
                    request.user,
                    pk,
                    reason=form.cleaned_data["reason"],
                    until=form.cleaned_data["until"],
                )
            except ValidationError as exc:
                if "cluster" in exc.message_dict:
                    raise Http404 from None
                for field, errors in exc.message_dict.items():
                    for error in errors:
                        form.add_error(field if field in form.fields else None, error)
            else:
                messages.success(
                    request,
                    _("Trend “%(label)s” set aside: its clusters are listed apart.")
                    % {"label": dismissal.label},
                )
                return redirect(reverse("problems:trends"))
        return TrendClusterView().get(request, pk, dismiss_form=form, status=400)


class TrendRestoreView(StaffOnlyMixin, LoginRequiredMixin, View):
    """Bring a trend set aside back among the others."""

    def post(self, request, pk):
        if not clusters.may_dismiss(request.user):
            raise PermissionDenied
        try:
            clusters.restore(request.user, pk)
        except ValidationError:
            raise Http404 from None
        # Not named: its label may name a CI of a customer the user does not serve.
        messages.success(request, _("Trend restored: its clusters are listed again."))
        return redirect(reverse("problems:trends") + "?view=dismissed")
