"""CMDB pages: the CI list, a CI's page (attributes, relationships both ways, the
records that name it, history, neighbourhood graph), create/edit, relationships,
impact analysis, the types; and the affected-CIs panel of incidents and requests."""

from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views import View

from accord.core.policy import can, restrict, scope_for
from accord.core.views import RecordFormMixin, RecordListView, StaffOnlyMixin, timeline

from . import actions, graph
from .choices import CIStatus
from .filters import CIFilterSet
from .forms import CIForm, LinkCIForm, RelationshipForm
from .models import CILink, CIType, ConfigurationItem, Relationship, RelationshipType
from .tables import CITable

PAGE = 50


def visible_ci(user, pk, related=()):
    ci = (
        restrict(ConfigurationItem.objects.select_related("ci_type", *related), user)
        .filter(pk=pk)
        .first()
    )
    if ci is None:
        raise Http404
    return ci


class CIListView(RecordListView):
    model = ConfigurationItem
    table_class = CITable
    filterset_class = CIFilterSet
    list_name = "cis"
    title = "Configuration items"
    create_url_name = "cmdb:ci_choose_type"
    template_name = "cmdb/ci_list.html"

    def get_context_data(self, **kwargs):
        scope = scope_for(self.request.user)
        return super().get_context_data(
            is_staff=scope.is_staff,
            can_import=can(self.request.user, "import", ConfigurationItem),
            **kwargs,
        )


class ChooseTypeView(StaffOnlyMixin, LoginRequiredMixin, View):
    def get(self, request):
        if not can(request.user, "add", ConfigurationItem):
            raise PermissionDenied
        return render(request, "cmdb/ci_choose_type.html", {"types": CIType.objects.all()})


def _records_naming(ci, user):
    """The records (incidents, requests, problems, known errors…) that name the CI and
    that the user may see, newest first."""
    out = []
    by_type = {}
    for link in CILink.objects.filter(ci=ci).order_by("-created"):
        by_type.setdefault(link.content_type_id, []).append(link.object_id)
    for ct_id, ids in by_type.items():
        model = ContentType.objects.get_for_id(ct_id).model_class()
        if model is None:
            continue
        out += list(restrict(model._default_manager.filter(pk__in=ids), user))
    out.sort(key=lambda r: r.created, reverse=True)
    return out


class CIDetailView(LoginRequiredMixin, View):
    def get(self, request, pk):
        user = request.user
        ci = visible_ci(user, pk, ("owner", "location"))
        visible = restrict(ConfigurationItem.objects.all(), user).values("pk")
        outgoing = (
            ci.outgoing.filter(target__in=visible)
            .select_related("rel_type", "target__ci_type")
            .order_by("rel_type__name", "target__name")
        )
        incoming = (
            ci.incoming.filter(source__in=visible)
            .select_related("rel_type", "source__ci_type")
            .order_by("rel_type__name", "source__name")
        )
        rows = []
        for d, value in ci.attribute_rows():
            shown, url = value, None
            if d.kind == "reference" and value is not None:
                target = restrict(ConfigurationItem.objects.filter(pk=value), user).first()
                shown = target.name if target else _("(a CI you cannot see)")
                url = target.get_absolute_url() if target else None
            rows.append((d.label, shown, url))
        scope = scope_for(user)
        can_change = can(user, "change", ConfigurationItem) and not scope.read_only
        return render(
            request,
            "cmdb/ci_detail.html",
            {
                "ci": ci,
                "attributes": rows,
                "outgoing": outgoing,
                "incoming": incoming,
                "customers": restrict(ci.customers.all(), user),
                "services": restrict(ci.services.all(), user),
                "records": _records_naming(ci, user),
                "timeline": timeline(ci, user) if scope.is_staff else [],
                "can_change": can_change,
                "relationship_form": RelationshipForm(user=user, ci=ci) if can_change else None,
                "is_staff": scope.is_staff,
            },
        )


class CIEditView(LoginRequiredMixin, RecordFormMixin, View):
    template_name = "cmdb/ci_form.html"

    def setup_objects(self, request, pk):
        if pk is None:
            if not can(request.user, "add", ConfigurationItem):
                raise PermissionDenied
            key = request.GET.get("type") or request.POST.get("type") or ""
            ci_type = CIType.objects.filter(key=key[:50]).first()
            if ci_type is None:
                return None, None
            return None, ci_type
        ci = visible_ci(request.user, pk)  # another customer's CI is not found
        if not can(request.user, "change", ConfigurationItem):
            raise PermissionDenied
        return ci, ci.ci_type

    def render_form(self, form, status=200):
        obj = form.instance if form.instance.pk else None
        return render(
            self.request,
            self.template_name,
            {
                "form": form,
                "ci_type": form.ci_type,
                "title": _("Edit %(name)s") % {"name": obj}
                if obj
                else _("New %(type)s") % {"type": form.ci_type},
                "cancel_url": obj.get_absolute_url() if obj else reverse("cmdb:ci_list"),
            },
            status=status,
        )

    def get(self, request, pk=None):
        ci, ci_type = self.setup_objects(request, pk)
        if ci_type is None:
            return redirect("cmdb:ci_choose_type")
        form = CIForm(instance=ci, user=request.user, ci_type=ci_type)
        return self.render_form(form)

    def post(self, request, pk=None):
        ci, ci_type = self.setup_objects(request, pk)
        if ci_type is None:
            return redirect("cmdb:ci_choose_type")
        instance = ci or ConfigurationItem(ci_type=ci_type)
        form = CIForm(request.POST, instance=instance, user=request.user, ci_type=ci_type)
        if not form.is_valid():
            return self.render_form(form, status=400)

        def save():
            obj = form.instance
            obj.attributes = form.attribute_values()
            return actions.save_ci(
                obj,
                customers=[*form.cleaned_data["customers"], *form.customers_to_keep()],
                services=[*form.cleaned_data["services"], *form.services_to_keep()],
                change_reference=form.cleaned_data.get("change_reference", ""),
                expected_version=form.cleaned_data.get("version") if ci else None,
            )

        return self.run_action(form, save)

    def apply_errors(self, form, exc: ValidationError):
        # Attribute errors belong next to the attribute fields they name.
        if hasattr(exc, "error_dict") and "attributes" in exc.error_dict:
            for error in exc.error_dict.pop("attributes"):
                for message in error.messages:
                    target = next(
                        (name for name, d in form.attribute_keys if message.startswith(d.label)),
                        None,
                    )
                    form.add_error(target, message)
            if not exc.error_dict:
                return self.render_form(form, status=400)
        return super().apply_errors(form, exc)


class RelationshipAddView(StaffOnlyMixin, LoginRequiredMixin, View):
    def post(self, request, pk):
        ci = visible_ci(request.user, pk)
        if not can(request.user, "add", Relationship) or scope_for(request.user).read_only:
            raise PermissionDenied
        form = RelationshipForm(request.POST, user=request.user, ci=ci)
        if form.is_valid():
            direction, rel_type = form.cleaned_data["rel_type"]
            other = form.cleaned_data["other"]
            source, target = (ci, other) if direction == "out" else (other, ci)
            try:
                actions.add_relationship(
                    request.user,
                    source,
                    target,
                    rel_type,
                    change_reference=form.cleaned_data["change_reference"],
                )
                messages.success(
                    request,
                    _("%(source)s now %(type)s %(target)s.")
                    % {"source": source, "type": rel_type, "target": target},
                )
            except ValidationError as exc:
                for message in exc.messages:
                    messages.error(request, message)
        else:
            for field, errors in form.errors.items():
                label = form.fields[field].label if field in form.fields else ""
                for error in errors:
                    messages.error(request, f"{label}: {error}" if label else error)
        return HttpResponseRedirect(ci.get_absolute_url() + "#relationships")


class RelationshipRemoveView(StaffOnlyMixin, LoginRequiredMixin, View):
    def post(self, request, pk, link_pk):
        ci = visible_ci(request.user, pk)
        if not can(request.user, "change", Relationship) or scope_for(request.user).read_only:
            raise PermissionDenied
        link = (
            restrict(
                Relationship.objects.select_related("source", "target", "rel_type"), request.user
            )
            .filter(pk=link_pk)
            .filter(**{"source": ci} if request.POST.get("side") != "in" else {"target": ci})
            .first()
        )
        if link is None:
            raise Http404
        try:
            actions.remove_relationship(
                request.user, link, change_reference=request.POST.get("change_reference", "")
            )
        except ValidationError as exc:
            for message in exc.messages:
                messages.error(request, message)
        else:
            messages.success(request, _("Relationship removed."))
        return HttpResponseRedirect(ci.get_absolute_url() + "#relationships")


def _int_param(request, name, default, low, high):
    value = request.GET.get(name, "")
    if value == "":
        return default
    if not value.isascii() or not value.isdigit() or not low <= int(value) <= high:
        raise ValueError(name)
    return int(value)


class ImpactView(LoginRequiredMixin, View):
    """Downstream (what a failure affects) or upstream (what the CI relies on)."""

    def get(self, request, pk):
        ci = visible_ci(request.user, pk)
        direction = request.GET.get("direction", "down")
        errors = []
        if direction not in ("down", "up"):
            errors.append(_("Direction must be “down” or “up”."))
            direction = "down"
        try:
            depth = _int_param(request, "depth", None, 1, 50)
        except ValueError:
            errors.append(_("Depth must be a whole number from 1 to 50."))
            depth = None
        try:
            page = _int_param(request, "page", 1, 1, 100000)
        except ValueError:
            errors.append(_("Page must be a whole number."))
            page = 1
        result = graph.impact(
            request.user,
            [ci.pk],
            direction=direction,
            max_depth=depth,
            offset=(page - 1) * PAGE,
            limit=PAGE,
        )
        pages = max(1, -(-result.total // PAGE))
        return render(
            request,
            "cmdb/ci_impact.html",
            {
                "ci": ci,
                "result": result,
                "direction": direction,
                "depth": depth,
                "page": page,
                "pages": pages,
                "errors": errors,
                "types": {t.pk: t.name for t in CIType.objects.all()},
                "statuses": dict(CIStatus.choices),
                "is_staff": scope_for(request.user).is_staff,
            },
            status=400 if errors else 200,
        )


class TypeListView(StaffOnlyMixin, LoginRequiredMixin, View):
    def get(self, request):
        return render(
            request,
            "cmdb/type_list.html",
            {
                "types": CIType.objects.prefetch_related("attribute_definitions"),
                "relationship_types": RelationshipType.objects.prefetch_related(
                    "allowed_pairs__source_type", "allowed_pairs__target_type"
                ),
                "is_admin": can(request.user, "change", CIType),
            },
        )


class TypeDetailView(StaffOnlyMixin, LoginRequiredMixin, View):
    def get(self, request, pk):
        ci_type = CIType.objects.filter(pk=pk).first()
        if ci_type is None:
            raise Http404
        return render(
            request,
            "cmdb/type_detail.html",
            {
                "ci_type": ci_type,
                "definitions": ci_type.attribute_definitions.select_related("reference_type"),
                "count": restrict(ci_type.items.all(), request.user).count(),
                "is_admin": can(request.user, "change", CIType),
                "timeline": timeline(ci_type, request.user),
            },
        )


# --- the affected CIs of a ticket ----------------------------------------------------------
def affected_panel(record, user):
    """The CIs an incident or request names, and what a failure of them affects."""
    scope = scope_for(user)
    if not scope.is_staff:
        return None
    ct = ContentType.objects.get_for_model(type(record))
    ids = list(
        CILink.objects.filter(content_type=ct, object_id=record.pk).values_list("ci_id", flat=True)
    )
    cis = list(
        restrict(ConfigurationItem.objects.filter(pk__in=ids), user).select_related("ci_type")
    )
    result = graph.impact(user, [c.pk for c in cis], limit=0) if cis else None
    return {
        "template": "cmdb/_affected_panel.html",
        "cis": cis,
        "impact": result,
        "content_type_id": ct.pk,
        "record": record,
        "can_change": can(user, "change", record) and not scope.read_only,
        "form": LinkCIForm(user=user),
    }


class AffectedCIView(StaffOnlyMixin, LoginRequiredMixin, View):
    """Link (or with ``remove``, unlink) a CI to an incident or request."""

    def post(self, request, content_type_id, object_id):
        from accord.core.views import safe_next, visible_record

        record = visible_record(request.user, content_type_id, object_id)
        if not can(request.user, "change", record) or scope_for(request.user).read_only:
            raise PermissionDenied
        if getattr(record, "cis_set_by_its_process", False):
            # Its own page sets its CIs, under its process's rules (a change's, say).
            raise PermissionDenied
        remove = request.POST.get("remove", "")
        if remove:
            if not remove.isascii() or not remove.isdigit():
                raise Http404
            ci = visible_ci(request.user, int(remove))
            actions.unlink_record(ci, record)
            messages.success(request, _("%(ci)s unlinked.") % {"ci": ci})
        else:
            form = LinkCIForm(request.POST, user=request.user)
            if form.is_valid():
                actions.link_record(form.cleaned_data["ci"], record, request.user)
                messages.success(request, _("%(ci)s linked.") % {"ci": form.cleaned_data["ci"]})
            else:
                for error in form.errors.get("ci", []):
                    messages.error(request, _("Configuration item: %(e)s") % {"e": error})
        return HttpResponseRedirect(safe_next(request, record.get_absolute_url()))
