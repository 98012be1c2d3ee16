"""REST API of problems: the records within the caller's scope (staff only), their
lifecycle and their incidents, all through ``actions``."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.decorators import action
from rest_framework.response import Response

from accord.catalogue.models import Service
from accord.core.api import RecordViewSet, ScopedRelatedField, VersionedSerializerMixin
from accord.core.policy import restrict, scope_for
from accord.incidents.choices import Priority
from accord.incidents.models import Incident
from accord.organizations.models import Customer
from accord.users.models import Team, User

from . import actions
from .filters import ProblemFilterSet
from .forms import MAX_INCIDENTS, incident_categories, problem_owners
from .models import Problem

READ_ONLY = [
    "id",
    "number",
    "status",
    "origin",
    "fix_change",
    "fix_description",
    "fix_verified_at",
    "risk_reason",
    "risk_approver",
    "root_cause_at",
    "known_error_at",
    "resolved_at",
    "closed_at",
    "is_open",
    "created",
    "updated",
]
WRITABLE = [
    "short_description",
    "description",
    "impact",
    "urgency",
    "priority",
    "priority_reason",
    "owner",
    "assignment_team",
    "category",
    "services",
    "customers",
    "is_major",
    "target_date",
    "symptoms",
    "rca_method",
    "root_cause",
    "workaround",
    "version",
]


def _at_most(data, name):
    """Refuse an over-long id list before each id is looked up."""
    value = data.get(name) if hasattr(data, "get") else None
    if isinstance(value, list) and len(value) > MAX_INCIDENTS:
        raise serializers.ValidationError(
            {name: [f"Link at most {MAX_INCIDENTS} incidents at once."]}
        )


class ProblemSerializer(VersionedSerializerMixin, serializers.ModelSerializer):
    owner = serializers.PrimaryKeyRelatedField(
        queryset=problem_owners(), required=False, allow_null=True
    )
    assignment_team = serializers.PrimaryKeyRelatedField(
        queryset=Team.objects.all(), required=False, allow_null=True
    )
    category = serializers.PrimaryKeyRelatedField(
        queryset=incident_categories(), required=False, allow_null=True
    )
    services = ScopedRelatedField(queryset=Service.objects.all(), many=True, required=False)
    customers = ScopedRelatedField(queryset=Customer.objects.all(), many=True, required=False)
    priority = serializers.ChoiceField(choices=Priority.choices, required=False)
    priority_reason = serializers.CharField(
        write_only=True, required=False, allow_blank=True, max_length=500
    )
    incidents = ScopedRelatedField(
        queryset=Incident.objects.all(),
        many=True,
        required=False,
        write_only=True,
        help_text="On create: incidents the problem is raised from (their customers and "
        "services join the problem's).",
    )

    class Meta:
        model = Problem
        fields = [*READ_ONLY, *WRITABLE, "incidents"]
        read_only_fields = READ_ONLY

    def to_internal_value(self, data):
        _at_most(data, "incidents")
        return super().to_internal_value(data)

    def validate_incidents(self, value):
        if self.instance is not None and value:
            raise serializers.ValidationError(
                "Link incidents to an existing problem with its link_incidents action."
            )
        return value

    def to_representation(self, instance):
        data = super().to_representation(instance)
        # Only the customers the caller may see are named.
        scope = scope_for(self.context["request"].user)
        if scope is not None and not scope.all_customers:
            data["customers"] = [c for c in data["customers"] if c in scope.customer_ids]
        return data


class TransitionSerializer(serializers.Serializer):
    name = serializers.ChoiceField(choices=list(actions.TRANSITIONS))
    version = serializers.IntegerField(min_value=1)
    note = serializers.CharField(required=False, allow_blank=True, max_length=2000)
    root_cause = serializers.CharField(required=False, allow_blank=True, max_length=20000)
    workaround = serializers.CharField(required=False, allow_blank=True, max_length=20000)
    fix_change = serializers.CharField(required=False, allow_blank=True, max_length=50)
    fix_description = serializers.CharField(required=False, allow_blank=True, max_length=10000)
    risk_reason = serializers.CharField(required=False, allow_blank=True, max_length=10000)
    risk_approver = serializers.PrimaryKeyRelatedField(
        queryset=User.objects.filter(is_active=True), required=False, allow_null=True
    )


class ConfirmFixSerializer(serializers.Serializer):
    version = serializers.IntegerField(min_value=1)
    note = serializers.CharField(required=False, allow_blank=True, max_length=2000)


class LinkIncidentsSerializer(serializers.Serializer):
    incidents = ScopedRelatedField(queryset=Incident.objects.all(), many=True)

    def to_internal_value(self, data):
        _at_most(data, "incidents")
        return super().to_internal_value(data)

    def validate_incidents(self, value):
        if not value:
            raise serializers.ValidationError("Name at least one incident.")
        return value


class UnlinkIncidentSerializer(serializers.Serializer):
    incident = ScopedRelatedField(queryset=Incident.objects.all())


class LinkedIncidentSerializer(serializers.ModelSerializer):
    status = serializers.CharField(source="get_status_display")

    class Meta:
        model = Incident
        fields = ["id", "number", "short_description", "customer", "status"]


class ProblemViewSet(RecordViewSet):
    """Problems (staff only). Writes follow the problem process: the status changes
    only through ``transition``; incidents are linked with ``link_incidents``."""

    queryset = Problem.objects.prefetch_related("services", "customers")
    serializer_class = ProblemSerializer
    filterset_class = ProblemFilterSet
    action_policy = {
        "transition": "change",
        "confirm_fix": "change",
        "link_incidents": "change",
        "unlink_incident": "change",
        "incidents": "view",
    }

    def _context(self, request):
        return {"request": request, "view": self}

    def perform_create(self, serializer):
        data = dict(serializer.validated_data)
        data.pop("version", None)
        extra = {
            name: data.pop(name, None)
            for name in ("services", "customers", "incidents", "priority", "priority_reason")
        }
        serializer.instance = actions.create_problem(
            self.request.user,
            data,
            services=extra["services"] or (),
            customers=extra["customers"] or (),
            incidents=extra["incidents"] or (),
            priority=extra["priority"],
            priority_reason=extra["priority_reason"] or "",
        )

    def perform_update(self, serializer):
        problem = serializer.instance
        data = dict(serializer.validated_data)
        version = data.pop("version")
        data.pop("incidents", None)
        services = data.pop("services", None)
        customers = data.pop("customers", None)
        if customers is not None:
            # Customers the caller cannot see stay on the problem.
            seen = set(
                restrict(Customer.objects.all(), self.request.user).values_list("pk", flat=True)
            )
            customers = [*customers, *[c for c in problem.customers.all() if c.pk not in seen]]
        priority = data.pop("priority", None)
        if priority is None and "impact" not in data and "urgency" not in data:
            priority = problem.priority
        serializer.instance = actions.update_problem(
            problem,
            self.request.user,
            data,
            services=services,
            customers=customers,
            expected_version=version,
            priority=priority,
            priority_reason=data.pop("priority_reason", "") or "",
        )

    def _reply(self, problem):
        problem = self.get_queryset().get(pk=problem.pk)
        return Response(self.get_serializer(problem).data)

    @extend_schema(request=TransitionSerializer, responses=ProblemSerializer)
    @action(detail=True, methods=["post"])
    def transition(self, request, pk=None):
        """Move the problem along its lifecycle (investigate, root_cause, known_error,
        resolve, reopen, close, accept_risk, cancel) with what the step records."""
        problem = self.get_object()
        serializer = TransitionSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        name = data.pop("name")
        version = data.pop("version")
        note = data.pop("note", "")
        if name != "accept_risk":
            data.pop("risk_approver", None)
        actions.transition(problem, request.user, name, expected_version=version, note=note, **data)
        return self._reply(problem)

    @extend_schema(request=ConfirmFixSerializer, responses=ProblemSerializer)
    @action(detail=True, methods=["post"])
    def confirm_fix(self, request, pk=None):
        """Record that the fixing change closed successfully (closing needs it)."""
        problem = self.get_object()
        serializer = ConfirmFixSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        actions.confirm_fix(
            problem,
            request.user,
            note=serializer.validated_data.get("note", ""),
            expected_version=serializer.validated_data["version"],
        )
        return self._reply(problem)

    @extend_schema(responses=LinkedIncidentSerializer(many=True))
    @action(detail=True, methods=["get"])
    def incidents(self, request, pk=None):
        """The incidents linked to the problem that the caller may see."""
        problem = self.get_object()
        return Response(self._linked(problem, request))

    def _linked(self, problem, request):
        qs = restrict(Incident.objects.filter(problem_links__problem=problem), request.user)
        return LinkedIncidentSerializer(qs.order_by("pk"), many=True).data

    @extend_schema(request=LinkIncidentsSerializer, responses=LinkedIncidentSerializer(many=True))
    @action(detail=True, methods=["post"])
    def link_incidents(self, request, pk=None):
        """Link more incidents; answers with the incidents now linked."""
        problem = self.get_object()
        serializer = LinkIncidentsSerializer(data=request.data, context=self._context(request))
        serializer.is_valid(raise_exception=True)
        actions.link_incidents(problem, request.user, serializer.validated_data["incidents"])
        return Response(self._linked(problem, request))

    @extend_schema(request=UnlinkIncidentSerializer, responses=LinkedIncidentSerializer(many=True))
    @action(detail=True, methods=["post"])
    def unlink_incident(self, request, pk=None):
        problem = self.get_object()
        serializer = UnlinkIncidentSerializer(data=request.data, context=self._context(request))
        serializer.is_valid(raise_exception=True)
        actions.unlink_incident(problem, request.user, serializer.validated_data["incident"])
        return Response(self._linked(problem, request))
