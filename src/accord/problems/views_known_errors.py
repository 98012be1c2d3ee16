"""Pages of the known error database: the list (words, service, CI, status), a known
error's page (its workaround rendered from Markdown, the incidents it served, its
history), create and edit; applying a workaround to an incident; the suggestions for
an incident, as the incident page's panel and as a fragment the incident form asks
for while the agent types."""

import functools

from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Exists, OuterRef
from django.http import Http404, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.html import escape
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views import View
from markdown_it import MarkdownIt

from accord.cmdb.actions import link_record, unlink_record
from accord.cmdb.models import CILink, ConfigurationItem
from accord.core.policy import can, restrict, scope_for
from accord.core.tables import Column, Table
from accord.core.views import (
    RecordFormMixin,
    RecordListView,
    StaffOnlyMixin,
    refusal_messages,
    timeline,
)
from accord.incidents.models import Incident

from . import actions, suggestions
from .forms_known_errors import KnownErrorFilterSet, KnownErrorForm, SuggestionQueryForm
from .models import KnownError, KnownErrorUse, Problem

SERVED_SHOWN = 50


# --- Markdown ------------------------------------------------------------------------
def _markdown():
    # CommonMark with raw HTML off (written HTML comes out as text), tables and
    # strikethrough on, images off (they would load from elsewhere; the CSP refuses
    # that). Links are checked by markdown-it (no javascript: or data: URLs).
    md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
    md.enable(["table", "strikethrough"])
    md.disable("image")

    def link_open(renderer, tokens, idx, options, env):
        tokens[idx].attrSet("rel", "nofollow noopener")
        return renderer.renderToken(tokens, idx, options, env)

    md.add_render_rule("link_open", link_open)
    return md


_MD = _markdown()


def render_workaround(text):
    """A workaround's Markdown as safe HTML: everything the author typed is escaped
    by the renderer, and only its own tags come out."""
    return mark_safe(_rendered(text or ""))  # noqa: S308  (html off: input escaped)


@functools.lru_cache(maxsize=1024)
def _rendered(text):
    # The same few workarounds are suggested over and over.
    return _MD.render(text)


# --- list ------------------------------------------------------------------------------
def _services_html(row):
    names = [s.name for s in row.services.all()]
    return escape(", ".join(names)) if names else '<span class="text-body-tertiary">—</span>'


def _visible_problem(row):
    """The row's problem if the user may see it (annotated by the list)."""
    return row.problem if getattr(row, "problem_visible", False) else None


def _problem_html(row):
    problem = _visible_problem(row)
    if problem is None:
        return '<span class="text-body-tertiary">—</span>'
    return f'<a href="{escape(problem.get_absolute_url())}">{escape(problem.number)}</a>'


class KnownErrorTable(Table):
    columns = (
        Column("number", gettext_lazy("Number"), sort="number", link=True),
        Column("short_description", gettext_lazy("Title"), link=True),
        Column("status", gettext_lazy("Status"), accessor="get_status_display", badge=True),
        Column(
            "services",
            gettext_lazy("Services"),
            accessor=lambda row: ", ".join(s.name for s in row.services.all()),
            html=_services_html,
        ),
        Column("use_count", gettext_lazy("Incidents served"), sort="use_count"),
        Column(
            "problem",
            gettext_lazy("Problem"),
            accessor=lambda row: getattr(_visible_problem(row), "number", ""),
            html=_problem_html,
        ),
        Column("updated", gettext_lazy("Updated"), sort="updated"),
    )
    default_sort = "-updated"
    select_related = ("problem",)


class KnownErrorListView(StaffOnlyMixin, RecordListView):
    model = KnownError
    table_class = KnownErrorTable
    filterset_class = KnownErrorFilterSet
    list_name = "known_errors"
    title = gettext_lazy("Known errors")
    create_url_name = "problems:known_error_create"

    def base_queryset(self):
        # The services column of a page in one query; the problem named only when
        # the user may see it.
        visible = restrict(Problem.objects.filter(pk=OuterRef("problem_id")), self.request.user)
        return (
            super()
            .base_queryset()
            .prefetch_related("services")
            .annotate(problem_visible=Exists(visible))
        )


# --- one known error ------------------------------------------------------------------
def visible_known_error(user, pk):
    known = restrict(KnownError.objects.select_related("problem"), user).filter(pk=pk).first()
    if known is None:
        raise Http404
    return known


def _linked_cis(known, user):
    ids = CILink.objects.filter(
        content_type=ContentType.objects.get_for_model(KnownError), object_id=known.pk
    ).values("ci_id")
    return restrict(ConfigurationItem.objects.filter(pk__in=ids), user).order_by("name")


class KnownErrorDetailView(StaffOnlyMixin, LoginRequiredMixin, View):
    def get(self, request, pk):
        user = request.user
        known = visible_known_error(user, pk)
        uses = KnownErrorUse.objects.filter(known_error=known)
        served = (
            restrict(Incident.objects.filter(pk__in=uses.values("incident_id")), user)
            .select_related("customer")
            .order_by("-pk")
        )
        problem = None
        if known.problem_id:
            problem = restrict(Problem.objects.filter(pk=known.problem_id), user).first()
        scope = scope_for(user)
        return render(
            request,
            "problems/known_error_detail.html",
            {
                "known": known,
                "workaround_html": render_workaround(known.workaround),
                "problem": problem,
                "services": restrict(known.services.all(), user),
                "customers": restrict(known.customers.all(), user),
                "cis": _linked_cis(known, user),
                "served": served[:SERVED_SHOWN],
                "served_more": served.count() > SERVED_SHOWN,
                "timeline": timeline(known, user),
                "can_change": can(user, "change", known) and not scope.read_only,
                "title": str(known),
            },
        )


class KnownErrorEditView(StaffOnlyMixin, LoginRequiredMixin, RecordFormMixin, View):
    """Create (``pk`` None) or edit a known error; the page carries the version it was
    read at, and a stale save is refused with the user's input kept."""

    template_name = "problems/known_error_form.html"

    def setup_object(self, request, pk):
        if pk is None:
            if not can(request.user, "add", KnownError):
                raise PermissionDenied
            return KnownError()
        known = visible_known_error(request.user, pk)
        if not can(request.user, "change", known) or scope_for(request.user).read_only:
            raise PermissionDenied
        return known

    def render_form(self, form, status=200):
        obj = form.instance if form.instance.pk else None
        title = (
            _("Edit %(name)s") % {"name": obj.number}
            if obj
            else _("New %(kind)s") % {"kind": KnownError._meta.verbose_name}
        )
        cancel = obj.get_absolute_url() if obj else reverse("problems:known_error_list")
        return render(
            self.request,
            self.template_name,
            {"form": form, "title": title, "cancel_url": cancel, "known": obj},
            status=status,
        )

    def get(self, request, pk=None):
        known = self.setup_object(request, pk)
        return self.render_form(KnownErrorForm(instance=known, user=request.user))

    def post(self, request, pk=None):
        known = self.setup_object(request, pk)
        form = KnownErrorForm(request.POST, instance=known, user=request.user)
        if not form.is_valid():
            return self.render_form(form, status=400)
        data = form.cleaned_data
        keep_services, keep_customers = form.services_to_keep(), form.customers_to_keep()
        visible_before = {c.pk: c for c in form.visible_cis()}

        def save():
            with transaction.atomic():
                saved = actions.save_known_error(
                    form.instance,
                    request.user,
                    services=[*data["services"], *keep_services],
                    customers=[*data["customers"], *keep_customers],
                    expected_version=data.get("version") if pk else None,
                )
                wanted = {c.pk: c for c in data["cis"]}
                for ci_pk, ci in wanted.items():
                    if ci_pk not in visible_before:
                        link_record(ci, saved, request.user)
                for ci_pk, ci in visible_before.items():
                    if ci_pk not in wanted:
                        unlink_record(ci, saved)
            return saved

        return self.run_action(form, save)


# --- applying a workaround ------------------------------------------------------------
class ApplyWorkaroundView(StaffOnlyMixin, LoginRequiredMixin, View):
    """POST: use the known error's workaround on an incident (from the incident page's
    suggestions); back to the incident, whose journal now says so."""

    def post(self, request, pk):
        known = visible_known_error(request.user, pk)
        value = request.POST.get("incident", "")
        if not value.isascii() or not value.isdigit() or len(value) > 18:
            raise Http404
        incident = restrict(Incident.objects.all(), request.user).filter(pk=int(value)).first()
        if incident is None:
            raise Http404
        try:
            actions.apply_workaround(known, incident, request.user)
        except ValidationError as exc:
            for message in refusal_messages(exc):
                messages.error(request, message)
        else:
            messages.success(
                request,
                _("Workaround from %(known)s applied; the journal says so.")
                % {"known": known.number},
            )
        return HttpResponseRedirect(incident.get_absolute_url())


# --- suggestions ------------------------------------------------------------------------
def _panel_items(found):
    # Labels and URLs made here rather than by template tags in a loop: this is on
    # every incident page.
    apply_url = reverse("problems:known_error_apply", args=[987654321])
    return [
        {
            "suggestion": s,
            "known": s.known_error,
            "workaround_html": render_workaround(s.known_error.workaround),
            "apply_url": apply_url.replace("987654321", str(s.known_error.pk)),
            "apply_label": _("Apply the workaround of %(number)s")
            % {"number": s.known_error.number},
            "served": ngettext(
                "served %(n)s incident", "served %(n)s incidents", s.known_error.use_count
            )
            % {"n": s.known_error.use_count},
        }
        for s in found
    ]


def suggestions_panel(record, user):
    """The incident page's panel: matching known errors with their workarounds, and
    an "Apply workaround" button on each (or "Applied")."""
    scope = scope_for(user)
    if scope is None or not scope.is_staff or not isinstance(record, Incident):
        return None
    if not can(user, "view", KnownError):
        return None
    found = suggestions.for_incident(record, user)
    shown = {s.known_error.pk for s in found}
    # Workarounds applied earlier that are no longer among the best matches.
    applied_ids = KnownErrorUse.objects.filter(incident=record).values("known_error_id")
    earlier = [
        k
        for k in restrict(KnownError.objects.filter(pk__in=applied_ids), user).order_by("pk")
        if k.pk not in shown
    ]
    return {
        "template": "problems/_suggestions.html",
        "items": _panel_items(found),
        "earlier": earlier,
        "record": record,
        "can_apply": can(user, "change", record) and not scope.read_only and record.is_open,
        "in_panel": True,
    }


def suggestions_on_form(user):
    """Under the form that logs an incident: the known errors that match what the
    agent types (the script asks ``SuggestionsView``)."""
    scope = scope_for(user)
    if scope is None or not scope.is_staff or not can(user, "view", KnownError):
        return None
    return {"template": "problems/known_error_suggest_form.html"}


class SuggestionsView(StaffOnlyMixin, LoginRequiredMixin, View):
    """GET: the known errors that match an incident (``incident``) or the fields of one
    being logged (``service``, ``ci``, ``short_description``, ``description``), as an
    HTML fragment, or JSON with ``format=json``."""

    def get(self, request):
        if not can(request.user, "view", KnownError):
            raise PermissionDenied
        form = SuggestionQueryForm(request.GET, user=request.user)
        as_json = request.GET.get("format") == "json"
        if not form.is_valid():
            errors = {k: [str(m) for m in v] for k, v in form.errors.items()}
            if as_json:
                return JsonResponse({"errors": errors}, status=400)
            return render(
                request,
                "problems/_suggestions.html",
                {"panel": {"errors": errors, "items": []}},
                status=400,
            )
        data = form.cleaned_data
        record = None
        if data["incident"]:
            record = (
                restrict(Incident.objects.all(), request.user).filter(pk=data["incident"]).first()
            )
            if record is None:
                raise Http404
            found = suggestions.for_incident(record, request.user)
        else:
            found = suggestions.suggest(
                request.user,
                service_id=data["service"],
                ci_ids=data["ci"],
                short_description=data["short_description"],
                description=data["description"],
            )
        if as_json:
            return JsonResponse(
                {
                    "results": [
                        {
                            "id": s.known_error.pk,
                            "number": s.known_error.number,
                            "title": s.known_error.short_description,
                            "url": s.known_error.get_absolute_url(),
                            "score": s.score,
                            "same_service": s.same_service,
                            "same_cis": s.same_cis,
                            "words": s.words,
                            "applied": s.applied,
                            "incidents_served": s.known_error.use_count,
                            "workaround": s.known_error.workaround,
                        }
                        for s in found
                    ]
                }
            )
        scope = scope_for(request.user)
        panel = {
            "items": _panel_items(found),
            "record": record,
            "can_apply": record is not None
            and can(request.user, "change", record)
            and not scope.read_only
            and record.is_open,
            "asked": record is not None
            or any(
                (request.GET.get(name) or "").strip()
                for name in ("service", "ci", "short_description", "description")
            ),
        }
        return render(request, "problems/_suggestions.html", {"panel": panel})
