"""Pages of baselines and of configuration status accounting: the list of baselines,
taking one, a baseline's items, comparing it with today or with another baseline;
the status accounting report and the report of unauthorised changes. Staff only;
each list, count and export within the user's scope."""

from django import forms
from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views import View

from accord.core.exports import stream_csv
from accord.core.pagination import paginate
from accord.core.policy import can, restrict, scope_for
from accord.core.tables import Column, Table
from accord.core.views import RecordListView, StaffOnlyMixin, capped_count
from accord.users.models import Team

from . import accounting
from .baselines import (
    ADDED,
    CHANGED,
    CSV_HEADER,
    FIELD_NAMES,
    REMOVED,
    Snapshot,
    Viewer,
    compare,
    criteria_filterset,
    criteria_from,
    describe_criteria,
    field_label,
    fields_of,
    is_id,
    reverse_names,
    show_relation,
    show_value,
    take_baseline,
)
from .models import Baseline, ConfigurationItem

SHOWN_DIFFERENCES = 500
ITEMS_PER_PAGE = 100


def _url_with(request, **changes):
    params = request.GET.copy()
    for key, value in changes.items():
        if value is None:
            params.pop(key, None)
        else:
            params[key] = value
    return "?" + params.urlencode() if params else "?"


def _ci_url_maker():
    """ci id -> its page's URL (None while the CI pages are not installed)."""
    marker = 987654321
    try:
        pattern = reverse("cmdb:ci_detail", args=[marker]).replace(str(marker), "{}")
    except NoReverseMatch:
        return lambda pk: None
    return lambda pk: pattern.format(pk)


def _visible_baseline(user, pk):
    baseline = restrict(Baseline.objects.select_related("taken_by"), user).filter(pk=pk).first()
    if baseline is None:
        raise Http404
    return baseline


def _person(user):
    if user is None:
        return ""
    return user.get_full_name() or user.get_username()


# --- list --------------------------------------------------------------------------
class BaselineTable(Table):
    columns = (
        Column("name", gettext_lazy("Name"), sort="name", link=True),
        Column("taken_at", gettext_lazy("Taken"), sort="taken_at"),
        Column("taken_by", gettext_lazy("By"), accessor=lambda b: _person(b.taken_by)),
        Column("item_count", gettext_lazy("CIs"), sort="item_count"),
        Column("description", gettext_lazy("Description")),
    )
    default_sort = "-taken_at"
    select_related = ("taken_by",)


class ScopedBaselineTable(BaselineTable):
    """For staff who see some customers only: a baseline's size counts CIs of other
    customers, so it is left out here (the baseline's page counts what they see)."""

    columns = tuple(c for c in BaselineTable.columns if c.name != "item_count")


class BaselineListView(StaffOnlyMixin, RecordListView):
    model = Baseline
    table_class = BaselineTable
    list_name = "baselines"
    title = gettext_lazy("Baselines")
    create_url_name = "cmdb:baseline_create"

    def get(self, request, *args, **kwargs):
        scope = scope_for(request.user)
        if scope is not None and not scope.all_customers:
            self.table_class = ScopedBaselineTable
        return super().get(request, *args, **kwargs)


# --- taking one --------------------------------------------------------------------
class BaselineForm(forms.Form):
    name = forms.CharField(
        label=gettext_lazy("Name"),
        max_length=150,
        error_messages={"required": gettext_lazy("A baseline needs a name.")},
    )
    description = forms.CharField(
        label=gettext_lazy("Description"),
        max_length=500,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )


class BaselineCreateView(StaffOnlyMixin, LoginRequiredMixin, View):
    """Take a baseline of the CIs the CI list's filters select (the query string of
    the CI list fills them in)."""

    template_name = "cmdb/baseline_form.html"

    def check(self):
        if not can(self.request.user, "add", Baseline):
            raise PermissionDenied

    def render_form(self, form, filterset, status=200):
        matching = None
        if filterset.is_valid():
            matching = capped_count(filterset.qs, limit=1_000_000)
        return render(
            self.request,
            self.template_name,
            {
                "form": form,
                "filterset": filterset,
                "matching": matching,
                "cancel_url": reverse("cmdb:baseline_list"),
            },
            status=status,
        )

    def get(self, request):
        self.check()
        initial = {k: request.GET.get(k, "")[:500] for k in ("name", "description")}
        filterset = criteria_filterset(request.user, criteria_from(request.GET))
        return self.render_form(BaselineForm(initial=initial), filterset)

    def post(self, request):
        self.check()
        form = BaselineForm(request.POST)
        criteria = criteria_from(request.POST)
        filterset = criteria_filterset(request.user, criteria)
        if not form.is_valid():
            return self.render_form(form, filterset, status=400)
        try:
            baseline = take_baseline(
                request.user,
                name=form.cleaned_data["name"],
                description=form.cleaned_data["description"],
                criteria=criteria,
            )
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                if field in form.fields:
                    form.add_error(field, errors)
                elif field not in filterset.form.fields:
                    form.add_error(None, errors)
            # The filters' own errors show on the filters.
            return self.render_form(form, filterset, status=400)
        messages.success(
            request,
            _("Baseline “%(name)s” taken: %(n)d configuration items.")
            % {"name": baseline.name, "n": baseline.item_count},
        )
        return redirect(baseline.get_absolute_url())


# --- a baseline's page ---------------------------------------------------------------
def _item_view(snap, reverse, ci_url):
    data = snap.data
    return {
        "ci_id": snap.ci_id,
        "name": snap.name,
        "ci_type": snap.ci_type,
        "status": show_value("status", data.get("status")),
        "owner": show_value("owner", data.get("owner")),
        "location": show_value("location", data.get("location")),
        "fields": fields_of(snap),
        "relations": [show_relation(r, reverse) for r in snap.relations],
        "url": ci_url,
    }


def _item_rows(items, viewer):
    reverse = reverse_names()
    for ci_id, name, ci_type, data, relations in (
        items.order_by("name", "pk")
        .values_list("ci_id", "name", "ci_type", "data", "relations")
        .iterator(chunk_size=2000)
    ):
        snap = viewer.view(Snapshot(ci_id, name, ci_type, data or {}, relations or []))
        attributes = "; ".join(
            f"{label}: {show_value(None, value)}"
            for label, value in sorted((snap.data.get("attributes") or {}).items())
        )
        yield [
            ci_id,
            name,
            ci_type,
            *(show_value(n, snap.data.get(n)) for n in FIELD_NAMES),
            attributes,
            "; ".join(show_relation(r, reverse) for r in snap.relations),
        ]


class BaselineDetailView(StaffOnlyMixin, LoginRequiredMixin, View):
    def get(self, request, pk):
        baseline = _visible_baseline(request.user, pk)
        viewer = Viewer(request.user)
        items = viewer.items(baseline)
        q = request.GET.get("q", "").replace("\x00", "").strip()[:200]
        if q:
            items = items.filter(name__icontains=q)
        export = request.GET.get("export")
        if export == "csv":
            header = [
                _("CI id"),
                _("Name"),
                _("Type"),
                *(field_label(n) for n in FIELD_NAMES),
                _("Attributes"),
                _("Relationships"),
            ]
            return stream_csv(f"baseline-{baseline.pk}.csv", header, _item_rows(items, viewer))
        if export:
            return _bad_request(request, _("Unknown export “%(value)s”.") % {"value": export[:50]})
        total = items.count()
        rows, next_cursor, prev_cursor = paginate(
            items, "name", False, request.GET.get("cursor"), ITEMS_PER_PAGE
        )
        ci_urls = _ci_url_maker()
        existing = set(
            ConfigurationItem.objects.filter(pk__in=[r.ci_id for r in rows]).values_list(
                "pk", flat=True
            )
        )
        reverse = reverse_names()
        shown = [
            _item_view(
                viewer.view(Snapshot(r.ci_id, r.name, r.ci_type, r.data or {}, r.relations or [])),
                reverse,
                ci_urls(r.ci_id) if r.ci_id in existing else None,
            )
            for r in rows
        ]
        others = Baseline.objects.exclude(pk=baseline.pk).order_by("-taken_at", "-pk")[:200]
        return render(
            request,
            "cmdb/baseline_detail.html",
            {
                "baseline": baseline,
                "taken_by": _person(baseline.taken_by),
                "criteria": describe_criteria(baseline),
                "items": shown,
                "total": total,
                "q": q,
                "everything": viewer.everything,
                "next_url": _url_with(request, cursor=next_cursor) if next_cursor else None,
                "prev_url": _url_with(request, cursor=prev_cursor) if prev_cursor else None,
                "export_url": _url_with(request, export="csv", cursor=None),
                "others": others,
            },
        )


def _bad_request(request, message):
    return render(request, "cmdb/baseline_error.html", {"message": message}, status=400)


# --- comparing -------------------------------------------------------------------------
KINDS = {
    ADDED: gettext_lazy("Added"),
    REMOVED: gettext_lazy("Removed"),
    CHANGED: gettext_lazy("Changed"),
}


class BaselineCompareView(StaffOnlyMixin, LoginRequiredMixin, View):
    """``?with=today`` (the default) or ``?with=<baseline id>``; ``show=`` one kind of
    difference; ``export=csv`` for every difference."""

    def get(self, request, pk):
        baseline = _visible_baseline(request.user, pk)
        target = request.GET.get("with", "today").strip() or "today"
        other = None
        if target != "today":
            if not is_id(target):
                return _bad_request(
                    request,
                    _("“%(value)s” names no baseline: compare with “today” or a baseline's id.")
                    % {"value": target[:50]},
                )
            other = restrict(Baseline.objects.all(), request.user).filter(pk=int(target)).first()
            if other is None:
                raise Http404
            if other.pk == baseline.pk:
                return _bad_request(request, _("Choose another baseline to compare with."))
        kind = request.GET.get("show", "").strip() or None
        if kind is not None and kind not in KINDS:
            return _bad_request(
                request,
                _("Show “%(value)s”? Choose added, removed or changed.") % {"value": kind[:50]},
            )
        export = request.GET.get("export")
        if export and export != "csv":
            return _bad_request(request, _("Unknown export “%(value)s”.") % {"value": export[:50]})
        # Differences read from the earlier to the later.
        before, after = baseline, other
        if other is not None and (other.taken_at, other.pk) < (baseline.taken_at, baseline.pk):
            before, after = other, baseline
        comparison = compare(request.user, before, after)
        if export == "csv":
            name = f"baseline-{before.pk}-{'today' if after is None else after.pk}.csv"
            return stream_csv(name, [str(h) for h in CSV_HEADER], comparison.rows())
        counts, shown, more = comparison.summary(limit=SHOWN_DIFFERENCES, kind=kind)
        ci_urls = _ci_url_maker()
        existing = set(
            ConfigurationItem.objects.filter(pk__in=[d.ci_id for d in shown]).values_list(
                "pk", flat=True
            )
        )
        return render(
            request,
            "cmdb/baseline_compare.html",
            {
                "baseline": baseline,
                "before": before,
                "after": after,
                "target": target,
                "note": comparison.note,
                "counts": counts,
                "shown": [(d, ci_urls(d.ci_id) if d.ci_id in existing else None) for d in shown],
                "more": more,
                "limit": SHOWN_DIFFERENCES,
                "kind": kind,
                "kinds": [
                    (key, label, counts[key], _url_with(request, show=key))
                    for key, label in KINDS.items()
                ],
                "all_url": _url_with(request, show=None),
                "export_url": _url_with(request, export="csv", show=None),
                "others": Baseline.objects.exclude(pk=baseline.pk).order_by("-taken_at", "-pk")[
                    :200
                ],
            },
        )


# --- status accounting -------------------------------------------------------------------
class AccountingView(StaffOnlyMixin, LoginRequiredMixin, View):
    """Counts of CIs by type, status, owner and location, and the CIs that need
    attention; ``?export=<table or list>`` streams one as CSV."""

    def get(self, request):
        user = request.user
        export = request.GET.get("export")
        if export in accounting.GROUPS:
            _title, column = accounting.GROUPS[export]
            return stream_csv(
                f"cmdb-{export}.csv",
                [str(column), _("CIs")],
                ([r.label, r.count] for r in accounting.counts(user, export)),
            )
        if export in accounting.LISTS:
            return stream_csv(
                f"cmdb-{export}.csv",
                [str(label) for _name, label in accounting.LIST_COLUMNS],
                accounting.list_rows(accounting.attention(user, export)),
            )
        if export:
            return render(
                request,
                "cmdb/baseline_error.html",
                {"message": _("Unknown export “%(value)s”.") % {"value": export[:50]}},
                status=400,
            )
        groups = [
            (key, title, column, accounting.counts(user, key))
            for key, (title, column) in accounting.GROUPS.items()
        ]
        lists = []
        for key, (title, explanation, _order) in accounting.LISTS.items():
            qs = accounting.attention(user, key).select_related("ci_type", "owner")
            lists.append(
                {
                    "key": key,
                    "title": title,
                    "explanation": explanation,
                    "total": qs.count(),
                    "rows": list(qs[: accounting.LIST_LENGTH]),
                }
            )
        ci_urls = _ci_url_maker()
        for entry in lists:
            entry["rows"] = [(ci, ci_urls(ci.pk)) for ci in entry["rows"]]
        return render(
            request,
            "cmdb/accounting.html",
            {
                "groups": groups,
                "total": sum(r.count for r in groups[0][3]),
                "lists": lists,
                "list_length": accounting.LIST_LENGTH,
            },
        )


class UnauthorisedFilterForm(forms.Form):
    date_from = forms.DateField(
        label=gettext_lazy("From"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )
    date_to = forms.DateField(
        label=gettext_lazy("To"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )
    owner = forms.ModelChoiceField(
        label=gettext_lazy("Owner team"),
        queryset=Team.objects.order_by("name"),
        required=False,
        empty_label=gettext_lazy("Any team"),
    )

    def clean(self):
        data = super().clean()
        start, end = data.get("date_from"), data.get("date_to")
        if start and end and end < start:
            self.add_error("date_to", _("The end date is before the start date."))
        return data


class UnauthorisedChangesView(StaffOnlyMixin, LoginRequiredMixin, View):
    """Changes to live CIs that named no authorising change record."""

    page_size = 50

    def get(self, request):
        form = UnauthorisedFilterForm(request.GET or None)
        export = request.GET.get("export")
        if export and export != "csv":
            form.is_valid()
            form.add_error(None, _("Unknown export “%(value)s”.") % {"value": export[:50]})
        if form.is_bound and not form.is_valid():
            return render(
                request,
                "cmdb/accounting_unauthorised.html",
                {"form": form, "rows": [], "total": 0, "valid": False},
                status=400,
            )
        data = form.cleaned_data if form.is_bound else {}
        qs = accounting.unauthorised_changes(
            request.user,
            date_from=data.get("date_from"),
            date_to=data.get("date_to"),
            owner=data.get("owner"),
        )
        if export == "csv":
            return stream_csv(
                "unauthorised-changes.csv",
                [str(c) for c in accounting.CHANGE_COLUMNS],
                accounting.change_rows(qs),
            )
        total, total_more = capped_count(qs)
        rows, next_cursor, prev_cursor = paginate(
            qs, "at", True, request.GET.get("cursor"), self.page_size
        )
        ci_urls = _ci_url_maker()
        return render(
            request,
            "cmdb/accounting_unauthorised.html",
            {
                "form": form,
                "rows": [(change, ci_urls(change.ci_id)) for change in rows],
                "total": total,
                "total_more": total_more,
                "valid": True,
                "next_url": _url_with(request, cursor=next_cursor) if next_cursor else None,
                "prev_url": _url_with(request, cursor=prev_cursor) if prev_cursor else None,
                "export_url": _url_with(request, export="csv", cursor=None),
            },
        )
