"""Release pages: the list, plan and edit, the record page (policies of its services,
changes, plan, acceptance and sign-off, deployments, incidents after roll-out, review,
history), the release policies per service; and the panel a change's page can show
with the releases that hold it. Views translate between HTTP and ``releases``; the
rules live there."""

from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Exists, OuterRef
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views import View

from accord.catalogue.models import Service
from accord.core.policy import can, restrict, scope_for
from accord.core.records import StaleRecordError
from accord.core.views import RecordFormMixin, RecordListView, StaffOnlyMixin, timeline
from accord.incidents.models import Incident

from . import deployments, releases
from .choices import DeploymentStatus, ReleaseStatus
from .filters import ReleaseFilterSet
from .forms_releases import (
    CriterionForm,
    DeploymentForm,
    DeploymentStepForm,
    LinkIncidentForm,
    PolicyForm,
    ReleaseForm,
    ReviewForm,
    SignOffForm,
    StageForm,
    TransitionForm,
)
from .models import Change, Release, ReleaseIncident, ReleasePolicy
from .tables import ReleaseTable
from .views_changes import FormActionView

NO_VERSION_ATTRIBUTE = gettext_lazy(
    "Its type keeps no version: the deployment is recorded and journalled on the CI, "
    "no attribute is written."
)


def visible_release(user, pk):
    release = restrict(Release.objects.select_related("manager"), user).filter(pk=pk).first()
    if release is None:
        raise Http404
    return release


# --- list -------------------------------------------------------------------------------------
class ReleaseListView(StaffOnlyMixin, RecordListView):
    template_name = "changes/release_list.html"
    model = Release
    table_class = ReleaseTable
    filterset_class = ReleaseFilterSet
    list_name = "releases"
    create_url_name = "changes:release_create"

    @property
    def title(self):
        return _("Releases")

    def base_queryset(self):
        return super().base_queryset().prefetch_related("services")


# --- plan and edit ------------------------------------------------------------------------------
class ReleaseFormView(StaffOnlyMixin, LoginRequiredMixin, RecordFormMixin, View):
    template_name = "changes/release_form.html"

    def render_form(self, form, status=200):
        release = form.release
        return render(
            self.request,
            self.template_name,
            {
                "form": form,
                "record": release,
                "title": _("Edit %(number)s") % {"number": release.number}
                if release
                else _("New release"),
                "cancel_url": release.get_absolute_url()
                if release
                else reverse("changes:release_list"),
            },
            status=status,
        )


class ReleaseCreateView(ReleaseFormView):
    def check(self):
        if scope_for(self.request.user).read_only or not can(self.request.user, "add", Release):
            raise PermissionDenied

    def get(self, request):
        self.check()
        initial = {"manager": request.user.pk}
        refs = request.GET.getlist("change")[:50]
        if refs:
            ids = [key for key in map(_int, refs) if key is not None]
            found = restrict(Change.objects.filter(pk__in=ids), request.user)
            initial["changes"] = ", ".join(c.number for c in found.order_by("pk"))
            initial["services"] = sorted(set(found.values_list("services", flat=True)) - {None})
        return self.render_form(ReleaseForm(user=request.user, initial=initial))

    def post(self, request):
        self.check()
        form = ReleaseForm(request.POST, user=request.user)
        if not form.is_valid():
            return self.render_form(form, status=400)
        data, extra = form.values()
        return self.run_action(
            form,
            lambda: releases.create_release(
                request.user,
                data,
                services=extra["services"],
                customers=extra["customers"],
                changes=extra["changes"],
            ),
        )


class ReleaseEditView(ReleaseFormView):
    def setup_release(self, request, pk):
        self.release = visible_release(request.user, pk)
        if not releases.may_write(request.user, self.release):
            raise PermissionDenied
        if self.release.status not in releases.EDITABLE_STATUSES:
            messages.error(
                request,
                _("A release %(status)s can no longer be edited.")
                % {"status": self.release.get_status_display().lower()},
            )
            return redirect(self.release.get_absolute_url())
        return None

    def get(self, request, pk):
        refused = self.setup_release(request, pk)
        if refused:
            return refused
        return self.render_form(ReleaseForm(user=request.user, release=self.release))

    def post(self, request, pk):
        refused = self.setup_release(request, pk)
        if refused:
            return refused
        release = self.release
        form = ReleaseForm(request.POST, user=request.user, release=release)
        if not form.is_valid():
            return self.render_form(form, status=400)
        data, extra = form.values()
        # What the user cannot see stays on the release.
        seen_customers = set(form.fields["customers"].queryset.values_list("pk", flat=True))
        customers = [
            *extra["customers"],
            *[c for c in release.customers.all() if c.pk not in seen_customers],
        ]
        seen_changes = set(
            restrict(release.changes.all(), request.user).values_list("pk", flat=True)
        )
        changes = [
            *extra["changes"],
            *[c for c in release.changes.all() if c.pk not in seen_changes],
        ]

        def save():
            with transaction.atomic():
                return releases.update_release(
                    release,
                    request.user,
                    data,
                    services=extra["services"],
                    customers=customers,
                    changes=changes,
                    expected_version=extra["version"],
                )

        return self.run_action(form, save)


# --- the record page ------------------------------------------------------------------------------
def _policies(release):
    services = list(release.services.all().order_by("name"))
    policies = {p.service_id: p for p in ReleasePolicy.objects.filter(service__in=services)}
    return [(s, policies.get(s.pk)) for s in services]


def _deployment_rows(release, user, writable, bound):
    from accord.cmdb.models import ConfigurationItem

    rows = list(
        release.deployments.select_related("ci__ci_type", "change").prefetch_related(
            "ci__ci_type__attribute_definitions"
        )
    )
    seen_cis = set(
        restrict(
            ConfigurationItem.objects.filter(pk__in=[d.ci_id for d in rows]), user
        ).values_list("pk", flat=True)
    )
    seen_changes = set(
        restrict(
            Change.objects.filter(pk__in=[d.change_id for d in rows if d.change_id]), user
        ).values_list("pk", flat=True)
    )
    # Go-live is offered from planning on: before acceptance the step is refused with
    # the reason, which says more than a missing button.
    active = release.status in releases.PLANNING_STATUSES
    out = []
    for d in rows:
        visible = d.ci_id in seen_cis
        steps = {}
        if writable and visible:
            if active and d.status in (DeploymentStatus.PLANNED, DeploymentStatus.FAILED):
                steps["deploy"] = bound.get(f"deploy-{d.pk}") or DeploymentStepForm(
                    step="done", deployment=d
                )
            if d.status == DeploymentStatus.PLANNED:
                steps["fail"] = bound.get(f"fail-{d.pk}") or DeploymentStepForm(
                    step="fail", deployment=d
                )
                steps["remove_deployment"] = DeploymentStepForm(step="remove", deployment=d)
            if d.status == DeploymentStatus.DONE and release.status in (
                ReleaseStatus.DEPLOYING,
                ReleaseStatus.DEPLOYED,
            ):
                steps["roll_back"] = bound.get(f"roll_back-{d.pk}") or DeploymentStepForm(
                    step="roll_back", deployment=d
                )
        out.append(
            {
                "deployment": d,
                "visible": visible,
                "change_visible": d.change_id in seen_changes,
                "versioned": deployments.has_version_attribute(d.ci) if visible else None,
                "steps": steps,
            }
        )
    return out


def release_context(request, release, *, errors=(), bound=None, open_form=None):
    user = request.user
    bound = bound or {}
    writable = releases.may_write(user, release)
    editable = writable and release.status in releases.EDITABLE_STATUSES
    planning = writable and release.status in releases.PLANNING_STATUSES
    steps = []
    for name, label in releases.available_transitions(release, user):
        steps.append(
            {
                "name": name,
                "label": label,
                "form": bound.get(f"tr-{name}") or TransitionForm(step=name, release=release),
                "needs_input": name in releases.NOTE_NEEDED,
                "open": open_form == f"tr-{name}",
            }
        )
    criteria = list(release.criteria.select_related("approver"))
    sign_forms = {}
    if release.status == ReleaseStatus.ACCEPTANCE and not scope_for(user).read_only:
        for c in criteria:
            if c.approver_id == user.pk:
                sign_forms[c.pk] = bound.get(f"sign-{c.pk}") or SignOffForm(criterion=c)
    changes = list(restrict(release.changes.all(), user).order_by("pk"))
    hidden_changes = release.changes.count() - len(changes)
    links = {link.incident_id: link for link in ReleaseIncident.objects.filter(release=release)}
    incidents = list(
        restrict(Incident.objects.filter(pk__in=list(links)), user)
        .select_related("customer", "service")
        .order_by("created", "pk")
    )
    incident_rows = [(i, links[i.pk]) for i in incidents]
    may_link = writable and release.status in (ReleaseStatus.DEPLOYING, ReleaseStatus.DEPLOYED)
    context = {
        "record": release,
        "errors": list(errors),
        "open_form": open_form,
        "writable": writable,
        "editable": editable,
        "steps": steps,
        "policies": _policies(release),
        "services": list(release.services.all().order_by("name")),
        "customers": list(restrict(release.customers.all(), user)),
        "changes": changes,
        "hidden_changes": hidden_changes,
        "stages": list(release.stages.all()),
        "stage_form": bound.get("stage") or StageForm() if planning else None,
        "criteria": criteria,
        "sign_forms": sign_forms,
        "criterion_form": bound.get("criterion") or CriterionForm() if editable else None,
        "acceptance_blockers": releases.acceptance_blockers(release)
        if release.status == ReleaseStatus.ACCEPTANCE
        else [],
        "deployments": _deployment_rows(release, user, writable, bound),
        "deployment_form": bound.get("plan_deployment") or DeploymentForm(user=user)
        if planning
        else None,
        "no_version_text": NO_VERSION_ATTRIBUTE,
        "review_window": releases.review_window(release),
        "incident_rows": incident_rows,
        "link_form": bound.get("link_incident") or LinkIncidentForm(user=user)
        if may_link
        else None,
        "review_form": bound.get("review") or ReviewForm(release=release)
        if writable and release.status == ReleaseStatus.DEPLOYED
        else None,
        "timeline": timeline(release, user),
    }
    shown = {
        id(context[name])
        for name in (
            "stage_form",
            "criterion_form",
            "deployment_form",
            "link_form",
            "review_form",
        )
    }
    shown |= {id(s["form"]) for s in steps} | {id(f) for f in sign_forms.values()}
    for row in context["deployments"]:
        shown |= {id(f) for f in row["steps"].values()}
    for form in bound.values():
        if id(form) not in shown:
            context["errors"] += [m for texts in form.errors.values() for m in texts]
    return context


def respond(request, release, status=200, **extra):
    context = release_context(request, release, **extra)
    if request.headers.get("HX-Request"):
        return render(request, "changes/_release_record.html", context, status=status)
    return render(request, "changes/release_detail.html", context, status=status)


class ReleaseDetailView(StaffOnlyMixin, LoginRequiredMixin, View):
    def get(self, request, pk):
        release = visible_release(request.user, pk)
        if release.status == ReleaseStatus.DEPLOYED and not scope_for(request.user).read_only:
            # The list of incidents is current when the review is read.
            with transaction.atomic():
                releases.link_review_incidents(release)
        return respond(request, release)


def _int(value):
    """A posted id, or None (a long string is not converted: that alone would fail)."""
    text = str(value or "")
    ok = text.isascii() and text.isdigit() and len(text) <= 19
    return int(text) if ok and int(text) < 2**63 else None


class ReleaseActionView(FormActionView):
    """The POST endpoints of the release page's forms."""

    # Signing off is for the named approver, who is checked by the action.
    OPEN_ACTIONS = ("sign_off",)

    def respond(self, request, release, **kwargs):
        return respond(request, release, **kwargs)

    def post(self, request, pk, action):
        release = visible_release(request.user, pk)
        handler = getattr(self, f"do_{action}", None)
        if handler is None:
            raise Http404
        if action not in self.OPEN_ACTIONS and not releases.may_write(request.user, release):
            raise PermissionDenied
        refused = self.run(request, handler, release, lambda: visible_release(request.user, pk))
        if refused is not None:
            return refused
        release = visible_release(request.user, pk)
        if request.headers.get("HX-Request"):
            return respond(request, release)
        messages.success(request, _("Saved."))
        return redirect(release.get_absolute_url())

    def do_transition(self, request, release):
        name = request.POST.get("name", "")
        if name not in releases.TRANSITIONS:
            raise ValidationError(
                {"transition": _("Unknown action %(name)s.") % {"name": name[:30]}}
            )
        data = self.use(f"tr-{name}", TransitionForm(request.POST, step=name))
        releases.transition(
            release,
            request.user,
            name,
            expected_version=data["version"],
            note=data.get("note", ""),
        )

    def do_add_stage(self, request, release):
        data = self.use("stage", StageForm(request.POST))
        releases.add_stage(
            release,
            request.user,
            kind=data["kind"],
            target=data["target"],
            starts_on=data["starts_on"],
            ends_on=data["ends_on"],
        )

    def do_complete_stage(self, request, release):
        releases.complete_stage(release, request.user, _int(request.POST.get("stage")))

    def do_remove_stage(self, request, release):
        releases.remove_stage(release, request.user, _int(request.POST.get("stage")))

    def do_add_criterion(self, request, release):
        data = self.use("criterion", CriterionForm(request.POST))
        releases.add_criterion(release, request.user, text=data["text"], approver=data["approver"])

    def do_remove_criterion(self, request, release):
        releases.remove_criterion(release, request.user, _int(request.POST.get("criterion")))

    def do_sign_off(self, request, release):
        key = f"sign-{_int(request.POST.get('criterion'))}"
        data = self.use(key, SignOffForm(request.POST))
        try:
            releases.sign_off(
                release, request.user, data["criterion"], data["decision"], comment=data["comment"]
            )
        except PermissionDenied as exc:
            # Said on the page: the approver is named there.
            raise ValidationError(str(exc) or _("You are not allowed to do this.")) from None

    def do_plan_deployment(self, request, release):
        data = self.use("plan_deployment", DeploymentForm(request.POST, user=request.user))
        deployments.plan_deployment(
            release,
            request.user,
            ci=data["ci"],
            change=data["change"],
            planned_for=data["planned_for"],
            note=data["note"],
        )

    def _deployment_step(self, request, step, key):
        form = DeploymentStepForm(request.POST, step=step)
        deployment = _int(request.POST.get("deployment"))
        return self.use(f"{key}-{deployment}", form)

    def do_deploy(self, request, release):
        data = self._deployment_step(request, "done", "deploy")
        deployments.complete_deployment(
            release, request.user, data["deployment"], note=data["note"]
        )

    def do_fail(self, request, release):
        data = self._deployment_step(request, "fail", "fail")
        deployments.fail_deployment(release, request.user, data["deployment"], note=data["note"])

    def do_roll_back(self, request, release):
        data = self._deployment_step(request, "roll_back", "roll_back")
        deployments.roll_back(release, request.user, data["deployment"], note=data["note"])

    def do_remove_deployment(self, request, release):
        deployments.remove_deployment(release, request.user, _int(request.POST.get("deployment")))

    def do_link_incident(self, request, release):
        data = self.use("link_incident", LinkIncidentForm(request.POST, user=request.user))
        releases.link_incident(release, request.user, data["incident"])

    def do_unlink_incident(self, request, release):
        releases.unlink_incident(release, request.user, _int(request.POST.get("incident")))

    def do_review(self, request, release):
        data = self.use("review", ReviewForm(request.POST))
        releases.review(
            release, request.user, data["review_notes"], expected_version=data["version"]
        )


# --- release policies -----------------------------------------------------------------------------
def may_edit_policy(user, policy=None):
    scope = scope_for(user)
    action = "change" if policy is not None else "add"
    return scope is not None and not scope.read_only and can(user, action, ReleasePolicy)


class PolicyListView(StaffOnlyMixin, LoginRequiredMixin, View):
    """The services, with and without a release policy."""

    def get(self, request):
        has = request.GET.get("policy", "")
        services = restrict(Service.objects.all(), request.user).annotate(
            has_policy=Exists(ReleasePolicy.objects.filter(service=OuterRef("pk")))
        )
        if has == "yes":
            services = services.filter(has_policy=True)
        elif has == "no":
            services = services.filter(has_policy=False)
        return render(
            request,
            "changes/release_policy_list.html",
            {
                "services": list(services.order_by("name")),
                "chosen": has if has in ("yes", "no") else "",
                "title": _("Release policies"),
            },
        )


class PolicyView(StaffOnlyMixin, LoginRequiredMixin, RecordFormMixin, View):
    """One service's release policy with its history, edited by those allowed."""

    template_name = "changes/release_policy.html"

    def setup_service(self, request, service_pk):
        self.service = restrict(Service.objects.all(), request.user).filter(pk=service_pk).first()
        if self.service is None:
            raise Http404
        self.policy = ReleasePolicy.objects.filter(service=self.service).first()
        self.editable = may_edit_policy(request.user, self.policy)

    def render_form(self, form, status=200):
        return render(
            self.request,
            self.template_name,
            {
                "service": self.service,
                "policy": self.policy,
                "form": form if self.editable else None,
                "title": _("Release policy of %(service)s") % {"service": self.service},
                "timeline": timeline(self.policy, self.request.user) if self.policy else [],
            },
            status=status,
        )

    def get(self, request, service_pk):
        self.setup_service(request, service_pk)
        return self.render_form(PolicyForm(instance=self.policy))

    def post(self, request, service_pk):
        self.setup_service(request, service_pk)
        if not self.editable:
            raise PermissionDenied
        form = PolicyForm(request.POST, instance=self.policy)
        if not form.is_valid():
            return self.render_form(form, status=400)
        data = form.cleaned_data

        def save():
            releases.save_policy(
                self.service, request.user, data, expected_version=data.get("version")
            )
            messages.success(request, _("Release policy saved."))
            return self.service

        try:
            with transaction.atomic():
                save()
        except ValidationError as exc:
            return self.apply_errors(form, exc)
        except StaleRecordError as exc:
            return self.stale_response(form, exc)
        return redirect("changes:release_policy", service_pk=self.service.pk)


# --- the change page: the releases that hold it ---------------------------------------------------
def change_releases_panel(record, user):
    """For a change's page: the releases grouping it (those the user may see) and
    "Plan a release" with it."""
    scope = scope_for(user)
    if scope is None or not scope.is_staff:
        return None
    found = list(restrict(Release.objects.filter(changes=record), user).distinct().order_by("pk"))
    may_plan = not scope.read_only and can(user, "add", Release)
    return {
        "template": "changes/_release_change_panel.html",
        "releases": found,
        "plan_url": f"{reverse('changes:release_create')}?change={record.pk}" if may_plan else None,
    }
