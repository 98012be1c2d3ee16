"""Administrators' pages for relationship types: create and edit a type with the
pairs of CI types it may join on one page, and delete a type no relationship has.
Other staff read the types on the types list (``views.TypeListView``)."""

import re

from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views import View

from accord.core.policy import can, scope_for
from accord.core.views import RecordFormMixin, StaffOnlyMixin, timeline

from . import reltypes
from .forms_reltypes import RelationshipTypeForm, pair_formset
from .models import RelationshipType

ROW_ERROR = re.compile(rf"^{reltypes.PREFIX}-(\d+)-(\w+)$")
MAX_ROWS = 500


def _allowed(user, action):
    scope = scope_for(user)
    if scope is None or scope.read_only or not can(user, action, RelationshipType):
        raise PermissionDenied


def _reltype_or_404(pk):
    rel_type = RelationshipType.objects.filter(pk=pk).first()
    if rel_type is None:
        raise Http404
    return rel_type


class RelationshipTypeEditView(StaffOnlyMixin, LoginRequiredMixin, RecordFormMixin, View):
    """``relationship-types/new/`` and ``relationship-types/<pk>/edit/``: the type
    and its allowed pairs."""

    template_name = "cmdb/reltype_form.html"
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
            problems = self._problems(form)
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

    def _problems(self, form):
        """Every error on the page in one list, each naming its field or row."""
        out = [str(e) for e in form.non_field_errors()]
        for name, errors in form.errors.items():
            if name != "__all__":
                out += [f"{form.fields[name].label}: {e}" for e in errors]
        out += [str(e) for e in self.formset.non_form_errors()]
        for index, row in enumerate(self.formset.forms):
            for name, errors in row.errors.items():
                for e in errors:
                    if str(e).startswith(_("Row %(n)s") % {"n": index + 1}):
                        out.append(str(e))
                    elif name == "__all__":
                        out.append(_("Row %(n)s: %(e)s") % {"n": index + 1, "e": e})
                    else:
                        out.append(
                            _("Row %(n)s, %(field)s: %(e)s")
                            % {"n": index + 1, "field": row.fields[name].label, "e": e}
                        )
        return out

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
            data = request.POST.copy()
            total = f"{reltypes.PREFIX}-TOTAL_FORMS"
            current = data.get(total, "0")
            known = current.isascii() and current.isdigit() and len(current) <= 3
            data[total] = str(min(MAX_ROWS, int(current) + 1 if known else 1))
            self.formset = pair_formset(self.rel_type, data, usage=usage)
            form = RelationshipTypeForm(
                initial={name: form[name].value() for name in form.fields},
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

    def apply_errors(self, form, exc: ValidationError):
        if not hasattr(exc, "error_dict"):
            return super().apply_errors(form, exc)
        rows = self.formset.forms
        for key, errors in exc.error_dict.items():
            found = ROW_ERROR.match(key)
            for error in errors:
                for message in error.messages:
                    if found and int(found.group(1)) < len(rows):
                        row = rows[int(found.group(1))]
                        name = found.group(2)
                        row.add_error(name if name in row.fields else None, message)
                    else:
                        form.add_error(key if key in form.fields else None, message)
        return self.render_form(form, status=400)


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
