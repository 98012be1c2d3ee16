"""REST API of the service catalogue."""

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from drf_spectacular.utils import extend_schema_serializer
from rest_framework import serializers

from accord.core import history
from accord.core.api import RecordViewSet, VersionedSerializerMixin

from .filters import ServiceFilterSet
from .models import SERVICE_FIELDS, Service, ServiceHours


@extend_schema_serializer(component_name="CatalogueService")
class ServiceSerializer(VersionedSerializerMixin, serializers.ModelSerializer):
    class Meta:
        model = Service
        fields = ["id", *SERVICE_FIELDS, "created", "updated", "version"]
        read_only_fields = ["id", "created", "updated"]

    def validate_depends_on(self, value):
        if self.instance is not None:
            try:
                self.instance.check_dependencies(value)
            except DjangoValidationError as exc:
                raise serializers.ValidationError(exc.messages)
        return value

    def update(self, instance, validated_data):
        version = validated_data.pop("version")
        m2m = {k: validated_data.pop(k) for k in ("customers", "depends_on") if k in validated_data}
        for key, value in validated_data.items():
            setattr(instance, key, value)
        with transaction.atomic():
            before = history.m2m_snapshot(instance, list(m2m))
            instance.save(expected_version=version)
            for key, value in m2m.items():
                getattr(instance, key).set(value)
            history.record_m2m(instance, before)
        return instance

    def create(self, validated_data):
        validated_data.pop("version", None)
        return super().create(validated_data)


class ServiceHoursSerializer(serializers.ModelSerializer):
    class Meta:
        model = ServiceHours
        fields = ["id", "name", "description"]


class ServiceViewSet(RecordViewSet):
    queryset = Service.objects.all()
    serializer_class = ServiceSerializer
    filterset_class = ServiceFilterSet
