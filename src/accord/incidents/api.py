"""REST API of incidents and service requests: the records, their journal, their
history and their lifecycle actions, all within the caller's scope."""

from django.contrib.contenttypes.models import ContentType
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.decorators import action
from rest_framework.response import Response

from accord.catalogue.models import Service
from accord.core.api import RecordViewSet, ScopedRelatedField, VersionedSerializerMixin
from accord.core.models import JournalEntry, ObjectChange
from accord.core.policy import scope_for
from accord.organizations.models import Customer
from accord.users.models import User

from . import actions
from .choices import Priority, ResolutionCode
from .filters import IncidentFilterSet, ServiceRequestFilterSet
from .forms import TICKET_FIELDS as FORM_FIELDS
from .forms import callers_for, staff_users
from .models import Category, Incident, ServiceRequest

TICKET_READ_ONLY = [
    "id",
    "number",
    "status",
    "resolution_code",
    "resolution_notes",
    "resolved_at",
    "closed_at",
    "created",
    "updated",
]
TICKET_FIELDS = [*FORM_FIELDS, "priority_reason", "version"]


class CallerField(serializers.PrimaryKeyRelatedField):
    """A user the caller may name as caller: staff or a person of a customer in scope."""

    def get_queryset(self):
        return callers_for(self.context["request"].user)


class TicketSerializer(VersionedSerializerMixin, serializers.ModelSerializer):
    customer = ScopedRelatedField(queryset=Customer.objects.all(), required=False)
    service = ScopedRelatedField(queryset=Service.objects.all(), required=False, allow_null=True)
    category = serializers.PrimaryKeyRelatedField(
        queryset=Category.objects.filter(active=True), required=False, allow_null=True
    )
    caller = CallerField(
        queryset=User.objects.filter(is_active=True), required=False, allow_null=True
    )
    assignee = serializers.PrimaryKeyRelatedField(
        queryset=staff_users(), required=False, allow_null=True
    )
    priority = serializers.ChoiceField(choices=Priority.choices, required=False)
    priority_reason = serializers.CharField(
        write_only=True, required=False, allow_blank=True, max_length=500
    )

    class Meta:
        fields = TICKET_READ_ONLY + TICKET_FIELDS
        read_only_fields = TICKET_READ_ONLY


class IncidentSerializer(TicketSerializer):
    class Meta(TicketSerializer.Meta):
        model = Incident
        fields = TicketSerializer.Meta.fields + [
            "is_major",
            "major_reason",
            "major_manager",
            "major_declared_at",
        ]
        read_only_fields = TICKET_READ_ONLY + [
            "is_major",
            "major_reason",
            "major_manager",
            "major_declared_at",
        ]


class ServiceRequestSerializer(TicketSerializer):
    class Meta(TicketSerializer.Meta):
        model = ServiceRequest


class JournalEntrySerializer(serializers.ModelSerializer):
    kind = serializers.ChoiceField(choices=[("reply", _("Reply")), ("work_note", _("Work note"))])

    class Meta:
        model = JournalEntry
        fields = ["id", "kind", "body", "customer_visible", "author", "author_label", "created"]
        read_only_fields = ["id", "customer_visible", "author", "author_label", "created"]


class ChangeSerializer(serializers.ModelSerializer):
    class Meta:
        model = ObjectChange
        fields = ["id", "time", "action", "actor", "actor_label", "via", "changes"]


class TransitionSerializer(serializers.Serializer):
    name = serializers.ChoiceField(choices=list(actions.TRANSITIONS))
    version = serializers.IntegerField(min_value=1)
    note = serializers.CharField(required=False, allow_blank=True, max_length=2000)
    resolution_code = serializers.ChoiceField(choices=ResolutionCode.choices, required=False)
    resolution_notes = serializers.CharField(required=False, allow_blank=True, max_length=10000)


class TicketViewSet(RecordViewSet):
    action_policy = {"journal": "view", "history": "view", "transition": "view"}

    def get_queryset(self):
        return super().get_queryset().select_related(None)

    def perform_create(self, serializer):
        data = dict(serializer.validated_data)
        data.pop("version", None)
        priority = data.pop("priority", None)
        reason = data.pop("priority_reason", "")
        serializer.instance = actions.log_ticket(
            self.queryset.model,
            self.request.user,
            data,
            priority=priority,
            priority_reason=reason,
        )

    def perform_update(self, serializer):
        data = dict(serializer.validated_data)
        version = data.pop("version")
        priority = data.pop("priority", None)
        reason = data.pop("priority_reason", "")
        serializer.instance = actions.update_ticket(
            serializer.instance,
            self.request.user,
            data,
            expected_version=version,
            priority=priority,
            priority_reason=reason,
        )

    @extend_schema(request=JournalEntrySerializer, responses=JournalEntrySerializer(many=True))
    @action(detail=True, methods=["get", "post"])
    def journal(self, request, pk=None):
        """The record's journal (customer users see replies and public events only);
        POST adds a reply or a work note."""
        record = self.get_object()
        if request.method == "POST":
            serializer = JournalEntrySerializer(data=request.data)
            serializer.is_valid(raise_exception=True)
            entry = actions.add_comment(
                record,
                request.user,
                serializer.validated_data["kind"],
                serializer.validated_data["body"],
            )
            return Response(JournalEntrySerializer(entry).data, status=201)
        entries = JournalEntry.objects.filter(
            content_type=ContentType.objects.get_for_model(type(record)), object_id=record.pk
        )
        if scope_for(request.user).is_customer:
            entries = entries.filter(customer_visible=True)
        return Response(JournalEntrySerializer(entries, many=True).data)

    @extend_schema(responses=ChangeSerializer(many=True))
    @action(detail=True, methods=["get"])
    def history(self, request, pk=None):
        """Field-level change history (staff only)."""
        record = self.get_object()
        if scope_for(request.user).is_customer:
            return Response([])
        changes = ObjectChange.objects.filter(
            content_type=ContentType.objects.get_for_model(type(record)), object_id=record.pk
        )
        return Response(ChangeSerializer(changes, many=True).data)

    @extend_schema(request=TransitionSerializer, responses=None)
    @action(detail=True, methods=["post"])
    def transition(self, request, pk=None):
        """Move the record along its lifecycle (start, resolve, close, ...)."""
        record = self.get_object()
        serializer = TransitionSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        actions.transition(
            record,
            request.user,
            data["name"],
            expected_version=data["version"],
            note=data.get("note", ""),
            resolution_code=data.get("resolution_code", ""),
            resolution_notes=data.get("resolution_notes", ""),
        )
        return Response(self.get_serializer(record).data)


class IncidentViewSet(TicketViewSet):
    queryset = Incident.objects.all()
    serializer_class = IncidentSerializer
    filterset_class = IncidentFilterSet


class ServiceRequestViewSet(TicketViewSet):
    queryset = ServiceRequest.objects.all()
    serializer_class = ServiceRequestSerializer
    filterset_class = ServiceRequestFilterSet
