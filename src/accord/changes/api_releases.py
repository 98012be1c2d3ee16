"""REST API of releases (staff only): the records within the caller's scope with their
plan, acceptance criteria, deployments and the incidents of their review; the
lifecycle steps and the named approvers' sign-off go through ``releases``. Releases
are planned and deployed on their pages; the API reads them and moves them on."""

from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers
from rest_framework.decorators import action
from rest_framework.response import Response

from accord.cmdb.models import ConfigurationItem
from accord.core.api import ReadOnlyRecordViewSet
from accord.core.policy import restrict
from accord.incidents.models import Incident

from . import releases
from .choices import Decision
from .filters import ReleaseFilterSet
from .models import Change, Release

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
    customers = serializers.PrimaryKeyRelatedField(many=True, read_only=True)
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

    def get_changes(self, release) -> list[str]:
        visible = restrict(Change.objects.filter(releases=release), self._user())
        return list(visible.order_by("pk").values_list("number", flat=True))

    @extend_schema_field(DeploymentSerializer(many=True))
    def get_deployments(self, release):
        deployments = list(release.deployments.select_related("change"))
        seen = set(
            restrict(
                ConfigurationItem.objects.filter(pk__in=[d.ci_id for d in deployments]),
                self._user(),
            ).values_list("pk", flat=True)
        )
        changes = set(
            restrict(
                Change.objects.filter(pk__in=[d.change_id for d in deployments if d.change_id]),
                self._user(),
            ).values_list("pk", flat=True)
        )
        rows = []
        for d in deployments:
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
        linked = Incident.objects.filter(release_links__release=release)
        return list(restrict(linked, self._user()).order_by("pk").values_list("number", flat=True))

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


class ReleaseViewSet(ReadOnlyRecordViewSet):
    """Releases (staff only), read with their plan, acceptance, deployments and review;
    ``transition`` moves one along its lifecycle, ``sign_off`` records a named
    approver's decision on a criterion."""

    queryset = Release.objects.select_related("manager").prefetch_related(
        "services", "customers", "stages", "criteria__approver"
    )
    serializer_class = ReleaseSerializer
    filterset_class = ReleaseFilterSet
    action_policy = {"transition": "change", "sign_off": "change"}

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
