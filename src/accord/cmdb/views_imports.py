"""Pages of CSV imports and exports: the list of runs, the upload form, a run's
progress and errors, and the CI and relationship exports."""

from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views import View

from accord.core.pagination import paginate
from accord.core.policy import can
from accord.core.views import StaffOnlyMixin

from .forms_imports import ImportForm
from .imports import may_import, may_see_runs, progress, start_import, visible_runs
from .imports_cis import ATTR_PREFIX, CI_COLUMNS
from .imports_export import BadFilter, export_cis, export_relationships
from .imports_relationships import REL_COLUMNS
from .models import ConfigurationItem

PAGE = 50


def _check_runs(user):
    if not may_see_runs(user):
        raise PermissionDenied


class ImportListView(StaffOnlyMixin, LoginRequiredMixin, View):
    def get(self, request):
        _check_runs(request.user)
        runs, next_cursor, prev_cursor = paginate(
            visible_runs(request.user), "created", True, request.GET.get("cursor"), PAGE
        )
        return render(
            request,
            "cmdb/import_list.html",
            {
                "title": _("CSV import and export"),
                "runs": runs,
                "next_cursor": next_cursor,
                "prev_cursor": prev_cursor,
                "can_import": may_import(request.user),
            },
        )


class ImportCreateView(StaffOnlyMixin, LoginRequiredMixin, View):
    def _render(self, request, form, status=200):
        return render(
            request,
            "cmdb/import_form.html",
            {
                "title": _("New import"),
                "form": form,
                "ci_columns": CI_COLUMNS,
                "attr_prefix": ATTR_PREFIX,
                "rel_columns": REL_COLUMNS,
            },
            status=status,
        )

    def get(self, request):
        if not may_import(request.user):
            raise PermissionDenied
        return self._render(request, ImportForm())

    def post(self, request):
        if not may_import(request.user):
            raise PermissionDenied
        form = ImportForm(request.POST, request.FILES)
        if not form.is_valid():
            return self._render(request, form, status=400)
        data = form.cleaned_data
        run = start_import(request.user, data["file"], data["kind"], data["key_column"])
        return redirect("cmdb:import_detail", pk=run.pk)


class ImportDetailView(StaffOnlyMixin, LoginRequiredMixin, View):
    def get(self, request, pk):
        _check_runs(request.user)
        run = visible_runs(request.user).filter(pk=pk).first()
        if run is None:
            raise Http404
        processed, total = progress(run)
        context = {
            "title": _("Import of %(file)s") % {"file": run.filename},
            "run": run,
            "processed": processed,
            "total": total,
            "percent": round(100 * processed / total) if total else 0,
            "working": run.status in ("queued", "running"),
            "refresh_url": reverse("cmdb:import_detail", args=[run.pk]),
        }
        template = (
            "cmdb/import_status.html"
            if request.headers.get("HX-Request")
            else "cmdb/import_detail.html"
        )
        return render(request, template, context)


class _ExportView(LoginRequiredMixin, View):
    export = None

    def get(self, request):
        if not can(request.user, "view", ConfigurationItem):
            raise PermissionDenied
        try:
            return type(self).export(request)
        except BadFilter as exc:
            lines = [f"{name}: {' '.join(errors)}" for name, errors in exc.errors.items()]
            return HttpResponseBadRequest("\n".join(lines), content_type="text/plain")


class CIExportView(_ExportView):
    export = staticmethod(export_cis)


class RelationshipExportView(_ExportView):
    export = staticmethod(export_relationships)
