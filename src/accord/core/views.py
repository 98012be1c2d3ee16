"""Generic pages every record type reuses: list (filter, sort, saved filters, cursor
pages, CSV export), detail with its timeline, create and edit with optimistic
locking; plus attachments, journal posts, saved filters and global search."""

import re

from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import FileResponse, Http404, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views import View
from django.views.generic import TemplateView

from . import history, navigation, search
from .exports import stream_csv
from .forms import AttachmentForm
from .models import Attachment, JournalEntry, ObjectChange, SavedFilter
from .pagination import paginate
from .policy import can, restrict, scope_for
from .records import StaleRecordError

COUNT_LIMIT = 1000


def capped_count(queryset, limit=COUNT_LIMIT):
    """(count, more): an exact count up to ``limit``; past it, "more than that" without
    counting a million rows on every page view."""
    # No ORDER BY: a count needs none, and with one the database must sort first.
    n = queryset.order_by()[: limit + 1].count()
    return min(n, limit), n > limit


class StaffOnlyMixin:
    """Pages for the provider's staff: a customer user is refused (403); an anonymous
    visitor passes on to the login check. List it first among the view's bases."""

    def dispatch(self, request, *args, **kwargs):
        scope = scope_for(request.user)
        if scope is not None and scope.is_customer:
            raise PermissionDenied
        return super().dispatch(request, *args, **kwargs)


class RecordListView(LoginRequiredMixin, TemplateView):
    """A filtered, sorted, paged list of one record type within the user's scope."""

    template_name = "core/list.html"
    model = None
    table_class = None
    filterset_class = None
    list_name = ""
    title = ""
    page_size = 50
    create_url_name = None

    def base_queryset(self):
        return restrict(self.model.objects.all(), self.request.user)

    def filtered(self):
        qs = self.base_queryset()
        table = self.table_class()
        if table.select_related:
            qs = qs.select_related(*table.select_related)
        self.filterset = None
        if self.filterset_class is not None:
            self.filterset = self.filterset_class(
                self.request.GET, queryset=qs, request=self.request
            )
            qs = self.filterset.qs if self.filterset.is_valid() else qs.none()
        return qs, table

    def sort_spec(self, table):
        requested = self.request.GET.get("sort") or table.default_sort
        name = requested.lstrip("-")
        field = table.sortable().get(name)
        if field is None:
            requested = table.default_sort
            name = requested.lstrip("-")
            field = table.sortable().get(name, "id")
        return name, field, requested.startswith("-")

    def get(self, request, *args, **kwargs):
        if not can(request.user, "view", self.model):
            raise PermissionDenied
        qs, table = self.filtered()
        name, field, descending = self.sort_spec(table)
        if request.GET.get("export") == "csv":
            return self.export(qs.order_by(f"-{field}" if descending else field, "pk"), table)
        total, total_more = capped_count(qs)
        rows, next_cursor, prev_cursor = paginate(
            qs, field, descending, request.GET.get("cursor"), self.page_size
        )
        context = self.get_context_data(
            table=table,
            rows=rows,
            rendered=table.render(rows, self.model),
            sort_name=name,
            descending=descending,
            next_url=self.url_with(cursor=next_cursor) if next_cursor else None,
            prev_url=self.url_with(cursor=prev_cursor) if prev_cursor else None,
            total=total,
            total_more=total_more,
            filterset=self.filterset,
            # An empty list says why: the filters (a queue is one), or no records yet.
            filtering=any(
                any(values) for key, values in request.GET.lists() if key not in ("sort", "cursor")
            ),
            plural=self.model._meta.verbose_name_plural,
            title=self.title,
            list_name=self.list_name,
            export_url=self.url_with(export="csv", cursor=None),
            saved_filters=SavedFilter.objects.filter(user=request.user, list_name=self.list_name),
            current_query=self.url_with(cursor=None, export=None).lstrip("?"),
            can_create=self.create_url_name and can(request.user, "add", self.model),
            create_url=reverse(self.create_url_name) if self.create_url_name else None,
            sort_links={
                c.name: self.sort_link(c.name, name, descending) for c in table.columns if c.sort
            },
        )
        template = (
            "core/list_rows.html" if request.headers.get("HX-Request") else self.template_name
        )
        return render(request, template, context)

    def sort_link(self, column, current, descending):
        target = f"-{column}" if column == current and not descending else column
        return self.url_with(sort=target, cursor=None)

    def url_with(self, **changes):
        params = self.request.GET.copy()
        for key, value in changes.items():
            if value is None:
                params.pop(key, None)
            else:
                params[key] = value
        return "?" + params.urlencode() if params else "?"

    def export(self, qs, table):
        columns = table.columns
        rows = ([c.value(row) for c in columns] for row in qs.iterator(chunk_size=2000))
        return stream_csv(
            f"{self.list_name or 'export'}.csv", [str(c.label) for c in columns], rows
        )


def visible_record(user, content_type_id, object_id):
    """The record behind a generic reference, if the user may see it; else 404."""
    ct = get_object_or_404(ContentType, pk=content_type_id)
    model = ct.model_class()
    if model is None or not hasattr(model, "customer_field"):
        raise Http404
    obj = restrict(model._default_manager.filter(pk=object_id), user).first()
    if obj is None:
        raise Http404
    return obj


def timeline(record, user):
    """Journal and change history of a record, oldest first, as the user may see it."""
    scope = scope_for(user)
    ct = ContentType.objects.get_for_model(type(record))
    journal = JournalEntry.objects.filter(content_type=ct, object_id=record.pk)
    if scope.is_customer:
        journal = journal.filter(customer_visible=True)
    items = [("journal", e.created, e) for e in journal]
    if not scope.is_customer:
        changes = history.describe(
            type(record),
            list(ObjectChange.objects.filter(content_type=ct, object_id=record.pk)),
            user,
        )
        items += [("change", c.time, c) for c in changes]
    items.sort(key=lambda i: (i[1], 0 if i[0] == "change" else 1))
    return items


def attachments_for(record, user):
    ct = ContentType.objects.get_for_model(type(record))
    qs = Attachment.objects.filter(content_type=ct, object_id=record.pk)
    if scope_for(user).is_customer:
        qs = qs.filter(customer_visible=True)
    return qs


def safe_next(request, fallback):
    target = request.POST.get("next") or request.GET.get("next")
    if target and url_has_allowed_host_and_scheme(target, {request.get_host()}):
        return target
    return fallback


class AttachmentUploadView(LoginRequiredMixin, View):
    def post(self, request, content_type_id, object_id):
        record = visible_record(request.user, content_type_id, object_id)
        if not can(request.user, "reply", record) and not can(request.user, "change", record):
            raise PermissionDenied
        form = AttachmentForm(request.POST, request.FILES)
        if form.is_valid():
            upload = form.cleaned_data["file"]
            customer_visible = scope_for(request.user).is_customer or not form.cleaned_data.get(
                "internal"
            )
            with transaction.atomic():
                Attachment.objects.create(
                    content_type_id=content_type_id,
                    object_id=record.pk,
                    file=upload,
                    filename=upload.name[:200],
                    size=upload.size,
                    customer_visible=customer_visible,
                    uploaded_by=request.user,
                )
                history.event(
                    record,
                    _("Attached %(name)s") % {"name": upload.name},
                    customer_visible=customer_visible,
                )
            messages.success(request, _("File attached."))
        else:
            for error in form.errors.get("file", []):
                messages.error(request, error)
        return HttpResponseRedirect(safe_next(request, "/"))


class AttachmentDownloadView(LoginRequiredMixin, View):
    def get(self, request, pk):
        attachment = get_object_or_404(Attachment, pk=pk)
        record = visible_record(request.user, attachment.content_type_id, attachment.object_id)
        if not attachment.customer_visible and scope_for(request.user).is_customer:
            raise Http404
        del record
        response = FileResponse(
            attachment.file.open("rb"),
            as_attachment=True,
            filename=attachment.filename,
            content_type="application/octet-stream",
        )
        response["X-Content-Type-Options"] = "nosniff"
        response["Content-Security-Policy"] = "default-src 'none'; sandbox"
        return response


class SavedFilterView(LoginRequiredMixin, View):
    def post(self, request):
        name = (request.POST.get("name") or "").strip()[:100]
        list_name = (request.POST.get("list_name") or "")[:100]
        query = (request.POST.get("query") or "")[:2000]
        back = safe_next(request, "/")
        if request.POST.get("delete"):
            pk = request.POST["delete"]
            if pk.isascii() and pk.isdigit():  # anything else names no saved filter
                SavedFilter.objects.filter(user=request.user, pk=pk).delete()
            messages.success(request, _("Saved filter removed."))
        elif not name:
            messages.error(request, _("Give the filter a name."))
        else:
            SavedFilter.objects.update_or_create(
                user=request.user, list_name=list_name, name=name, defaults={"query": query}
            )
            messages.success(request, _("Filter “%(name)s” saved.") % {"name": name})
        return HttpResponseRedirect(back)


class SearchView(LoginRequiredMixin, TemplateView):
    template_name = "core/search.html"

    def get_context_data(self, **kwargs):
        q = (self.request.GET.get("q") or "").strip()[:200]
        results = search.search(self.request.user, q, limit=50) if q else []
        return super().get_context_data(q=q, results=results, **kwargs)


def record_url(entry):
    model = entry.content_type.model_class()
    return (
        reverse(model.detail_url_name, args=[entry.object_id])
        if hasattr(model, "detail_url_name")
        else "#"
    )


class RecordFormMixin:
    """Create/edit pages: a stale version is refused with a clear message and the
    user's input is kept on the page so nothing is lost."""

    template_name = "core/form.html"

    def stale_response(self, form, exc):
        form.add_error(
            None,
            _(
                "Someone else changed this record while you were editing. Your changes are "
                "below and were not saved; reload the record, then apply them again."
            ),
        )
        form.stale = True  # the page offers the current record beside the kept input
        return self.render_form(form, status=409)

    def apply_errors(self, form, exc: ValidationError):
        if hasattr(exc, "error_dict"):
            for field, errors in exc.error_dict.items():
                target = field if field in form.fields else None
                for e in errors:
                    for m in e.messages:
                        form.add_error(target, m)
        else:
            for m in exc.messages:
                form.add_error(None, m)
        return self.render_form(form, status=400)

    def run_action(self, form, func):
        try:
            obj = func()
        except StaleRecordError as exc:
            return self.stale_response(form, exc)
        except ValidationError as exc:
            return self.apply_errors(form, exc)
        return redirect(obj.get_absolute_url())


class RowsFormMixin(RecordFormMixin):
    """A record's form with a formset of rows under it (``self.formset``, prefix
    ``rows_prefix``): errors of the actions keyed "<prefix>-<row>-<field>" go to their
    row, every error is also listed at the top naming its field or row, and "Add a
    row" shows the page again with one more blank row."""

    rows_prefix = ""
    max_rows = 200

    def row_problems(self, form):
        """Every error on the page in one list, each naming its field or row."""
        out = [str(e) for e in form.non_field_errors()]
        for name, errors in form.errors.items():
            if name != "__all__":
                out += [f"{form.fields[name].label}: {e}" for e in errors]
        out += [str(e) for e in self.formset.non_form_errors()]
        for index, row in enumerate(self.formset.forms):
            lead = _("Row %(n)s") % {"n": index + 1}
            for name, errors in row.errors.items():
                for e in errors:
                    if str(e).startswith(lead):
                        out.append(str(e))
                    elif name == "__all__":
                        out.append(_("Row %(n)s: %(e)s") % {"n": index + 1, "e": e})
                    else:
                        out.append(
                            _("Row %(n)s, %(field)s: %(e)s")
                            % {"n": index + 1, "field": row.fields[name].label, "e": e}
                        )
        return out

    def with_one_more_row(self, data):
        """The posted data asking for one more (blank) row, within ``max_rows``."""
        data = data.copy()
        total = f"{self.rows_prefix}-TOTAL_FORMS"
        current = data.get(total, "0")
        known = current.isascii() and current.isdigit() and len(current) <= 3
        data[total] = str(min(self.max_rows, int(current) + 1 if known else 1))
        return data

    @staticmethod
    def as_typed(form):
        """What the user typed into the form's fields, to show again as it was."""
        return {name: form[name].value() for name in form.fields}

    def apply_errors(self, form, exc: ValidationError):
        if not hasattr(exc, "error_dict"):
            return super().apply_errors(form, exc)
        rows = self.formset.forms
        pattern = re.compile(rf"^{re.escape(self.rows_prefix)}-(\d+)-(\w+)$")
        for key, errors in exc.error_dict.items():
            found = pattern.match(key)
            for error in errors:
                for message in error.messages:
                    if found and int(found.group(1)) < len(rows):
                        row = rows[int(found.group(1))]
                        name = found.group(2)
                        row.add_error(name if name in row.fields else None, message)
                    else:
                        form.add_error(key if key in form.fields else None, message)
        return self.render_form(form, status=400)


NOT_SAVED = gettext_lazy("Nothing was saved: see the fields marked below.")


def refusal_messages(exc: ValidationError):
    """The messages of an action's refusal, field names left out."""
    if hasattr(exc, "error_dict"):
        return [m for errors in exc.message_dict.values() for m in errors]
    return list(exc.messages)


def apply_refusal(form, exc: ValidationError):
    """Put an action's refusal on the form's fields; what names no field of the form
    is returned for the page's alert."""
    if form is None:
        return refusal_messages(exc)
    rest = []
    if hasattr(exc, "error_dict"):
        for field, errors in exc.message_dict.items():
            for message in errors:
                if field in form.fields:
                    form.add_error(field, message)
                else:
                    rest.append(message)
    else:
        rest.extend(exc.messages)
    return rest


class Refused(Exception):
    """A form of the page did not validate; it goes back with its errors."""


class FormActionView(StaffOnlyMixin, LoginRequiredMixin, View):
    """POST endpoints of a record page's forms (htmx, or plain posts): ``do_<action>``
    runs it, reading its form with ``use``; a refusal goes back to the page with the
    form and its errors (``respond``, given by the subclass)."""

    stale_message = gettext_lazy(
        "Someone else changed this record since you opened it; nothing was saved. The "
        "page now shows the current record: check it and try again."
    )

    def respond(self, request, record, **kwargs):
        raise NotImplementedError

    def run(self, request, handler, record, reload):
        self.bound, self.form, self.key = {}, None, None
        try:
            handler(request, record)
        except Refused:
            errors = [NOT_SAVED, *[str(e) for e in self.form.non_field_errors()]]
            return self.refused(request, reload(), errors, 400)
        except StaleRecordError:
            return self.refused(request, reload(), [self.stale_message], 409)
        except ValidationError as exc:
            errors = apply_refusal(self.form, exc)
            if self.form is not None and self.form.errors:
                errors.insert(0, NOT_SAVED)
            return self.refused(request, reload(), errors, 400)
        return None

    def refused(self, request, record, errors, status):
        if self.form is not None and self.key and "version" in self.form.fields:
            # Offer the kept input again against the current version.
            self.form.data = self.form.data.copy()
            self.form.data["version"] = record.version
        if self.form is not None and self.key:
            self.bound[self.key] = self.form
        return self.respond(
            request, record, status=status, errors=errors, bound=self.bound, open_form=self.key
        )

    def use(self, key, form):
        self.key, self.form = key, form
        if not form.is_valid():
            raise Refused
        return form.cleaned_data


def home(request):
    """The start page is the first entry of the user's menu (their queue of work)."""
    menu = navigation.menu_for(scope_for(request.user))
    if not menu:
        return redirect("login")
    return redirect(menu[0].url)


class RecordEditView(LoginRequiredMixin, RecordFormMixin, View):
    """Create or edit a simple record type with a ModelForm (no lifecycle of its own).

    The form's ``version`` travels with the page; saving checks it."""

    model = None
    form_class = None
    list_url_name = None

    def get_object(self, pk):
        if pk is None:
            return None
        obj = restrict(self.model.objects.all(), self.request.user).filter(pk=pk).first()
        if obj is None:
            raise Http404
        return obj

    def check(self, obj):
        if not can(self.request.user, "change" if obj else "add", self.model):
            raise PermissionDenied

    def render_form(self, form, status=200):
        obj = form.instance if form.instance.pk else None
        title = (
            _("Edit %(name)s") % {"name": obj}
            if obj
            else _("New %(kind)s") % {"kind": self.model._meta.verbose_name}
        )
        cancel = obj.get_absolute_url() if obj else reverse(self.list_url_name)
        return render(
            self.request,
            self.template_name,
            {"form": form, "title": title, "cancel_url": cancel},
            status=status,
        )

    def get(self, request, pk=None):
        obj = self.get_object(pk)
        self.check(obj)
        form = self.form_class(instance=obj, user=request.user)
        return self.render_form(form)

    def post(self, request, pk=None):
        obj = self.get_object(pk)
        self.check(obj)
        form = self.form_class(request.POST, instance=obj, user=request.user)
        if not form.is_valid():
            return self.render_form(form, status=400)
        version = form.cleaned_data.get("version")

        m2m_names = [f.name for f in self.model._meta.many_to_many if f.name in form.fields]

        def save():
            with transaction.atomic():
                before = history.m2m_snapshot(obj, m2m_names)
                instance = form.save(commit=False)
                instance.save(expected_version=version if obj else None)
                form.save_m2m()
                if obj is not None:
                    history.record_m2m(instance, before)
                return instance

        return self.run_action(form, save)
