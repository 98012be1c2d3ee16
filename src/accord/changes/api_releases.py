"""REST API of releases (staff only): the records within the caller's scope with their
plan, acceptance criteria, deployments and the incidents of their review; and the
work on them, through the same rules as the pages (``releases``, ``deployments``):
lifecycle steps, plan stages, acceptance criteria and the named approvers' sign-off,
deployments and their go-live, fail or roll-back, and the post-release review."""

from django.db.models import Prefetch
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from accord.cmdb.models import ConfigurationItem
from accord.core.api import ReadOnlyRecordViewSet
from accord.core.policy import restrict
from accord.incidents.models import Incident
from accord.organizations.models import Customer

from . import deployments, releases
from .choices import Decision, StageKind
from .filters import ReleaseFilterSet
from .forms_releases import DeploymentForm, LinkIncidentForm
from .models import Change, Deployment, Release, ReleaseIncident

MAX_VERSION = 2**31


class StageSerializer(serializers.Serializer):
    kind = serializers.CharField()
    target = serializers.CharField()
    starts_on = serializers.DateField()
    ends_on = serializers.DateField()
    done_at = serializers.DateTimeField(allow_null=True)


class CriterionSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    text = serializers.CharField()
    approver = serializers.CharField(source="approver.username")
    decision = serializers.CharField()
    comment = serializers.CharField()
    decided_at = serializers.DateTimeField(allow_null=True)


class DeploymentSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    ci = serializers.IntegerField(source="ci_id", allow_null=True)
    ci_name = serializers.CharField(allow_null=True)
    change = serializers.CharField(allow_null=True)
    planned_for = serializers.DateTimeField()
    status = serializers.CharField()
    done_at = serializers.DateTimeField(allow_null=True)
    previous_version = serializers.CharField()
    note = serializers.CharField()


class ReleaseSerializer(serializers.ModelSerializer):
    services = serializers.PrimaryKeyRelatedField(many=True, read_only=True)
    customers = serializers.SerializerMethodField()
    manager = serializers.SlugRelatedField(slug_field="username", read_only=True)
    changes = serializers.SerializerMethodField()
    stages = StageSerializer(many=True, read_only=True)
    criteria = CriterionSerializer(many=True, read_only=True)
    deployments = serializers.SerializerMethodField()
    incidents = serializers.SerializerMethodField()
    accepted = serializers.SerializerMethodField()

    class Meta:
        model = Release
        fields = [
            "id",
            "number",
            "short_description",
            "release_version",
            "kind",
            "status",
            "description",
            "manager",
            "services",
            "customers",
            "changes",
            "stages",
            "criteria",
            "accepted",
            "deployments",
            "review_days",
            "incidents",
            "accepted_at",
            "deployed_at",
            "review_notes",
            "reviewed_at",
            "version",
            "created",
            "updated",
        ]
        read_only_fields = fields

    def _user(self):
        return self.context["request"].user

    def _seen(self, model):
        """The pks of ``model`` named by the releases being shown that the caller may
        see: one query per model for the whole page (the relations come prefetched)."""
        cache = self.context.setdefault("_seen", {})
        if model not in cache:
            page = self.parent.instance if self.parent is not None else [self.instance]
            ids = set()
            for release in page:
                if model is Customer:
                    ids |= {c.pk for c in release.customers.all()}
                elif model is Change:
                    ids |= {c.pk for c in release.changes.all()}
                    ids |= {d.change_id for d in release.deployments.all() if d.change_id}
                elif model is ConfigurationItem:
                    ids |= {d.ci_id for d in release.deployments.all()}
                else:
                    ids |= {link.incident_id for link in release.incident_links.all()}
            cache[model] = set(
                restrict(model.objects.filter(pk__in=ids), self._user()).values_list(
                    "pk", flat=True
                )
            )
        return cache[model]

    def get_customers(self, release) -> list[int]:
        """The customers the caller serves (others are neither named nor counted)."""
        seen = self._seen(Customer)
        return sorted(c.pk for c in release.customers.all() if c.pk in seen)

    def get_changes(self, release) -> list[str]:
        seen = self._seen(Change)
        return [c.number for c in sorted(release.changes.all(), key=lambda c: c.pk) if c.pk in seen]

    @extend_schema_field(DeploymentSerializer(many=True))
    def get_deployments(self, release):
        seen = self._seen(ConfigurationItem)
        changes = self._seen(Change)
        rows = []
        for d in release.deployments.all():
            visible = d.ci_id in seen
            rows.append(
                {
                    "id": d.pk,
                    "ci_id": d.ci_id if visible else None,
                    "ci_name": str(d.ci) if visible else None,
                    "change": d.change.number if d.change_id in changes else None,
                    "planned_for": d.planned_for,
                    "status": d.status,
                    "done_at": d.done_at,
                    "previous_version": d.previous_version if visible else "",
                    "note": d.note,
                }
            )
        return DeploymentSerializer(rows, many=True).data

    def get_incidents(self, release) -> list[str]:
        """The review's incidents the caller may see (others are neither named nor
        counted)."""
        seen = self._seen(Incident)
        links = sorted(release.incident_links.all(), key=lambda link: link.incident_id)
        return [link.incident.number for link in links if link.incident_id in seen]

    def get_accepted(self, release) -> bool:
        return not releases.acceptance_blockers(release)


class ReleaseTransitionSerializer(serializers.Serializer):
    name = serializers.ChoiceField(choices=sorted(releases.TRANSITIONS))
    note = serializers.CharField(required=False, allow_blank=True, max_length=5000)
    version = serializers.IntegerField(min_value=1, max_value=MAX_VERSION)


class SignOffSerializer(serializers.Serializer):
    criterion = serializers.IntegerField(min_value=1, max_value=MAX_VERSION)
    decision = serializers.ChoiceField(choices=[Decision.APPROVE, Decision.REJECT])
    comment = serializers.CharField(required=False, allow_blank=True, max_length=1000)


class StageInputSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=StageKind.choices)
    target = serializers.CharField(required=False, allow_blank=True, max_length=200)
    starts_on = serializers.DateField()
    ends_on = serializers.DateField()


class CriterionInputSerializer(serializers.Serializer):
    text = serializers.CharField(max_length=500)
    approver = serializers.SlugRelatedField(
        slug_field="username", queryset=releases.possible_approvers()
    )


class DeploymentInputSerializer(serializers.Serializer):
    ci = serializers.CharField(max_length=200, help_text="The CI's name or id.")
    change = serializers.CharField(max_length=30, help_text="One of the release's changes.")
    planned_for = serializers.DateTimeField()
    note = serializers.CharField(required=False, allow_blank=True, max_length=1000)


STEPS = {
    "done": deployments.complete_deployment,
    "fail": deployments.fail_deployment,
    "roll_back": deployments.roll_back,
}


class DeploymentStepSerializer(serializers.Serializer):
    deployment = serializers.IntegerField(min_value=1, max_value=MAX_VERSION)
    step = serializers.ChoiceField(choices=sorted(STEPS))
    note = serializers.CharField(
        required=False, allow_blank=True, max_length=1000, help_text="Needed to fail or roll back."
    )


class LinkIncidentSerializer(serializers.Serializer):
    incident = serializers.CharField(max_length=30, help_text="Its number (INC0000123).")


class ReviewSerializer(serializers.Serializer):
    review_notes = serializers.CharField(max_length=20000)
    version = serializers.IntegerField(min_value=1, max_value=MAX_VERSION)


def _looked_up(form):
    """The cleaned data of a form that finds records by name or number within what the
    user may see, or a 400 naming the field."""
    if not form.is_valid():
        raise ValidationError({k: [str(m) for m in v] for k, v in form.errors.items()})
    return form.cleaned_data


class ReleaseViewSet(ReadOnlyRecordViewSet):
    """Releases (staff only), read with their plan, acceptance, deployments and review,
    and worked on through their actions (each answers with the release as it now is)."""

    queryset = Release.objects.select_related("manager").prefetch_related(
        "services",
        "customers",
        "stages",
        "criteria__approver",
        "changes",
        Prefetch("deployments", queryset=Deployment.objects.select_related("ci", "change")),
        Prefetch("incident_links", queryset=ReleaseIncident.objects.select_related("incident")),
    )
    serializer_class = ReleaseSerializer
    filterset_class = ReleaseFilterSet
    # Every action changes the release (sign_off also needs its named approver).
    action_policy = dict.fromkeys(
        (
            "transition",
            "sign_off",
            "stages",
            "criteria",
            "deployments",
            "deployment",
            "incidents",
            "review",
        ),
        "change",
    )

    def _input(self, serializer_class, request):
        serializer = serializer_class(data=request.data)
        serializer.is_valid(raise_exception=True)
        return dict(serializer.validated_data)

    def _reply(self, release):
        release = self.get_queryset().get(pk=release.pk)
        return Response(self.get_serializer(release).data)

    @extend_schema(request=ReleaseTransitionSerializer, responses=ReleaseSerializer)
    @action(detail=True, methods=["post"])
    def transition(self, request, pk=None):
        """One lifecycle step: start_build, start_test, start_acceptance, rebuild (with
        a note), accept, start_deployment, mark_deployed, cancel (with a note)."""
        release = self.get_object()
        data = self._input(ReleaseTransitionSerializer, request)
        releases.transition(
            release,
            request.user,
            data["name"],
            expected_version=data["version"],
            note=data.get("note", ""),
        )
        return self._reply(release)

    @extend_schema(request=SignOffSerializer, responses=ReleaseSerializer)
    @action(detail=True, methods=["post"])
    def sign_off(self, request, pk=None):
        """The caller, as the criterion's named approver, approves or rejects it (a
        rejection needs a comment) while the release is in acceptance."""
        release = self.get_object()
        data = self._input(SignOffSerializer, request)
        releases.sign_off(
            release,
            request.user,
            data["criterion"],
            data["decision"],
            comment=data.get("comment", ""),
        )
        return self._reply(release)

    @extend_schema(request=StageInputSerializer, responses=ReleaseSerializer)
    @action(detail=True, methods=["post"])
    def stages(self, request, pk=None):
        """Add a stage to the plan (build, test, acceptance or a roll-out wave by
        location or CI group); it may not end before it starts."""
        release = self.get_object()
        data = self._input(StageInputSerializer, request)
        releases.add_stage(
            release,
            request.user,
            kind=data["kind"],
            target=data.get("target", ""),
            starts_on=data["starts_on"],
            ends_on=data["ends_on"],
        )
        return self._reply(release)

    @extend_schema(request=CriterionInputSerializer, responses=ReleaseSerializer)
    @action(detail=True, methods=["post"])
    def criteria(self, request, pk=None):
        """Add an acceptance criterion and the member of staff who signs it off."""
        release = self.get_object()
        data = self._input(CriterionInputSerializer, request)
        releases.add_criterion(release, request.user, text=data["text"], approver=data["approver"])
        return self._reply(release)

    @extend_schema(request=DeploymentInputSerializer, responses=ReleaseSerializer)
    @action(detail=True, methods=["post"])
    def deployments(self, request, pk=None):
        """Plan the release on a CI, authorised by one of its changes."""
        release = self.get_object()
        data = self._input(DeploymentInputSerializer, request)
        found = _looked_up(DeploymentForm(data, user=request.user))
        deployments.plan_deployment(
            release,
            request.user,
            ci=found["ci"],
            change=found["change"],
            planned_for=found["planned_for"],
            note=found["note"],
        )
        return self._reply(release)

    @extend_schema(request=DeploymentStepSerializer, responses=ReleaseSerializer)
    @action(detail=True, methods=["post"])
    def deployment(self, request, pk=None):
        """One deployment goes live (``done``: the CI's version is written under its
        authorising change), ``fail``s or is rolled back (``roll_back``)."""
        release = self.get_object()
        data = self._input(DeploymentStepSerializer, request)
        STEPS[data["step"]](release, request.user, data["deployment"], note=data.get("note", ""))
        return self._reply(release)

    @extend_schema(request=LinkIncidentSerializer, responses=ReleaseSerializer)
    @action(detail=True, methods=["post"])
    def incidents(self, request, pk=None):
        """Link an incident the caller may see to the post-release review."""
        release = self.get_object()
        data = self._input(LinkIncidentSerializer, request)
        found = _looked_up(LinkIncidentForm(data, user=request.user))
        releases.link_incident(release, request.user, found["incident"])
        return self._reply(release)

    @extend_schema(request=ReviewSerializer, responses=ReleaseSerializer)
    @action(detail=True, methods=["post"])
    def review(self, request, pk=None):
        """Record the post-release review of a deployed release, completing it."""
        release = self.get_object()
        data = self._input(ReviewSerializer, request)
        releases.review(
            release, request.user, data["review_notes"], expected_version=data["version"]
        )
        return self._reply(release)
