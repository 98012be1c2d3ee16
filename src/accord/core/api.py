"""REST API base classes: permission from the policy, scoped querysets, optimistic
locking, cursor pagination and one error shape for every kind of bad input."""

import copy

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import ProtectedError
from django.http import Http404
from django.utils.translation import gettext as _
from rest_framework import exceptions, serializers, status, viewsets
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from .context import acting_as
from .permissions import RecordPermission  # noqa: F401  (re-exported for apps)
from .policy import restrict, visible_by_pk
from .records import StaleRecordError


class VersionedSerializerMixin(serializers.Serializer):
    """Adds ``version``: read on every record, required when updating one.

    Also builds a ModelSerializer's fields once per class: DRF otherwise introspects
    the model on every request, which measured as a third of an API create."""

    version = serializers.IntegerField(required=False, min_value=1)

    def get_fields(self):
        cls = type(self)
        built = cls.__dict__.get("_built_fields")
        if built is None:
            built = super().get_fields()
            cls._built_fields = built
        # A shallow copy per field: the template fields are never bound or used, so each
        # request's copies get their own binding and validators; deepcopy cost 2 ms.
        return {name: _fresh(field) for name, field in built.items()}

    def validate(self, attrs):
        attrs = super().validate(attrs)
        if self.instance is not None and "version" not in attrs:
            raise serializers.ValidationError(
                {"version": _("Send the version you read, so a concurrent edit is not lost.")}
            )
        return attrs


def _fresh(field):
    new = copy.copy(field)
    child = getattr(field, "child_relation", None)
    if child is not None:
        # A many-related field's child reaches the request through its parent chain.
        new.child_relation = copy.copy(child)
        new.child_relation.parent = new
    return new


MAX_KEY = 2**63 - 1


class ScopedRelatedField(serializers.PrimaryKeyRelatedField):
    """An id that must name a record the caller may see (through the policy's
    ``visible_by_pk``: one prebuilt SELECT for models that can check their scope on
    the row). Give it the model's plain ``objects.all()``."""

    def get_queryset(self):
        return restrict(super().get_queryset(), self.context["request"].user)

    def to_internal_value(self, data):
        model = self.queryset.model
        if isinstance(data, bool):
            self.fail("incorrect_type", data_type=type(data).__name__)
        try:
            pk = model._meta.pk.to_python(data)
        except (TypeError, ValueError, DjangoValidationError):
            self.fail("incorrect_type", data_type=type(data).__name__)
        obj = None
        if isinstance(pk, int) and 0 < pk <= MAX_KEY:
            obj = visible_by_pk(model, self.context["request"].user, pk)
        if obj is None:
            self.fail("does_not_exist", pk_value=data)
        return obj


class AccordAPIMixin:
    """Sets the actor for writes once the API user is known."""

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        self._actor_cm = acting_as(request.user, "api")
        self._actor_cm.__enter__()

    def finalize_response(self, request, response, *args, **kwargs):
        cm = getattr(self, "_actor_cm", None)
        if cm is not None:
            cm.__exit__(None, None, None)
            self._actor_cm = None
        return super().finalize_response(request, response, *args, **kwargs)


class RecordViewSet(AccordAPIMixin, viewsets.ModelViewSet):
    """A record type's API: list/retrieve within the user's scope; writes through the
    app's actions (``perform_create``/``perform_update`` are overridden there)."""

    http_method_names = ["get", "post", "patch", "head", "options"]

    def get_queryset(self):
        return restrict(super().get_queryset(), self.request.user)

    def get_object(self):
        lookup = self.kwargs.get(self.lookup_url_kwarg or self.lookup_field)
        if lookup is not None and not str(lookup).isdigit() and self.lookup_field == "pk":
            raise Http404
        return super().get_object()


class ReadOnlyRecordViewSet(AccordAPIMixin, viewsets.ReadOnlyModelViewSet):
    def get_queryset(self):
        return restrict(super().get_queryset(), self.request.user)


def _django_errors(exc):
    if hasattr(exc, "error_dict"):
        return {
            ("non_field_errors" if k == "__all__" else k): [str(m) for e in v for m in e.messages]
            for k, v in exc.error_dict.items()
        }
    return {"non_field_errors": [str(m) for m in exc.messages]}


def exception_handler(exc, context):
    """Every error is JSON with a clear message; domain errors map to 400/403/409."""
    if isinstance(exc, StaleRecordError):
        record = exc.record
        current = (
            type(record)
            ._base_manager.filter(pk=record.pk)
            .values_list("version", flat=True)
            .first()
        )
        return Response(
            {"detail": str(exc), "code": "stale_version", "current_version": current},
            status=status.HTTP_409_CONFLICT,
        )
    if isinstance(exc, DjangoValidationError):
        return Response(_django_errors(exc), status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied(str(exc) or None)
    if isinstance(exc, ProtectedError):
        return Response(
            {"detail": _("This record is still in use and cannot be deleted.")},
            status=status.HTTP_409_CONFLICT,
        )
    return drf_exception_handler(exc, context)
