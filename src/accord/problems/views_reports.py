"""The problem management reports page: five tables over what the user may see, each
also as CSV (``?export=<report>``); ``?months=`` sets how many months the monthly
ones cover. Staff only."""

from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views import View

from accord.core.exports import stream_csv
from accord.core.policy import can
from accord.core.views import StaffOnlyMixin

from . import reports
from .models import Problem


class ReportsView(StaffOnlyMixin, LoginRequiredMixin, View):
    def get(self, request):
        user = request.user
        if not can(user, "view", Problem):
            raise PermissionDenied
        raw_months = request.GET.get("months", "")
        export = request.GET.get("export")
        try:
            months = reports.check_months(raw_months)
        except ValidationError as exc:
            return self.refused(request, exc.message_dict["months"][0], raw_months)
        if export:
            build = reports.REPORTS.get(export)
            if build is None:
                return self.refused(
                    request, _("Export: there is no report “%(name)s”.") % {"name": export[:50]}
                )
            table = build(user, months)
            return stream_csv(f"problems-{table.key}.csv", table.columns, table.csv_rows)
        return render(
            request,
            "problems/report_list.html",
            {
                "title": _("Problem management reports"),
                "tables": reports.all_reports(user, months),
                "months": months,
                "max_months": reports.MAX_MONTHS,
            },
        )

    def refused(self, request, message, months=""):
        return render(
            request,
            "problems/report_list.html",
            {
                "title": _("Problem management reports"),
                "tables": [],
                "error": message,
                "months": months[:10],
                "max_months": reports.MAX_MONTHS,
            },
            status=400,
        )
