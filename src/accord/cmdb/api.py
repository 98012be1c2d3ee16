"""REST API of the CMDB: configuration items (with their typed attributes),
relationships, and impact analysis."""

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, PermissionDenied, ValidationError
from rest_framework.response import Response

from accord.catalogue.models import Service
from accord.core.api import (
    RecordViewSet,
    ScopedRelatedField,
    VersionedSerializerMixin,
)
from accord.core.forms import key_of
from accord.core.policy import restrict, scope_for, visible_by_pk
from accord.organizations.models import Customer
from accord.users.models import Team

from . import actions, graph
from .filters import CIFilterSet, RelationshipFilterSet
from .forms import CI_FIELDS
from .models import CIType, ConfigurationItem, Relationship, RelationshipType


class CISerializer(VersionedSerializerMixin, serializers.ModelSerializer):
    ci_type = serializers.SlugRelatedField(slug_field="key", queryset=CIType.objects.all())
    owner = serializers.PrimaryKeyRelatedField(
        allow_null=True, required=False, queryset=Team.objects.all()
    )
    location = ScopedRelatedField(
        queryset=ConfigurationItem.objects.all(), allow_null=True, required=False
    )
    customers = ScopedRelatedField(queryset=Customer.objects.all(), many=True, required=False)
    services = ScopedRelatedField(queryset=Service.objects.all(), many=True, required=False)
    attributes = serializers.DictField(required=False)
    change_reference = serializers.CharField(
        write_only=True, required=False, allow_blank=True, max_length=50
    )

    class Meta:
        model = ConfigurationItem
        fields = [
            "id",
            "ci_type",
            *CI_FIELDS,
            "attributes",
            "change_reference",
            "created",
            "updated",
            "version",
        ]
        read_only_fields = ["id", "created", "updated"]

    def validate_change_reference(self, value):
        try:
            return actions.check_change_reference(self.context["request"].user, value)
        except DjangoValidationError as exc:
            raise ValidationError(exc.messages) from None

    def validate(self, attrs):
        attrs = super().validate(attrs)
        if self.instance is not None and "ci_type" in attrs:
            if attrs["ci_type"] != self.instance.ci_type:
                raise ValidationError({"ci_type": [_("A CI's type cannot change.")]})
        return attrs

    def _save(self, instance, validated):
        version = validated.pop("version", None)
        customers = validated.pop("customers", None)
        services = validated.pop("services", None)
        reference = validated.pop("change_reference", "")
        for key, value in validated.items():
            setattr(instance, key, value)
        if customers is not None and instance.pk is not None:
            # Customers the caller can't see stay on the CI.
            mine = {c.pk for c in customers}
            user = self.context["request"].user
            seen = set(restrict(Customer.objects.all(), user).values_list("pk", flat=True))
            customers = [
                *customers,
                *[c for c in instance.customers.all() if c.pk not in seen and c.pk not in mine],
            ]
        with transaction.atomic():
            return actions.save_ci(
                instance,
                customers=customers,
                services=services,
                change_reference=reference,
                expected_version=version if instance.pk else None,
            )

    def create(self, validated_data):
        return self._save(ConfigurationItem(), validated_data)

    def update(self, instance, validated_data):
        return self._save(instance, validated_data)


class CIViewSet(RecordViewSet):
    queryset = ConfigurationItem.objects.select_related("ci_type").prefetch_related(
        "customers", "services"
    )
    serializer_class = CISerializer
    filterset_class = CIFilterSet

    def get_queryset(self):
        qs = super().get_queryset()
        if self.action == "list":
            qs = qs.order_by("name", "pk")
        return qs

    def perform_create(self, serializer):
        if scope_for(self.request.user).read_only:
            raise PermissionDenied
        serializer.save()

    @extend_schema(
        parameters=[
            OpenApiParameter("direction", str, enum=["down", "up"]),
            OpenApiParameter("depth", int),
            OpenApiParameter("offset", int),
            OpenApiParameter("limit", int),
        ],
        responses={200: dict},
    )
    @action(detail=True, methods=["get"])
    def impact(self, request, pk=None):
        """Downstream (what a failure of this CI affects) or upstream (what it relies
        on): CIs by distance, each with a path that explains it; downstream also the
        services, customers and agreements reached."""
        # The one check the answer needs (the CI is visible), from the graph the
        # answer comes from, without the list's filters that get_object() would run.
        raw = str(pk)
        if key_of(raw) is None:
            raise NotFound
        allowed = graph.may_see(request.user, int(raw))
        if allowed is None:
            allowed = visible_by_pk(ConfigurationItem, request.user, int(raw)) is not None
        if not allowed:
            raise NotFound
        return self._impact(request, [int(raw)])

    @extend_schema(
        operation_id="cis_impact_of_set",
        parameters=[
            OpenApiParameter("ids", str, description="Comma-separated CI ids (at most 200)"),
            OpenApiParameter("direction", str, enum=["down", "up"]),
            OpenApiParameter("depth", int),
            OpenApiParameter("offset", int),
            OpenApiParameter("limit", int),
        ],
        responses={200: dict},
    )
    @action(detail=False, methods=["get"], url_path="impact")
    def impact_of_set(self, request):
        """The same for a set of CIs (``?ids=1,2,3``), e.g. those a change touches."""
        raw = [p.strip() for p in request.query_params.get("ids", "").split(",") if p.strip()]
        if not raw or len(raw) > 200 or not all(p.isascii() and p.isdigit() for p in raw):
            raise ValidationError({"ids": [_("Give 1 to 200 CI ids separated by commas.")]})
        wanted = {int(p) for p in raw}
        found = set(
            restrict(ConfigurationItem.objects.filter(pk__in=wanted), request.user).values_list(
                "pk", flat=True
            )
        )
        if found != wanted:
            missing = ", ".join(str(i) for i in sorted(wanted - found))
            raise ValidationError({"ids": [_("No configuration item %(ids)s.") % {"ids": missing}]})
        return self._impact(request, sorted(found))

    def _impact(self, request, ci_ids):
        params = request.query_params
        errors = {}
        direction = params.get("direction", "down")
        if direction not in ("down", "up"):
            errors["direction"] = [_("Must be “down” or “up”.")]

        def number(name, default, low, high):
            raw = params.get(name, "")
            if raw == "":
                return default
            if not raw.isascii() or not raw.isdigit() or not low <= int(raw) <= high:
                errors[name] = [
                    _("Must be a whole number from %(a)s to %(b)s.") % {"a": low, "b": high}
                ]
                return default
            return int(raw)

        depth = number("depth", None, 1, 50)
        offset = number("offset", 0, 0, 10**7)
        limit = number("limit", 50, 1, 500)
        if errors:
            raise ValidationError(errors)
        result = graph.impact(
            request.user, ci_ids, direction=direction, max_depth=depth, offset=offset, limit=limit
        )
        types = graph.type_keys()
        return Response(
            {
                "cis": ci_ids,
                "direction": result.direction,
                "count": result.total,
                "levels": result.depth,
                "hidden": result.hidden,
                "offset": offset,
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


class RelationshipSerializer(VersionedSerializerMixin, serializers.ModelSerializer):
    source = ScopedRelatedField(queryset=ConfigurationItem.objects.all())
    target = ScopedRelatedField(queryset=ConfigurationItem.objects.all())
    rel_type = serializers.SlugRelatedField(
        slug_field="key", queryset=RelationshipType.objects.all()
    )
    label = serializers.CharField(read_only=True)
    change_reference = serializers.CharField(
        write_only=True, required=False, allow_blank=True, max_length=50
    )

    class Meta:
        model = Relationship
        fields = [
            "id",
            "source",
            "rel_type",
            "target",
            "label",
            "note",
            "change_reference",
            "created",
            "version",
        ]
        read_only_fields = ["id", "created"]

    def validate(self, attrs):
        attrs = super().validate(attrs)
        if self.instance is not None:
            for name in ("source", "target", "rel_type"):
                if name in attrs and attrs[name] != getattr(self.instance, name):
                    raise ValidationError(
                        {name: [_("Remove the relationship and add a new one instead.")]}
                    )
        return attrs

    def create(self, validated_data):
        request = self.context["request"]
        return actions.add_relationship(
            request.user,
            validated_data["source"],
            validated_data["target"],
            validated_data["rel_type"],
            note=validated_data.get("note", ""),
            change_reference=validated_data.get("change_reference", ""),
        )

    def update(self, instance, validated_data):
        if "note" in validated_data:
            instance.note = validated_data["note"]
        instance.save(expected_version=validated_data.get("version"))
        return instance


class RelationshipViewSet(RecordViewSet):
    """Relationships between CIs the caller may see (both ends): POST adds one, PATCH
    changes its note, DELETE removes it."""

    queryset = Relationship.objects.select_related("rel_type", "source", "target").order_by("pk")
    serializer_class = RelationshipSerializer
    filterset_class = RelationshipFilterSet
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def perform_create(self, serializer):
        if scope_for(self.request.user).read_only:
            raise PermissionDenied
        serializer.save()

    def destroy(self, request, *args, **kwargs):
        link = self.get_object()
        if scope_for(request.user).read_only:
            raise PermissionDenied
        actions.remove_relationship(
            request.user,
            link,
            change_reference=request.query_params.get("change_reference", "")[:50],
        )
        return Response(status=204)
