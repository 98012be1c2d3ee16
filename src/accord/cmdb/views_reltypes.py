"""Administrators' pages for relationship types: create and edit a type with the
pairs of CI types it may join on one page, and delete a type no relationship has.
Other staff read the types on the types list (``views.TypeListView``)."""

from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views import View

from accord.core.policy import can, scope_for
from accord.core.views import RowsFormMixin, StaffOnlyMixin, timeline

from . import reltypes
from .forms_reltypes import RelationshipTypeForm, pair_formset
from .models import RelationshipType


def _allowed(user, action):
    scope = scope_for(user)
    if scope is None or scope.read_only or not can(user, action, RelationshipType):
        raise PermissionDenied


def _reltype_or_404(pk):
    rel_type = RelationshipType.objects.filter(pk=pk).first()
    if rel_type is None:
        raise Http404
    return rel_type


class RelationshipTypeEditView(StaffOnlyMixin, LoginRequiredMixin, RowsFormMixin, View):
    """``relationship-types/new/`` and ``relationship-types/<pk>/edit/``: the type
    and its allowed pairs."""

    template_name = "cmdb/reltype_form.html"
    rows_prefix = reltypes.PREFIX
    max_rows = 500
    formset = None
    rel_type = None

    def setup_type(self, request, pk):
        if pk is None:
            _allowed(request.user, "add")
            self.rel_type = None
        else:
            self.rel_type = _reltype_or_404(pk)
            _allowed(request.user, "change")
        count = self.rel_type.links.count() if self.rel_type else 0
        usage = reltypes.usage(self.rel_type) if count else {}
        return count, usage

    def render_form(self, form, status=200):
        obj = self.rel_type
        problems = []
        if form.errors or any(f.errors for f in self.formset.forms):
            problems = self.row_problems(form)
        return render(
            self.request,
            self.template_name,
            {
                "form": form,
                "formset": self.formset,
                "rel_type": obj,
                "problems": problems,
                "title": _("Edit relationship type “%(name)s”") % {"name": obj}
                if obj
                else _("New relationship type"),
                "cancel_url": reverse("cmdb:type_list") + "#relationships",
                "timeline": timeline(obj, self.request.user) if obj else [],
            },
            status=status,
        )

    def get(self, request, pk=None):
        count, usage = self.setup_type(request, pk)
        form = RelationshipTypeForm(instance=self.rel_type, user=request.user, link_count=count)
        self.formset = pair_formset(self.rel_type, usage=usage)
        return self.render_form(form)

    def post(self, request, pk=None):
        count, usage = self.setup_type(request, pk)
        instance = self.rel_type or RelationshipType()
        form = RelationshipTypeForm(
            request.POST, instance=instance, user=request.user, link_count=count
        )
        if "add_row" in request.POST:
            # One more blank row; nothing is checked or saved yet.
            data = self.with_one_more_row(request.POST)
            self.formset = pair_formset(self.rel_type, data, usage=usage)
            form = RelationshipTypeForm(
                initial=self.as_typed(form),
                instance=self.rel_type,
                user=request.user,
                link_count=count,
            )
            return self.render_form(form)
        self.formset = pair_formset(self.rel_type, request.POST, usage=usage)
        form_ok = form.is_valid()
        if not self.formset.is_valid() or not form_ok:
            return self.render_form(form, status=400)

        def save():
            return reltypes.save_reltype(
                request.user,
                form.instance,
                form.cleaned_data,
                self.formset.rows(),
                expected_version=form.cleaned_data.get("version") if self.rel_type else None,
            )

        response = self.run_action(form, save)
        if response.status_code == 302:
            messages.success(
                request, _("Relationship type “%(name)s” saved.") % {"name": form.instance}
            )
        return response


class RelationshipTypeDeleteView(StaffOnlyMixin, LoginRequiredMixin, View):
    """Asks first; a type that relationships have is not deleted."""

    def context(self, rel_type, errors=()):
        return {
            "rel_type": rel_type,
            "count": rel_type.links.count(),
            "errors": list(errors),
            "title": _("Delete relationship type “%(name)s”") % {"name": rel_type},
        }

    def get(self, request, pk):
        rel_type = _reltype_or_404(pk)
        _allowed(request.user, "delete")
        return render(request, "cmdb/reltype_delete.html", self.context(rel_type))

    def post(self, request, pk):
        rel_type = _reltype_or_404(pk)
        _allowed(request.user, "delete")
        try:
            reltypes.delete_reltype(request.user, rel_type)
        except ValidationError as exc:
            return render(
                request,
                "cmdb/reltype_delete.html",
                self.context(rel_type, exc.messages),
                status=400,
            )
        messages.success(request, _("Relationship type “%(name)s” deleted.") % {"name": rel_type})
        return redirect(reverse("cmdb:type_list") + "#relationships")
