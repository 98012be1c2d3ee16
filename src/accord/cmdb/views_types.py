"""Administrators' pages for CI types: create and edit a type with its attribute
definitions on one page, and delete a type no CI has. Other staff read the types on
the list and detail pages (``views.py``)."""

from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views import View

from accord.core.policy import can, scope_for
from accord.core.views import RowsFormMixin, StaffOnlyMixin

from . import types
from .forms_types import CITypeForm, definition_formset
from .models import CIType


def _allowed(user, action):
    scope = scope_for(user)
    if scope is None or scope.read_only or not can(user, action, CIType):
        raise PermissionDenied


def _type_or_404(pk):
    ci_type = CIType.objects.filter(pk=pk).first()
    if ci_type is None:
        raise Http404
    return ci_type


class TypeEditView(StaffOnlyMixin, LoginRequiredMixin, RowsFormMixin, View):
    """``types/new/`` and ``types/<pk>/edit/``: the type and its attribute rows."""

    template_name = "cmdb/type_form.html"
    rows_prefix = types.PREFIX
    formset = None
    ci_type = None

    def setup_type(self, request, pk):
        if pk is None:
            _allowed(request.user, "add")
            self.ci_type = None
        else:
            self.ci_type = _type_or_404(pk)
            _allowed(request.user, "change")
        count = self.ci_type.items.count() if self.ci_type else 0
        usage = types.usage(self.ci_type) if count else {}
        return count, usage

    def render_form(self, form, status=200):
        obj = self.ci_type
        problems = []
        if form.errors or any(f.errors for f in self.formset.forms):
            problems = self.row_problems(form)
        return render(
            self.request,
            self.template_name,
            {
                "form": form,
                "formset": self.formset,
                "ci_type": obj,
                "problems": problems,
                "title": _("Edit %(name)s") % {"name": obj} if obj else _("New CI type"),
                "cancel_url": obj.get_absolute_url() if obj else reverse("cmdb:type_list"),
            },
            status=status,
        )

    def get(self, request, pk=None):
        count, usage = self.setup_type(request, pk)
        form = CITypeForm(instance=self.ci_type, user=request.user, ci_count=count)
        self.formset = definition_formset(self.ci_type, usage=usage)
        return self.render_form(form)

    def post(self, request, pk=None):
        count, usage = self.setup_type(request, pk)
        instance = self.ci_type or CIType()
        form = CITypeForm(request.POST, instance=instance, user=request.user, ci_count=count)
        if "add_row" in request.POST:
            # One more blank row; nothing is checked or saved yet.
            data = self.with_one_more_row(request.POST)
            self.formset = definition_formset(self.ci_type, data, usage=usage)
            form = CITypeForm(
                initial=self.as_typed(form),
                instance=self.ci_type,
                user=request.user,
                ci_count=count,
            )
            return self.render_form(form)
        self.formset = definition_formset(self.ci_type, request.POST, usage=usage)
        form_ok = form.is_valid()
        if not self.formset.is_valid() or not form_ok:
            return self.render_form(form, status=400)

        def save():
            return types.save_type(
                request.user,
                form.instance,
                form.cleaned_data,
                self.formset.rows(),
                expected_version=form.cleaned_data.get("version") if self.ci_type else None,
            )

        response = self.run_action(form, save)
        if response.status_code == 302:
            messages.success(request, _("CI type “%(name)s” saved.") % {"name": form.instance})
        return response


class TypeDeleteView(StaffOnlyMixin, LoginRequiredMixin, View):
    """Asks first; a type with CIs (or one other settings name) is not deleted."""

    def context(self, ci_type, errors=()):
        return {
            "ci_type": ci_type,
            "count": ci_type.items.count(),
            "errors": list(errors),
            "title": _("Delete %(name)s") % {"name": ci_type},
        }

    def get(self, request, pk):
        ci_type = _type_or_404(pk)
        _allowed(request.user, "delete")
        return render(request, "cmdb/type_delete.html", self.context(ci_type))

    def post(self, request, pk):
        ci_type = _type_or_404(pk)
        _allowed(request.user, "delete")
        try:
            types.delete_type(request.user, ci_type)
        except ValidationError as exc:
            return render(
                request, "cmdb/type_delete.html", self.context(ci_type, exc.messages), status=400
            )
        messages.success(request, _("CI type “%(name)s” deleted.") % {"name": ci_type})
        return redirect("cmdb:type_list")
