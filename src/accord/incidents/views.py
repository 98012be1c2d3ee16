"""Service desk pages: queues, the record page with its actions, log and edit, and
the major incident procedure. Record pages act through ``actions``; views only
translate between HTTP and those operations."""

from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views import View

from accord.core import links, panels
from accord.core.forms import AttachmentForm, JournalForm
from accord.core.policy import can, restrict, scope_for
from accord.core.records import StaleRecordError
from accord.core.tables import Column, escape
from accord.core.views import (
    RecordFormMixin,
    RecordListView,
    attachments_for,
    capped_count,
    timeline,
)

from . import actions
from .filters import QUEUES, IncidentFilterSet, ServiceRequestFilterSet, apply_queue
from .forms import (
    CommunicationForm,
    DeclareMajorForm,
    MajorUpdateForm,
    ReviewForm,
    TransitionForm,
    customer_form_for,
    ticket_form_for,
)
from .models import Incident, MajorIncidentReview, ServiceRequest
from .tables import CustomerTicketTable, TicketTable

FILTERSETS = {Incident: IncidentFilterSet, ServiceRequest: ServiceRequestFilterSet}

# Actions on the incidents ticked in a queue, offered by apps above this one (such as
# "raise a problem"): (label, URL name, allowed(user)). The page named is opened with
# the ticked incidents' ids as ``?incidents=``.
QUEUE_ACTIONS: list = []


def register_queue_action(label, url_name, allowed):
    QUEUE_ACTIONS.append((label, url_name, allowed))


def _select_html(row):
    return (
        '<input class="form-check-input" type="checkbox" name="incidents" form="queue-selection"'
        f' value="{row.pk}" aria-label="{escape(_("Select"))} {escape(row.number)}">'
    )


class SelectableTicketTable(TicketTable):
    """The queue with a tick box per row, for the queue actions."""

    columns = (Column("select", gettext_lazy("Select"), html=_select_html), *TicketTable.columns)


class TicketViewMixin(LoginRequiredMixin):
    model = Incident
    namespace = "incidents"

    def get_record(self, pk):
        record = (
            restrict(
                self.model.objects.select_related(
                    "customer", "service", "category", "assignment_team", "assignee", "caller"
                ),
                self.request.user,
            )
            .filter(pk=pk)
            .first()
        )
        if record is None:
            raise Http404
        return record


class QueueView(TicketViewMixin, RecordListView):
    """A queue of incidents or requests, with the queue tabs and their counts."""

    template_name = "incidents/queue.html"

    def queue_actions(self):
        if self.model is not Incident:
            return []
        cached = self.__dict__.get("_queue_actions")
        if cached is None:
            user = self.request.user
            cached = [(label, reverse(name)) for label, name, ok in QUEUE_ACTIONS if ok(user)]
            self._queue_actions = cached
        return cached

    @property
    def table_class(self):
        scope = scope_for(self.request.user)
        if scope is not None and scope.is_customer:
            return CustomerTicketTable
        return SelectableTicketTable if self.queue_actions() else TicketTable

    def export(self, qs, table):
        # The tick boxes are for the page only.
        if isinstance(table, SelectableTicketTable):
            table = TicketTable()
        return super().export(qs, table)

    @property
    def filterset_class(self):
        return FILTERSETS[self.model]

    @property
    def list_name(self):
        return self.namespace

    @property
    def title(self):
        return self.model._meta.verbose_name_plural.capitalize()

    @property
    def create_url_name(self):
        return f"{self.namespace}:create"

    def get(self, request, *args, **kwargs):
        if "queue" not in request.GET and not request.GET.get("cursor"):
            # Staff start on their own open work when they have some, else on all open.
            params = request.GET.copy()
            mine = not scope_for(request.user).is_customer and (
                apply_queue(self.base_queryset(), "mine", request.user).exists()
            )
            params["queue"] = "mine" if mine else "open"
            return redirect(f"{request.path}?{params.urlencode()}")
        return super().get(request, *args, **kwargs)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        base = self.base_queryset()
        scope = scope_for(self.request.user)
        queues = [
            q for q in QUEUES if not (scope.is_customer and q[0] in ("mine", "team", "unassigned"))
        ]
        current = self.request.GET.get("queue", "open")
        context["queues"] = []
        # The list's own total is the active tab's count when nothing else filters it.
        unfiltered = set(self.request.GET) <= {"queue", "sort", "cursor"}
        for key, label in queues:
            if key == "all":
                count, more = None, False
            elif key == current and unfiltered:
                count, more = context["total"], context["total_more"]
            else:
                count, more = capped_count(apply_queue(base, key, self.request.user))
            context["queues"].append(
                {
                    "key": key,
                    "label": label,
                    "active": key == current,
                    "count": count,
                    "more": more,
                    "url": f"?queue={key}",
                }
            )
        context["namespace"] = self.namespace
        context["queue_actions"] = self.queue_actions()
        return context


class TicketDetailView(TicketViewMixin, View):
    def get(self, request, pk):
        record = self.get_record(pk)
        return render(request, "incidents/detail.html", detail_context(request, record, self))


def detail_context(request, record, view, **extra):
    user = request.user
    scope = scope_for(user)
    ct = ContentType.objects.get_for_model(type(record))
    context = {
        "record": record,
        "namespace": view.namespace,
        "timeline": timeline(record, user),
        "attachments": attachments_for(record, user),
        "transitions": actions.available_transitions(record, user),
        "can_change": can(user, "change", record) and record.is_open,
        "can_note": can(user, "work_note", record),
        "can_reply": can(user, "reply", record),
        "journal_form": JournalForm(initial={"kind": "reply"}),
        "transition_form": TransitionForm(initial={"version": record.version}),
        "attachment_form": AttachmentForm(),
        "content_type_id": ct.pk,
        "is_customer": scope.is_customer,
        "linked": links.linked_records(record, user) if not scope.is_customer else [],
        "panels": panels.panels_for(record, user),
    }
    if isinstance(record, Incident) and not scope.is_customer:
        context["major"] = {
            "declare_form": DeclareMajorForm(initial={"version": record.version}),
            "update_form": MajorUpdateForm(),
            "communication_form": CommunicationForm(),
            "review": MajorIncidentReview.objects.filter(incident=record).first(),
            "updates": record.major_updates.select_related("author"),
            "communications": record.communications.select_related("author"),
        }
        review = context["major"]["review"]
        context["major"]["review_form"] = ReviewForm(instance=review)
    context.update(extra)
    return context


def _respond(request, record, view, status=200, **extra):
    """htmx posts get the record panel back; plain posts are redirected to the page."""
    if request.headers.get("HX-Request"):
        return render(
            request,
            "incidents/_record.html",
            detail_context(request, record, view, **extra),
            status=status,
        )
    if status >= 400:
        for error in extra.get("errors", []):
            messages.error(request, error)
    return redirect(record.get_absolute_url())


def _error_messages(exc):
    if isinstance(exc, StaleRecordError):
        return [
            _(
                "Someone else changed this record since you opened it; nothing was "
                "saved. The page now shows the current record: check it and try again."
            )
        ]
    if hasattr(exc, "error_dict"):
        return [m for errors in exc.message_dict.values() for m in errors]
    return list(exc.messages)


def _invalid(form):
    return ValidationError({k: list(v) for k, v in form.errors.items()})


class TicketActionView(TicketViewMixin, View):
    """POST endpoints for the record page's buttons (also usable without JavaScript)."""

    # The major incident procedure exists for incidents only.
    incident_only = frozenset({"declare_major", "major_update", "communication", "review"})

    def post(self, request, pk, action):
        record = self.get_record(pk)
        handler = getattr(self, f"do_{action}", None)
        if handler is None or (action in self.incident_only and not isinstance(record, Incident)):
            raise Http404
        try:
            handler(request, record)
        except (StaleRecordError, ValidationError) as exc:
            status = 409 if isinstance(exc, StaleRecordError) else 400
            record = self.get_record(pk)
            return _respond(
                request,
                record,
                self,
                status=status,
                errors=_error_messages(exc),
                **self.keep_input(request, action, record),
            )
        except PermissionDenied:
            raise
        record = self.get_record(pk)
        if not request.headers.get("HX-Request"):
            messages.success(request, _("Saved."))
        return _respond(request, record, self)

    def keep_input(self, request, action, record):
        """What the user typed, to show again (against the current version) when their
        action was refused, so nothing they wrote is lost."""
        if action == "transition":
            data = request.POST.copy()
            data["version"] = record.version
            return {
                "transition_form": TransitionForm(data),
                "open_transition": request.POST.get("name"),
            }
        if action == "comment":
            return {"journal_body": request.POST.get("body", "")}
        return {}

    def _version(self, request):
        value = request.POST.get("version")
        if value is None or not str(value).isdigit():
            raise ValidationError(
                {"version": _("The form is missing its version; reload the page.")}
            )
        return int(value)

    def do_assign_me(self, request, record):
        actions.assign_to_me(record, request.user, expected_version=self._version(request))

    def do_transition(self, request, record):
        form = TransitionForm(request.POST)
        if not form.is_valid():
            raise _invalid(form)
        data = form.cleaned_data
        actions.transition(
            record,
            request.user,
            request.POST.get("name", ""),
            expected_version=data["version"],
            note=data["note"],
            resolution_code=data["resolution_code"],
            resolution_notes=data["resolution_notes"],
        )

    def do_comment(self, request, record):
        form = JournalForm(request.POST)
        if not form.is_valid():
            raise _invalid(form)
        kind = form.cleaned_data["kind"]
        if scope_for(request.user).is_customer:
            kind = "reply"
        actions.add_comment(record, request.user, kind, form.cleaned_data["body"])

    def do_declare_major(self, request, record):
        form = DeclareMajorForm(request.POST)
        if not form.is_valid():
            raise _invalid(form)
        actions.declare_major(
            record,
            request.user,
            reason=form.cleaned_data["major_reason"],
            manager=form.cleaned_data["major_manager"],
            expected_version=form.cleaned_data["version"],
        )

    def do_link(self, request, record):
        number = (request.POST.get("number") or "").strip().upper()
        model = {"INC": Incident, "REQ": ServiceRequest}.get(number[:3])
        other = model.objects.filter(number=number).first() if model else None
        if other is None:
            raise ValidationError({"number": links.NOT_FOUND % {"number": number}})
        links.link(record, other, request.user)

    def do_major_update(self, request, record):
        actions.add_major_update(record, request.user, request.POST.get("body", ""))

    def do_communication(self, request, record):
        form = CommunicationForm(request.POST)
        if not form.is_valid():
            raise _invalid(form)
        actions.log_communication(record, request.user, **form.cleaned_data)

    def do_review(self, request, record):
        form = ReviewForm(request.POST)
        if not form.is_valid():
            raise _invalid(form)
        data = dict(form.cleaned_data)
        complete = data.pop("complete")
        actions.save_review(record, request.user, data, complete=complete)


class TicketCreateView(TicketViewMixin, RecordFormMixin, View):
    def form(self, data=None):
        # A link from the catalogue ("report a problem with this service") preselects it.
        initial = {"service": self.request.GET.get("service")} if data is None else None
        if scope_for(self.request.user).is_customer:
            return customer_form_for(self.model, data, user=self.request.user, initial=initial)
        return ticket_form_for(self.model, data, user=self.request.user, initial=initial)

    def render_form(self, form, status=200):
        return render(
            self.request,
            "core/form.html",
            {
                "form": form,
                "title": _("New %(kind)s") % {"kind": self.model._meta.verbose_name},
                "cancel_url": reverse(f"{self.namespace}:queue"),
                "form_additions": panels.form_additions_for(self.model, self.request.user),
            },
            status=status,
        )

    def get(self, request):
        if not can(request.user, "add", self.model):
            raise PermissionDenied
        return self.render_form(self.form())

    def post(self, request):
        if not can(request.user, "add", self.model):
            raise PermissionDenied
        form = self.form(request.POST)
        if not form.is_valid():
            return self.render_form(form, status=400)
        data = {k: v for k, v in form.cleaned_data.items() if k not in ("priority", "version")}
        return self.run_action(
            form,
            lambda: actions.log_ticket(
                self.model,
                request.user,
                data,
                priority=form.cleaned_data.get("priority"),
                priority_reason=request.POST.get("priority_reason", ""),
            ),
        )


class TicketEditView(TicketViewMixin, RecordFormMixin, View):
    def render_form(self, form, status=200):
        return render(
            self.request,
            "core/form.html",
            {
                "form": form,
                "title": _("Edit %(record)s") % {"record": self.record.number},
                "cancel_url": self.record.get_absolute_url(),
            },
            status=status,
        )

    def get(self, request, pk):
        self.record = self.get_record(pk)
        if not can(request.user, "change", self.record):
            raise PermissionDenied
        return self.render_form(
            ticket_form_for(self.model, instance=self.record, user=request.user)
        )

    def post(self, request, pk):
        self.record = self.get_record(pk)
        if not can(request.user, "change", self.record):
            raise PermissionDenied
        original = self.model.objects.get(pk=pk)
        form = ticket_form_for(self.model, request.POST, instance=self.record, user=request.user)
        if not form.is_valid():
            return self.render_form(form, status=400)
        changes = {
            k: v
            for k, v in form.cleaned_data.items()
            if k not in ("priority", "version") and k in form.changed_data
        }
        return self.run_action(
            form,
            lambda: actions.update_ticket(
                original,
                request.user,
                changes,
                expected_version=form.cleaned_data.get("version"),
                priority=form.cleaned_data.get("priority"),
                priority_reason=request.POST.get("priority_reason", ""),
            ),
        )
