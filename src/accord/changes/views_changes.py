"""Change pages: the list, raise (also from a problem or an incident) and edit, the
record page (risk questionnaire, CMDB impact, CIs, conflicts, approvals, lifecycle,
review, the problems and incidents it fixes, the live CIs changed under it, work notes,
history); plus the panel of problems and incidents that lists the
changes fixing them (approvals and boards are in ``views_boards``). Views translate
between HTTP and ``actions``; the rules live there."""

from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views import View

from accord.core import history, panels
from accord.core.forms import key_of
from accord.core.policy import Role, can, restrict, scope_for
from accord.core.views import FormActionView as CoreFormActionView
from accord.core.views import RecordFormMixin, RecordListView, StaffOnlyMixin, timeline
from accord.incidents.models import Incident
from accord.problems.models import Problem

from . import actions, conflicts
from .choices import Approver, Decision, Kind, Status
from .filters import ChangeFilterSet, awaiting_approval_of
from .forms import (
    MAX_REFERENCES,
    AddCIForm,
    ChangeCreateForm,
    ChangeForm,
    DecisionForm,
    FixForm,
    NoteForm,
    OverrideForm,
    ReviewForm,
    RiskForm,
    TransitionForm,
    no_record_message,
    resolve_records,
)
from .models import (
    Board,
    BoardMeeting,
    Change,
    ChangeTemplate,
    RiskQuestion,
)
from .tables import ChangeTable

STALE = gettext_lazy(
    "Someone else changed this change since you opened it; nothing was saved. The page "
    "now shows the current change: check it and try again."
)
HIDDEN_CONFLICT = gettext_lazy(
    "Overlaps another change on a related configuration item (one you may not see)."
)


def visible_change(user, pk):
    change = (
        restrict(
            Change.objects.select_related(
                "assignment_team__manager",
                "assignee",
                "requester",
                "template",
                "board__chair",
                "conflict_override_by",
                "reviewed_by",
            ),
            user,
        )
        .filter(pk=pk)
        .first()
    )
    if change is None:
        raise Http404
    return change


def may_write(user, change_or_model=Change):
    scope = scope_for(user)
    return scope is not None and not scope.read_only and can(user, "change", change_or_model)


def may_approve(user, change_or_model=Change):
    scope = scope_for(user)
    return scope is not None and not scope.read_only and can(user, "approve", change_or_model)


class ChangeListView(StaffOnlyMixin, RecordListView):
    template_name = "changes/change_list.html"
    model = Change
    table_class = ChangeTable
    filterset_class = ChangeFilterSet
    list_name = "changes"
    create_url_name = "changes:create"

    @property
    def title(self):
        return _("Changes")

    def get_context_data(self, **kwargs):
        return super().get_context_data(
            awaiting_me=restrict(
                Change.objects.filter(awaiting_approval_of(self.request.user)), self.request.user
            ).count(),
            **kwargs,
        )


# --- raise and edit ---------------------------------------------------------------------------
def _cis_text(cis):
    return "\n".join(ci.name for ci in cis)


def _initial(kind, template, problems, incidents, user):
    """A new change's fields: from its standard template, and from the problems and
    incidents it is raised to fix."""
    initial = {"kind": kind}
    if template is not None:
        initial.update(
            template=template.pk,
            short_description=template.name,
            description=template.description,
            implementation_plan=template.implementation_plan,
            backout_plan=template.backout_plan,
            test_plan=template.test_plan,
            services=[s.pk for s in template.services.all()],
        )
    records = [*problems, *incidents]
    if records:
        first = records[0]
        text = _("Fix: %(what)s") % {"what": first.short_description}
        initial.setdefault("short_description", text[:160])
        initial["reason"] = _("Fixes %(numbers)s.") % {
            "numbers": ", ".join(r.number for r in records)
        }
        initial["problems"] = ", ".join(p.number for p in problems)
        initial["incidents"] = ", ".join(i.number for i in incidents)
        services = set(initial.get("services", []))
        customers = set()
        for problem in problems:
            services |= set(problem.services.values_list("pk", flat=True))
            customers |= set(restrict(problem.customers.all(), user).values_list("pk", flat=True))
        for incident in incidents:
            if incident.service_id:
                services.add(incident.service_id)
            customers.add(incident.customer_id)
        initial["services"] = sorted(services)
        initial["customers"] = sorted(customers)
    return initial


def _visible_cis(change, user):
    from accord.cmdb.models import ConfigurationItem

    ids = conflicts.change_ci_ids(change)
    cis = list(
        restrict(ConfigurationItem.objects.filter(pk__in=ids), user)
        .select_related("ci_type")
        .order_by("name", "pk")
    )
    return cis, len(ids) - len(cis)


def set_visible_cis(change, user, cis):
    """Replace the CIs the user sees on the change; one that names CIs the user may not
    see keeps its list (nobody may drop what they cannot see)."""
    _visible, hidden = _visible_cis(change, user)
    if hidden:
        raise ValidationError(
            {
                "cis": _(
                    "This change also names configuration items you may not see; only "
                    "someone who sees them all can change its list."
                )
            }
        )
    actions.set_cis(change, user, cis)


class ChangeCreateView(StaffOnlyMixin, LoginRequiredMixin, RecordFormMixin, View):
    template_name = "changes/change_form.html"

    def check(self):
        user = self.request.user
        if scope_for(user).read_only or not can(user, "add", Change):
            raise PermissionDenied

    def render_form(self, form, status=200):
        kind = Kind(form.kind).label if form.kind in Kind.values else ""
        return render(
            self.request,
            self.template_name,
            {
                "form": form,
                "title": _("New change: %(kind)s") % {"kind": str(kind).lower()},
                "cancel_url": reverse("changes:list"),
                "choose_url": reverse("changes:create"),
                "refused": getattr(form, "refused", {}),
                "linked": getattr(form, "linked", []),
            },
            status=status,
        )

    def get(self, request):
        self.check()
        problem_refs = request.GET.getlist("problem")[:MAX_REFERENCES]
        incident_refs = request.GET.getlist("incident")[:MAX_REFERENCES]
        kind = request.GET.get("kind", "")
        if kind not in Kind.values:
            carried = [("problem", r) for r in problem_refs] + [
                ("incident", r) for r in incident_refs
            ]
            return render(
                request,
                "changes/change_choose.html",
                {
                    "templates": ChangeTemplate.objects.filter(active=True),
                    "carried": "&" + urlencode(carried) if carried else "",
                },
            )
        template = None
        if kind == Kind.STANDARD:
            raw = request.GET.get("template", "")
            if key_of(raw) is not None:
                template = ChangeTemplate.objects.filter(active=True, pk=key_of(raw)).first()
        problems, missing_problems = resolve_records(Problem, request.user, problem_refs)
        incidents, missing_incidents = resolve_records(Incident, request.user, incident_refs)
        form = ChangeCreateForm(
            user=request.user,
            kind=kind,
            initial=_initial(kind, template, problems, incidents, request.user),
        )
        form.linked = [*problems, *incidents]
        form.refused = {}
        if missing_problems:
            form.refused["problems"] = no_record_message(Problem, missing_problems)
        if missing_incidents:
            form.refused["incidents"] = no_record_message(Incident, missing_incidents)
        return self.render_form(form)

    def post(self, request):
        self.check()
        kind = request.POST.get("kind", "")
        form = ChangeCreateForm(
            request.POST, user=request.user, kind=kind if kind in Kind.values else Kind.NORMAL
        )
        if not form.is_valid():
            return self.render_form(form, status=400)
        data, extra = form.values()
        return self.run_action(
            form,
            lambda: actions.create_change(
                request.user,
                data,
                services=extra["services"] or (),
                customers=extra["customers"] or (),
                cis=extra["cis"] or (),
                problems=extra["problems"] or (),
                incidents=extra["incidents"] or (),
            ),
        )


class ChangeEditView(StaffOnlyMixin, LoginRequiredMixin, RecordFormMixin, View):
    template_name = "changes/change_form.html"

    def setup_change(self, request, pk):
        self.change = visible_change(request.user, pk)
        if not may_write(request.user, self.change):
            raise PermissionDenied
        if self.change.status not in actions.EDITABLE_STATUSES:
            messages.error(
                request,
                _("A change %(status)s can no longer be edited; cancel it and raise a new one.")
                % {"status": self.change.get_status_display().lower()},
            )
            return redirect(self.change.get_absolute_url())
        return None

    def render_form(self, form, status=200):
        return render(
            self.request,
            self.template_name,
            {
                "form": form,
                "title": _("Edit %(number)s") % {"number": self.change.number},
                "cancel_url": self.change.get_absolute_url(),
                "record": self.change,
            },
            status=status,
        )

    def get(self, request, pk):
        refused = self.setup_change(request, pk)
        if refused:
            return refused
        cis, _hidden = _visible_cis(self.change, request.user)
        form = ChangeForm(instance=self.change, user=request.user, initial={"cis": _cis_text(cis)})
        return self.render_form(form)

    def post(self, request, pk):
        refused = self.setup_change(request, pk)
        if refused:
            return refused
        change = self.change
        visible, _hidden = _visible_cis(change, request.user)
        form = ChangeForm(
            request.POST,
            instance=Change.objects.get(pk=pk),
            user=request.user,
            initial={"cis": _cis_text(visible)},
        )
        if not form.is_valid():
            return self.render_form(form, status=400)
        data, extra = form.values()
        changes = {k: v for k, v in data.items() if k in form.changed_data}
        customers = None
        if "customers" in form.changed_data:
            # Customers the user cannot see stay on the change.
            seen = set(form.fields["customers"].queryset.values_list("pk", flat=True))
            customers = [
                *extra["customers"],
                *[c for c in change.customers.all() if c.pk not in seen],
            ]

        def save():
            with transaction.atomic():
                actions.update_change(
                    change,
                    request.user,
                    changes,
                    services=extra["services"] if "services" in form.changed_data else None,
                    customers=customers,
                    expected_version=extra["version"],
                )
                if "cis" in form.changed_data:
                    set_visible_cis(change, request.user, extra["cis"])
            return change

        return self.run_action(form, save)


# --- the record page ---------------------------------------------------------------------------
def _blocking(change):
    return change.conflicts.exists() and not (change.conflict_override or "").strip()


def conflict_rows(change, user):
    """The change's conflicts, explained; one naming a change the user may not see says
    so without naming it."""
    rows = list(change.conflicts.select_related("other"))
    others = {c.other_id for c in rows if c.other_id}
    seen = (
        set(restrict(Change.objects.filter(pk__in=others), user).values_list("pk", flat=True))
        if others
        else set()
    )
    out = []
    for row in rows:
        hidden = row.other_id is not None and row.other_id not in seen
        out.append(
            {
                "kind": row.get_kind_display(),
                "kind_key": row.kind,
                "explanation": HIDDEN_CONFLICT if hidden else row.explanation,
                "other": None if hidden else row.other,
                "found_at": row.found_at,
            }
        )
    return out


def approving_board(change):
    """The board that decides (or would decide) the change, by its approval rule."""
    if change.board_id:
        return change.board
    if change.approver_kind in (Approver.CAB, Approver.ECAB):
        return (
            Board.objects.filter(emergency=change.approver_kind == Approver.ECAB)
            .select_related("chair")
            .order_by("pk")
            .first()
        )
    return None


def _impact_context(change, user):
    from accord.cmdb.choices import CIStatus
    from accord.cmdb.models import CIType

    result = actions.impact(change, user)
    if result is None:
        return {"impact": None}
    return {
        "impact": result,
        "ci_types": dict(CIType.objects.values_list("pk", "name")),
        "ci_statuses": {k: str(v) for k, v in CIStatus.choices},
    }


def _live_changes_context(change, user):
    rows, hidden = actions.live_changes(change, user)
    return {"live_changes": rows, "hidden_live_changes": hidden}


def change_context(request, change, *, errors=(), bound=None, open_form=None):
    user = request.user
    bound = bound or {}
    writable = may_write(user, change)
    editable = writable and change.status in actions.EDITABLE_STATUSES
    steps = []
    for name, label in actions.available_transitions(change, user) if writable else []:
        form = bound.get(f"tr-{name}") or TransitionForm(step=name, change=change)
        steps.append(
            {
                "name": name,
                "label": label,
                "form": form,
                "needs_input": bool(TransitionForm.STEP_FIELDS.get(name)),
                "open": open_form == f"tr-{name}",
            }
        )
    approvals = list(change.approvals.select_related("approver", "board"))
    mine = next(
        (
            a
            for a in approvals
            if a.approver_id == user.pk
            and a.decision == Decision.PENDING
            and change.status == Status.AWAITING_APPROVAL
        ),
        None,
    )
    blocking = _blocking(change)
    conflict_list = conflict_rows(change, user)
    is_approver = any(a.approver_id == user.pk for a in approvals) or scope_for(user).role in (
        Role.ADMINISTRATOR,
        Role.MANAGER,
    )
    cis, hidden_cis = _visible_cis(change, user)
    fixes = list(change.fixes.all())
    problems = restrict(
        Problem.objects.filter(pk__in=[f.problem_id for f in fixes if f.problem_id]), user
    )
    incidents = restrict(
        Incident.objects.filter(pk__in=[f.incident_id for f in fixes if f.incident_id]), user
    ).select_related("customer")
    answers = list(
        change.risk_answers.select_related("question", "option").order_by(
            "question__position", "question_id"
        )
    )
    questions = list(RiskQuestion.objects.filter(active=True).prefetch_related("options"))
    context = {
        "record": change,
        "errors": list(errors),
        "open_form": open_form,
        "writable": writable,
        "editable": editable,
        "steps": steps,
        "missing": [
            Change._meta.get_field(name).verbose_name for name in change.missing_for_submission()
        ]
        if change.status == Status.DRAFT
        else [],
        "blockers": change.closure_blockers()
        if change.status in (Status.IMPLEMENTED, Status.REVIEW)
        else [],
        "answers": answers,
        "risk_form": bound.get("risk") or RiskForm(change=change, questions=questions)
        if editable and questions
        else None,
        "board": approving_board(change),
        "approvals": approvals,
        "my_approval": mine,
        "decide_form": bound.get("decide") or DecisionForm(conflicts=blocking) if mine else None,
        "conflicts": conflict_list,
        "blocking": blocking,
        "override_form": bound.get("override") or OverrideForm()
        if blocking and is_approver and may_approve(user, change) and change.is_open
        else None,
        "may_check_conflicts": writable
        and change.status
        in actions.EDITABLE_STATUSES + (Status.AWAITING_APPROVAL, Status.APPROVED, Status.SCHEDULED)
        and change.planned_start is not None,
        "cis": cis,
        "hidden_cis": hidden_cis,
        "ci_form": bound.get("add_ci") or AddCIForm(user=user) if editable else None,
        "review_form": bound.get("review") or ReviewForm(change=change)
        if writable and change.status in (Status.IMPLEMENTED, Status.REVIEW)
        else None,
        "note_form": bound.get("note") or NoteForm() if writable else None,
        "fix_form": bound.get("fix") or FixForm(user=user) if writable and change.is_open else None,
        "may_unlink": writable and change.is_open,
        **_live_changes_context(change, user),
        "problems": list(problems.order_by("pk")),
        "incidents": list(incidents.order_by("pk")),
        "services": list(change.services.all()),
        "customers": list(restrict(change.customers.all(), user)),
        "meetings": list(
            BoardMeeting.objects.filter(agenda__change=change).select_related("board")
        ),
        "panels": panels.panels_for(change, user),
        "timeline": timeline(change, user),
        **_impact_context(change, user),
    }
    # A refused form the page no longer offers (the change moved on): its messages go
    # to the page's alert, not nowhere.
    shown = {
        id(context[name])
        for name in (
            "risk_form",
            "decide_form",
            "override_form",
            "ci_form",
            "review_form",
            "note_form",
            "fix_form",
        )
    } | {id(s["form"]) for s in steps}
    for form in bound.values():
        if id(form) not in shown:
            context["errors"] += [m for texts in form.errors.values() for m in texts]
    return context


def respond(request, change, status=200, **extra):
    """htmx posts get the record panel back; a plain post that was refused gets the
    whole page with the errors beside the fields, an accepted one a redirect."""
    context = change_context(request, change, **extra)
    if request.headers.get("HX-Request"):
        return render(request, "changes/_change_record.html", context, status=status)
    return render(request, "changes/change_detail.html", context, status=status)


class ChangeDetailView(StaffOnlyMixin, LoginRequiredMixin, View):
    def get(self, request, pk):
        return respond(request, visible_change(request.user, pk))


class FormActionView(CoreFormActionView):
    """The change pages' form actions (changes, boards, releases)."""

    stale_message = STALE


class ChangeActionView(FormActionView):
    # Actions of approvers; every other one needs the right to change the change.
    APPROVER_ACTIONS = ("decide", "override")

    def respond(self, request, change, **kwargs):
        return respond(request, change, **kwargs)

    def post(self, request, pk, action):
        change = visible_change(request.user, pk)
        handler = getattr(self, f"do_{action}", None)
        if handler is None:
            raise Http404
        allowed = may_approve if action in self.APPROVER_ACTIONS else may_write
        if not allowed(request.user, change):
            raise PermissionDenied
        refused = self.run(request, handler, change, lambda: visible_change(request.user, pk))
        if refused is not None:
            return refused
        change = visible_change(request.user, pk)
        if request.headers.get("HX-Request"):
            return respond(request, change)
        messages.success(request, _("Saved."))
        return redirect(change.get_absolute_url())

    def do_transition(self, request, change):
        name = request.POST.get("name", "")
        if name not in TransitionForm.STEP_FIELDS:
            raise ValidationError(
                {"transition": _("Unknown action %(name)s.") % {"name": name[:30]}}
            )
        form = TransitionForm(request.POST, step=name)
        data = self.use(f"tr-{name}", form)
        actions.transition(
            change, request.user, name, expected_version=data["version"], **form.step_values()
        )

    def do_assess(self, request, change):
        form = RiskForm(request.POST)
        self.use("risk", form)
        actions.assess_risk(change, request.user, form.answers())

    def do_decide(self, request, change):
        form = DecisionForm(request.POST, conflicts=_blocking(change))
        data = self.use("decide", form)
        actions.decide(
            change,
            request.user,
            data["decision"],
            comment=data["comment"],
            override=data.get("conflict_override", ""),
        )

    def do_override(self, request, change):
        data = self.use("override", OverrideForm(request.POST))
        actions.override_conflicts(change, request.user, data["conflict_override"])

    def do_review(self, request, change):
        data = self.use("review", ReviewForm(request.POST))
        actions.review(change, request.user, data["review_notes"], expected_version=data["version"])

    def do_note(self, request, change):
        data = self.use("note", NoteForm(request.POST))
        actions.add_work_note(change, request.user, data["body"])

    def do_link_fixes(self, request, change):
        data = self.use("fix", FixForm(request.POST, user=request.user))
        actions.link_fixes(
            change, request.user, problems=data["problems"], incidents=data["incidents"]
        )

    def do_unlink_fix(self, request, change):
        for field, model in (("problem", Problem), ("incident", Incident)):
            raw = request.POST.get(field, "")
            if not raw:
                continue
            record = None
            if key_of(raw) is not None:
                record = restrict(model.objects.all(), request.user).filter(pk=key_of(raw)).first()
            if record is None:
                raise ValidationError(
                    {f"{field}s": _("No such %(noun)s.") % {"noun": model._meta.verbose_name}}
                )
            actions.unlink_fix(change, request.user, record)
            return
        raise ValidationError({"problems": _("Name the problem or incident to unlink.")})

    def _require_editable(self, change):
        if change.status not in actions.EDITABLE_STATUSES:
            raise ValidationError(
                {
                    "ci": _("The configuration items of a change %(status)s can no longer change.")
                    % {"status": change.get_status_display().lower()}
                }
            )

    def do_add_ci(self, request, change):
        self.key, self.form = "add_ci", AddCIForm(request.POST, user=request.user)
        self._require_editable(change)
        data = self.use("add_ci", self.form)
        current, _hidden = _visible_cis(change, request.user)
        with transaction.atomic():
            set_visible_cis(change, request.user, [*current, data["ci"]])

    def do_remove_ci(self, request, change):
        self._require_editable(change)
        current, _hidden = _visible_cis(change, request.user)
        raw = request.POST.get("ci", "")
        keep = [ci for ci in current if str(ci.pk) != raw]
        if len(keep) == len(current):
            raise ValidationError(_("That configuration item is not named on this change."))
        with transaction.atomic():
            set_visible_cis(change, request.user, keep)

    def do_check_conflicts(self, request, change):
        if not change.is_open or change.status in (
            Status.IMPLEMENTING,
            Status.IMPLEMENTED,
            Status.REVIEW,
        ):
            raise ValidationError(_("The conflicts of a change are checked until it starts."))
        with transaction.atomic():
            found = actions.refresh_conflicts(change)
            history.event(
                change,
                _("Conflicts checked: %(n)s found.") % {"n": len(found)},
                customer_visible=False,
            )


# --- problems and incidents: the changes that fix them --------------------------------------------
def fixes_panel(record, user):
    """The changes raised to fix a problem or an incident, and "Raise a change"."""
    scope = scope_for(user)
    if scope is None or not scope.is_staff:
        return None
    field = "problem" if isinstance(record, Problem) else "incident"
    changes = list(
        restrict(Change.objects.filter(**{f"fixes__{field}": record}), user)
        .distinct()
        .order_by("pk")
    )
    may_raise = not scope.read_only and can(user, "add", Change)
    return {
        "template": "changes/_change_fixes_panel.html",
        "changes": changes,
        "raise_url": f"{reverse('changes:create')}?{field}={record.pk}" if may_raise else None,
    }
