"""REST API of changes: the records within the caller's scope (staff only), their
lifecycle, risk assessment, decisions, conflicts and CMDB impact, all through
``actions``."""

from django.contrib.contenttypes.models import ContentType
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.relations import MANY_RELATION_KWARGS
from rest_framework.response import Response

from accord.catalogue.models import Service
from accord.core.api import RecordViewSet, ScopedRelatedField, VersionedSerializerMixin
from accord.core.forms import key_of
from accord.core.policy import restrict, scope_for
from accord.incidents.models import Incident
from accord.organizations.models import Customer
from accord.problems.models import Problem
from accord.users.models import Team

from . import actions
from .choices import Decision, Outcome
from .filters import ChangeFilterSet
from .forms import MAX_CIS, MAX_REFERENCES, implementers
from .models import Change, ChangeTemplate
from .views_changes import conflict_rows

MAX_VERSION = 2**31
READ_ONLY = [
    "id",
    "number",
    "status",
    "requester",
    "risk_score",
    "risk_class",
    "approver_kind",
    "board",
    "conflict_override",
    "conflict_override_by",
    "outcome",
    "outcome_notes",
    "actual_start",
    "actual_end",
    "submitted_at",
    "approved_at",
    "closed_at",
    "review_notes",
    "reviewed_at",
    "reviewed_by",
    "is_open",
    "created",
    "updated",
]
WRITABLE = [
    "kind",
    "template",
    "short_description",
    "description",
    "reason",
    "emergency_reason",
    "implementation_plan",
    "backout_plan",
    "test_plan",
    "planned_start",
    "planned_end",
    "assignment_team",
    "assignee",
    "services",
    "customers",
    "version",
]
# Set when the change is raised; not changed afterwards.
CREATE_ONLY = ("kind", "template")


def ci_map(changes, user):
    """{change id: [ids of its CIs the user may see]} in two queries for a page."""
    from accord.cmdb.models import CILink, ConfigurationItem

    pks = [c.pk for c in changes]
    if not pks:
        return {}
    links = list(
        CILink.objects.filter(
            content_type=ContentType.objects.get_for_model(Change), object_id__in=pks
        ).values_list("object_id", "ci_id")
    )
    seen = set(
        restrict(
            ConfigurationItem.objects.filter(pk__in={ci for _c, ci in links}), user
        ).values_list("pk", flat=True)
    )
    out = {pk: [] for pk in pks}
    for change_id, ci_id in sorted(links):
        if ci_id in seen:
            out[change_id].append(ci_id)
    return out


class ChangeCIs(serializers.ManyRelatedField):
    """A change's CIs: written as ids of CIs the caller may see; read from its CI links
    (a page's links are read at once, see ``ci_map``)."""

    def get_attribute(self, instance):
        mapping = self.context.get("ci_map")
        if mapping is None or instance.pk not in mapping:
            mapping = ci_map([instance], self.context["request"].user)
        return mapping[instance.pk]

    def to_representation(self, iterable):
        return list(iterable)


class CIField(ScopedRelatedField):
    @classmethod
    def many_init(cls, *args, **kwargs):
        names = MANY_RELATION_KWARGS
        return ChangeCIs(
            child_relation=cls(*args, **kwargs),
            **{k: v for k, v in kwargs.items() if k in names},
        )


def _ci_queryset():
    from accord.cmdb.models import ConfigurationItem

    return ConfigurationItem.objects.all()


class ChangeSerializer(VersionedSerializerMixin, serializers.ModelSerializer):
    template = serializers.PrimaryKeyRelatedField(
        queryset=ChangeTemplate.objects.filter(active=True), required=False, allow_null=True
    )
    assignment_team = serializers.PrimaryKeyRelatedField(
        queryset=Team.objects.all(), required=False, allow_null=True
    )
    assignee = serializers.PrimaryKeyRelatedField(
        queryset=implementers(), required=False, allow_null=True
    )
    services = ScopedRelatedField(queryset=Service.objects.all(), many=True, required=False)
    customers = ScopedRelatedField(queryset=Customer.objects.all(), many=True, required=False)
    cis = CIField(
        queryset=_ci_queryset(),
        many=True,
        required=False,
        help_text="The configuration items the change touches (ids); replaces the list.",
    )
    problems = ScopedRelatedField(
        queryset=Problem.objects.all(),
        many=True,
        required=False,
        write_only=True,
        help_text="On create: the problems the change fixes.",
    )
    incidents = ScopedRelatedField(
        queryset=Incident.objects.all(),
        many=True,
        required=False,
        write_only=True,
        help_text="On create: the incidents the change fixes.",
    )
    version = serializers.IntegerField(required=False, min_value=1, max_value=MAX_VERSION)

    class Meta:
        model = Change
        fields = [*READ_ONLY, *WRITABLE, "cis", "problems", "incidents"]
        read_only_fields = READ_ONLY

    def validate(self, attrs):
        attrs = super().validate(attrs)
        if self.instance is not None:
            errors = {}
            for name in CREATE_ONLY:
                if name in attrs and attrs[name] != getattr(self.instance, name):
                    errors[name] = [_("Set when the change is raised; raise a new change.")]
            for name in ("problems", "incidents"):
                if attrs.get(name):
                    errors[name] = [_("Named when the change is raised.")]
            if errors:
                raise serializers.ValidationError(errors)
        for name, most in (("cis", MAX_CIS), ("problems", MAX_REFERENCES)):
            if len(attrs.get(name) or ()) > most:
                raise serializers.ValidationError({name: [_("At most %(n)s.") % {"n": most}]})
        return attrs

    def to_representation(self, instance):
        data = super().to_representation(instance)
        # Only the customers the caller may see are named.
        scope = scope_for(self.context["request"].user)
        if scope is not None and not scope.all_customers:
            data["customers"] = [c for c in data["customers"] if c in scope.customer_ids]
        return data


class TransitionSerializer(serializers.Serializer):
    name = serializers.ChoiceField(choices=list(actions.TRANSITIONS))
    version = serializers.IntegerField(min_value=1, max_value=MAX_VERSION)
    note = serializers.CharField(
        required=False, allow_blank=True, max_length=2000, help_text="cancel: the reason."
    )
    outcome = serializers.ChoiceField(
        choices=Outcome.choices, required=False, allow_blank=True, help_text="finish: the outcome."
    )
    outcome_notes = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=10000,
        help_text="finish: what happened (needed when it failed or was backed out).",
    )


class DecideSerializer(serializers.Serializer):
    decision = serializers.ChoiceField(choices=[Decision.APPROVE, Decision.REJECT])
    comment = serializers.CharField(required=False, allow_blank=True, max_length=5000)
    conflict_override = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=5000,
        help_text="Approving a change with conflicts accepts them, with this reason.",
    )


class AssessSerializer(serializers.Serializer):
    answers = serializers.DictField(
        child=serializers.IntegerField(min_value=1, max_value=2**63 - 1),
        help_text="{question id: option id} for every active question.",
    )


class OverrideSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=5000)


class ReviewSerializer(serializers.Serializer):
    version = serializers.IntegerField(min_value=1, max_value=MAX_VERSION)
    review_notes = serializers.CharField(max_length=20000)


class ConflictSerializer(serializers.Serializer):
    kind = serializers.CharField()
    explanation = serializers.CharField()
    other = serializers.IntegerField(allow_null=True)
    other_number = serializers.CharField(allow_null=True)
    found_at = serializers.DateTimeField()


class ChangeViewSet(RecordViewSet):
    """Changes (staff only). Writes follow the change process: the status changes only
    through ``transition``; risk through ``assess``; approvers ``decide``."""

    queryset = Change.objects.prefetch_related("services", "customers")
    serializer_class = ChangeSerializer
    filterset_class = ChangeFilterSet
    action_policy = {
        "transition": "change",
        "assess": "change",
        "review": "change",
        "decide": "approve",
        "accept_conflicts": "approve",
        "conflicts": "view",
        "impact": "view",
    }

    def get_serializer(self, *args, **kwargs):
        instance = args[0] if args else kwargs.get("instance")
        rows = instance if isinstance(instance, list | tuple) else [instance]
        if instance is not None and rows and isinstance(rows[0], Change):
            kwargs["context"] = {
                **self.get_serializer_context(),
                "ci_map": ci_map(rows, self.request.user),
            }
        return super().get_serializer(*args, **kwargs)

    def perform_create(self, serializer):
        data = dict(serializer.validated_data)
        data.pop("version", None)
        extra = {
            name: data.pop(name, None)
            for name in ("services", "customers", "cis", "problems", "incidents")
        }
        serializer.instance = actions.create_change(
            self.request.user,
            data,
            services=extra["services"] or (),
            customers=extra["customers"] or (),
            cis=extra["cis"] or (),
            problems=extra["problems"] or (),
            incidents=extra["incidents"] or (),
        )

    def perform_update(self, serializer):
        from django.db import transaction

        from .views_changes import set_visible_cis

        change = serializer.instance
        data = dict(serializer.validated_data)
        version = data.pop("version")
        for name in (*CREATE_ONLY, "problems", "incidents"):
            data.pop(name, None)
        services = data.pop("services", None)
        customers = data.pop("customers", None)
        cis = data.pop("cis", None)
        if customers is not None:
            # Customers the caller cannot see stay on the change.
            seen = set(
                restrict(Customer.objects.all(), self.request.user).values_list("pk", flat=True)
            )
            customers = [*customers, *[c for c in change.customers.all() if c.pk not in seen]]
        with transaction.atomic():
            actions.update_change(
                change,
                self.request.user,
                data,
                services=services,
                customers=customers,
                expected_version=version,
            )
            if cis is not None:
                set_visible_cis(change, self.request.user, cis)
        serializer.instance = self.get_queryset().get(pk=change.pk)
        serializer.context.pop("ci_map", None)  # read before the update

    def _reply(self, change):
        change = self.get_queryset().get(pk=change.pk)
        return Response(self.get_serializer(change).data)

    def _input(self, serializer_class, request):
        serializer = serializer_class(data=request.data)
        serializer.is_valid(raise_exception=True)
        return dict(serializer.validated_data)

    @extend_schema(request=TransitionSerializer, responses=ChangeSerializer)
    @action(detail=True, methods=["post"])
    def transition(self, request, pk=None):
        """Move the change along its lifecycle (submit, assess, request_approval,
        schedule, start, finish with its outcome, begin_review, close, cancel with a
        reason)."""
        change = self.get_object()
        data = self._input(TransitionSerializer, request)
        actions.transition(
            change,
            request.user,
            data["name"],
            expected_version=data["version"],
            note=data.get("note", ""),
            outcome=data.get("outcome", ""),
            notes=data.get("outcome_notes", ""),
        )
        return self._reply(change)

    @extend_schema(request=AssessSerializer, responses=ChangeSerializer)
    @action(detail=True, methods=["post"])
    def assess(self, request, pk=None):
        """Answer the risk questionnaire: the score, risk class and approver follow."""
        change = self.get_object()
        data = self._input(AssessSerializer, request)
        actions.assess_risk(change, request.user, data["answers"])
        return self._reply(change)

    @extend_schema(request=DecideSerializer, responses=ChangeSerializer)
    @action(detail=True, methods=["post"])
    def decide(self, request, pk=None):
        """The caller's decision as an approver of the change (a rejection needs a
        comment; nobody decides on their own change)."""
        change = self.get_object()
        data = self._input(DecideSerializer, request)
        actions.decide(
            change,
            request.user,
            data["decision"],
            comment=data.get("comment", ""),
            override=data.get("conflict_override", ""),
        )
        return self._reply(change)

    @extend_schema(request=OverrideSerializer, responses=ChangeSerializer)
    @action(detail=True, methods=["post"])
    def accept_conflicts(self, request, pk=None):
        """An approver accepts the schedule's conflicts, saying why."""
        change = self.get_object()
        data = self._input(OverrideSerializer, request)
        actions.override_conflicts(change, request.user, data["reason"])
        return self._reply(change)

    @extend_schema(request=ReviewSerializer, responses=ChangeSerializer)
    @action(detail=True, methods=["post"])
    def review(self, request, pk=None):
        """The post-implementation review."""
        change = self.get_object()
        data = self._input(ReviewSerializer, request)
        actions.review(change, request.user, data["review_notes"], expected_version=data["version"])
        return self._reply(change)

    @extend_schema(responses=ConflictSerializer(many=True))
    @action(detail=True, methods=["get"])
    def conflicts(self, request, pk=None):
        """The conflicts found when the change was last scheduled or moved, explained
        (one with a change the caller may not see says so without naming it)."""
        change = self.get_object()
        return Response(
            [
                {
                    "kind": row["kind_key"],
                    "explanation": str(row["explanation"]),
                    "other": row["other"].pk if row["other"] else None,
                    "other_number": row["other"].number if row["other"] else None,
                    "found_at": row["found_at"],
                }
                for row in conflict_rows(change, request.user)
            ]
        )

    @extend_schema(
        parameters=[OpenApiParameter("limit", int, description="CIs listed (1 to 500)")],
        responses={200: dict},
    )
    @action(detail=True, methods=["get"])
    def impact(self, request, pk=None):
        """What a failure of the change's CIs would affect: CIs downstream by distance,
        each with the path that explains it, and the services, customers and
        agreements reached."""
        change = self.get_object()
        raw = request.query_params.get("limit", "")
        if raw and not (key_of(raw) is not None and key_of(raw) <= 500):
            raise ValidationError({"limit": [_("Must be a whole number from 1 to 500.")]})
        result = actions.impact(change, request.user, limit=int(raw) if raw else 50)
        if result is None:
            empty = {"count": 0, "levels": 0, "hidden": 0, "results": []}
            return Response({**empty, "services": [], "customers": [], "agreements": []})
        from accord.cmdb import graph

        types = graph.type_keys()
        return Response(
            {
                "count": result.total,
                "levels": result.depth,
                "hidden": result.hidden,
                "results": [
                    {
                        "id": item["id"],
                        "name": item["name"],
                        "ci_type": types.get(item["type_id"]),
                        "status": item["status"],
                        "depth": item["depth"],
                        "path": item["path"],
                        "explanation": " ← ".join(step["name"] for step in reversed(item["path"])),
                    }
                    for item in result.items
                ],
                "services": [{"id": s.pk, "name": s.name} for s in result.services],
                "customers": [{"id": c.pk, "name": c.name} for c in result.customers],
                "agreements": [{"id": a.pk, "name": a.name} for a in result.agreements],
            }
        )
