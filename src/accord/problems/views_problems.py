"""Problem pages: the list, log (also from incidents), the record page with its
lifecycle, root cause analysis, linked incidents, CIs, known errors and review, and
edit; plus the "Problems" panel of an incident. Views translate between HTTP and
``actions``; every rule lives there."""

from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views import View

from accord.core import panels
from accord.core.forms import key_of
from accord.core.policy import can, restrict, scope_for
from accord.core.views import (
    FormActionView,
    RecordFormMixin,
    RecordListView,
    StaffOnlyMixin,
    refusal_messages,
    timeline,
)
from accord.incidents.models import Incident

from . import actions
from .choices import Status
from .filters import ProblemFilterSet
from .forms import (
    ROW_FORMS,
    ActionDoneForm,
    AnalysisForm,
    LinkIncidentsForm,
    ProblemCreateForm,
    ProblemEditForm,
    ProblemNumberForm,
    ReviewActionForm,
    ReviewForm,
    TransitionForm,
    VersionForm,
    no_incident_message,
    parse_incident_refs,
    resolve_incidents,
)
from .models import Problem, ProblemReview, ReviewAction
from .tables import ProblemTable

STALE = _(
    "Someone else changed this problem since you opened it; nothing was saved. The page "
    "now shows the current problem: check it and try again."
)


def visible_problem(user, pk):
    problem = (
        restrict(
            Problem.objects.select_related(
                "owner", "assignment_team", "category", "risk_approver", "fix_verified_by"
            ),
            user,
        )
        .filter(pk=pk)
        .first()
    )
    if problem is None:
        raise Http404
    return problem


def may_write(user, problem_or_model=Problem):
    scope = scope_for(user)
    return scope is not None and not scope.read_only and can(user, "change", problem_or_model)


class ProblemListView(StaffOnlyMixin, RecordListView):
    model = Problem
    table_class = ProblemTable
    filterset_class = ProblemFilterSet
    list_name = "problems"
    create_url_name = "problems:create"

    @property
    def title(self):
        return _("Problems")


# --- log and edit ----------------------------------------------------------------------
def _initial_from(incidents):
    """A new problem's fields, filled in from the incidents it is raised from."""
    if not incidents:
        return {}
    first = incidents[0]
    if len(incidents) == 1:
        description = first.description or ""
    else:
        description = "\n".join(f"{i.number}: {i.short_description}" for i in incidents)
    categories = {i.category_id for i in incidents}
    services = {i.service_id for i in incidents if i.service_id}
    customers = {i.customer_id for i in incidents}
    return {
        "incidents": ", ".join(i.number for i in incidents),
        "short_description": first.short_description,
        "description": description,
        "impact": min(i.impact for i in incidents),
        "urgency": min(i.urgency for i in incidents),
        "category": first.category_id if len(categories) == 1 else None,
        "services": sorted(services),
        "customers": sorted(customers),
    }


def _form_values(form):
    data = dict(form.cleaned_data)
    extra = {}
    for name in ("priority", "priority_reason", "services", "customers", "incidents"):
        extra[name] = data.pop(name, None)
    data.pop("version", None)
    return data, extra


class ProblemCreateView(StaffOnlyMixin, LoginRequiredMixin, RecordFormMixin, View):
    template_name = "problems/problem_form.html"

    def check(self):
        if not can(self.request.user, "add", Problem) or scope_for(self.request.user).read_only:
            raise PermissionDenied

    def render_form(self, form, status=200):
        return render(
            self.request,
            self.template_name,
            {
                "form": form,
                "title": _("New problem"),
                "cancel_url": reverse("problems:list"),
                "linked": getattr(form, "linked", []),
            },
            status=status,
        )

    def get(self, request):
        self.check()
        refs = parse_incident_refs(request.GET.getlist("incidents"))[:200]
        incidents, missing = resolve_incidents(request.user, refs)
        form = ProblemCreateForm(user=request.user, initial=_initial_from(incidents))
        form.linked = incidents
        if missing:
            form.refused = no_incident_message(missing)
        return self.render_form(form)

    def post(self, request):
        self.check()
        form = ProblemCreateForm(request.POST, user=request.user)
        if not form.is_valid():
            return self.render_form(form, status=400)
        data, extra = _form_values(form)
        return self.run_action(
            form,
            lambda: actions.create_problem(
                request.user,
                data,
                services=extra["services"] or (),
                customers=extra["customers"] or (),
                incidents=extra["incidents"] or (),
                priority=extra["priority"],
                priority_reason=extra["priority_reason"] or "",
            ),
        )


class ProblemEditView(StaffOnlyMixin, LoginRequiredMixin, RecordFormMixin, View):
    template_name = "problems/problem_form.html"

    def setup_problem(self, request, pk):
        self.problem = visible_problem(request.user, pk)
        if not may_write(request.user, self.problem):
            raise PermissionDenied

    def render_form(self, form, status=200):
        return render(
            self.request,
            self.template_name,
            {
                "form": form,
                "title": _("Edit %(number)s") % {"number": self.problem.number},
                "cancel_url": self.problem.get_absolute_url(),
                "record": self.problem,
            },
            status=status,
        )

    def get(self, request, pk):
        self.setup_problem(request, pk)
        return self.render_form(ProblemEditForm(instance=self.problem, user=request.user))

    def post(self, request, pk):
        self.setup_problem(request, pk)
        problem = Problem.objects.get(pk=pk)
        form = ProblemEditForm(request.POST, instance=self.problem, user=request.user)
        if not form.is_valid():
            return self.render_form(form, status=400)
        data, extra = _form_values(form)
        changes = {k: v for k, v in data.items() if k in form.changed_data}
        customers = None
        if "customers" in form.changed_data:
            # Customers the user cannot see stay on the problem.
            seen = set(form.fields["customers"].queryset.values_list("pk", flat=True))
            customers = [
                *extra["customers"],
                *[c for c in problem.customers.all() if c.pk not in seen],
            ]
        priority = extra["priority"]
        rated = bool({"impact", "urgency"} & set(form.changed_data))
        if rated and priority in (None, problem.priority):
            priority = None  # new impact or urgency, priority left alone: the matrix's
        return self.run_action(
            form,
            lambda: actions.update_problem(
                problem,
                request.user,
                changes,
                services=extra["services"] if "services" in form.changed_data else None,
                customers=customers,
                expected_version=form.cleaned_data["version"],
                priority=priority,
                priority_reason=extra["priority_reason"] or "",
            ),
        )


# --- the record page -------------------------------------------------------------------
def _ci_panel(problem, user):
    """The CMDB's affected-CI panel: it works for any record page."""
    from accord.cmdb.views import affected_panel

    return affected_panel(problem, user)


def problem_context(request, problem, *, errors=(), bound=None, open_form=None):
    user = request.user
    writable = may_write(user, problem)
    editable = writable and problem.is_open
    bound = bound or {}
    steps = []
    for name, label in actions.available_transitions(problem, user):
        form = bound.get(f"tr-{name}") or TransitionForm(step=name, problem=problem)
        steps.append(
            {
                "name": name,
                "label": label,
                "form": form,
                "needs_input": bool(TransitionForm.STEP_FIELDS.get(name)),
                "open": open_form == f"tr-{name}",
            }
        )
    incidents = list(
        restrict(
            Incident.objects.filter(problem_links__problem=problem).select_related("customer"),
            user,
        ).order_by("problem_links__linked_at", "pk")
    )
    review = ProblemReview.objects.filter(problem=problem).first()
    review_actions = list(review.actions.select_related("owner")) if review is not None else []
    today = timezone.localdate()
    return {
        "record": problem,
        "errors": list(errors),
        "open_form": open_form,
        "writable": writable,
        "editable": editable,
        "steps": steps,
        "blockers": problem.closure_blockers() if problem.is_open else [],
        "may_confirm_fix": writable
        and problem.status == Status.RESOLVED
        and problem.fix_verified_at is None,
        "confirm_form": bound.get("confirm_fix")
        or VersionForm(initial={"version": problem.version}),
        "overdue": problem.is_open and problem.target_date and problem.target_date < today,
        "incidents": incidents,
        "link_form": bound.get("link") or LinkIncidentsForm(user=user),
        "services": list(problem.services.all()),
        "customers": list(restrict(problem.customers.all(), user)),
        "analysis_form": bound.get("analysis") or AnalysisForm(instance=problem),
        "timeline_rows": list(problem.timeline.all()),
        "factors": list(problem.contributing_factors.all()),
        "analysis_steps": list(problem.analysis_steps.all()),
        "row_forms": {
            kind: bound.get(f"row-{kind}") or form_class() for kind, form_class in ROW_FORMS.items()
        },
        "known_errors": list(restrict(problem.known_errors.all(), user).order_by("pk")),
        "review": review,
        "review_form": bound.get("review")
        or ReviewForm(
            initial={
                "summary": review.summary,
                "went_well": review.went_well,
                "went_badly": review.went_badly,
            }
            if review
            else None
        ),
        "review_actions": review_actions,
        "review_action_form": bound.get("review_action") or ReviewActionForm(),
        "done_errors": bound.get("done_errors", {}),
        "today": today,
        "ci_panel": _ci_panel(problem, user),
        "panels": panels.panels_for(problem, user),
        "timeline": timeline(problem, user),
    }


def respond(request, problem, status=200, **extra):
    """htmx posts get the record panel back; a plain post that was refused gets the
    whole page with the errors beside the fields, an accepted one a redirect."""
    context = problem_context(request, problem, **extra)
    if request.headers.get("HX-Request"):
        return render(request, "problems/_problem_record.html", context, status=status)
    return render(request, "problems/problem_detail.html", context, status=status)


class ProblemDetailView(StaffOnlyMixin, LoginRequiredMixin, View):
    def get(self, request, pk):
        return respond(request, visible_problem(request.user, pk))


class ProblemActionView(FormActionView):
    """POST endpoints of the record page's forms (htmx, or plain posts)."""

    stale_message = STALE

    def respond(self, request, problem, **kwargs):
        return respond(request, problem, **kwargs)

    def post(self, request, pk, action):
        problem = visible_problem(request.user, pk)
        handler = getattr(self, f"do_{action}", None)
        if handler is None:
            raise Http404
        if not may_write(request.user, problem):
            raise PermissionDenied
        refused = self.run(request, handler, problem, lambda: visible_problem(request.user, pk))
        if refused is not None:
            return refused
        problem = visible_problem(request.user, pk)
        if request.headers.get("HX-Request"):
            return respond(request, problem)
        messages.success(request, _("Saved."))
        return redirect(problem.get_absolute_url())

    def do_transition(self, request, problem):
        name = request.POST.get("name", "")
        if name not in TransitionForm.STEP_FIELDS:
            raise ValidationError({"transition": _("Unknown action %(name)s.") % {"name": name}})
        form = TransitionForm(request.POST, step=name)
        data = self.use(f"tr-{name}", form)
        actions.transition(
            problem,
            request.user,
            name,
            expected_version=data["version"],
            note=data.get("note", ""),
            **form.step_fields(),
        )

    def do_note(self, request, problem):
        self.key = "note"
        actions.add_work_note(problem, request.user, request.POST.get("body", ""))

    def do_confirm_fix(self, request, problem):
        data = self.use("confirm_fix", VersionForm(request.POST, auto_id="confirm-%s"))
        actions.confirm_fix(
            problem, request.user, note=data["note"], expected_version=data["version"]
        )

    def do_analysis(self, request, problem):
        form = AnalysisForm(request.POST, instance=problem)
        data = dict(self.use("analysis", form))
        version = data.pop("version")
        changes = {k: v for k, v in data.items() if k in form.changed_data}
        actions.update_problem(
            Problem.objects.get(pk=problem.pk),
            request.user,
            changes,
            expected_version=version,
            priority=problem.priority,
        )

    def do_link(self, request, problem):
        data = self.use("link", LinkIncidentsForm(request.POST, user=request.user))
        actions.link_incidents(problem, request.user, data["incidents"])

    def do_unlink(self, request, problem):
        raw = request.POST.get("incident", "")
        incident = None
        if key_of(raw) is not None:
            incident = restrict(Incident.objects.filter(pk=key_of(raw)), request.user).first()
        if incident is None:
            raise ValidationError({"incidents": no_incident_message([raw[:30]])})
        actions.unlink_incident(problem, request.user, incident)

    def do_add_row(self, request, problem):
        kind = request.POST.get("part", "")
        if kind not in ROW_FORMS:
            raise ValidationError({"kind": _("Unknown part of the analysis.")})
        data = self.use(f"row-{kind}", ROW_FORMS[kind](request.POST))
        actions.add_rca_row(problem, request.user, kind, data)

    def do_remove_row(self, request, problem):
        kind = request.POST.get("part", "")
        raw = request.POST.get("row", "")
        if key_of(raw) is None:
            raise ValidationError({"kind": _("That entry is not part of this problem.")})
        actions.remove_rca_row(problem, request.user, kind, key_of(raw))

    def do_review(self, request, problem):
        data = dict(self.use("review", ReviewForm(request.POST)))
        complete = data.pop("complete")
        actions.save_review(problem, request.user, data, complete=complete)

    def do_review_action(self, request, problem):
        data = self.use("review_action", ReviewActionForm(request.POST))
        actions.add_review_action(problem, request.user, **data)

    def do_action_done(self, request, problem):
        form = ActionDoneForm(request.POST)
        if not form.is_valid():
            raise ValidationError([f"{e}" for errors in form.errors.values() for e in errors])
        action = (
            ReviewAction.objects.filter(review__problem=problem, pk=form.cleaned_data["action"])
            .select_related("review__problem")
            .first()
        )
        if action is None:
            raise ValidationError(_("That prevention action is not part of this problem."))
        actions.complete_review_action(action, request.user, note=form.cleaned_data["note"])


# --- the incident side -----------------------------------------------------------------
def incident_panel(incident, user):
    """The "Problems" panel of an incident page: the problems it is linked to, a form
    to link it to another, and (in the toolbar) "Raise problem"."""
    scope = scope_for(user)
    if scope is None or not scope.is_staff:
        return None
    writer = not scope.read_only
    return {
        "template": "problems/_incident_problems.html",
        "toolbar": "problems/_incident_raise_problem.html"
        if writer and can(user, "add", Problem)
        else None,
        "problems": actions.problems_of(incident, user),
        "incident": incident,
        "can_link": writer and can(user, "change", Problem) and incident.is_open,
        "form": ProblemNumberForm(auto_id="incident-problem-%s"),
    }


class IncidentLinkView(StaffOnlyMixin, LoginRequiredMixin, View):
    """Link an incident to an existing problem by the problem's number."""

    def post(self, request, pk):
        incident = restrict(Incident.objects.filter(pk=pk), request.user).first()
        if incident is None:
            raise Http404
        if not may_write(request.user):
            raise PermissionDenied
        form = ProblemNumberForm(request.POST)
        if not form.is_valid():
            for error in form.errors.get("number", []):
                messages.error(request, _("Problem number: %(e)s") % {"e": error})
            return redirect(incident.get_absolute_url())
        number = form.cleaned_data["number"].strip().upper()
        problem = restrict(Problem.objects.filter(number=number), request.user).first()
        try:
            if problem is None:
                raise ValidationError(
                    _("You have no problem %(number)s.") % {"number": number[:20]}
                )
            actions.link_incidents(problem, request.user, [incident])
        except ValidationError as exc:
            for message in refusal_messages(exc):
                messages.error(request, message)
        else:
            messages.success(
                request, _("Linked to problem %(number)s.") % {"number": problem.number}
            )
        return redirect(incident.get_absolute_url())
