"""REST API of CSV imports and exports: upload a file to start an import run, read
a run's progress and errors; download the CI and relationship exports (the same
files as the pages, filtered by the CI list's query parameters)."""

from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, permissions, renderers, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response

from accord.core.api import AccordAPIMixin
from accord.core.policy import can

from .forms_imports import check_upload
from .imports import KEY_CHOICES, may_import, may_see_runs, progress, start_import, visible_runs
from .imports_export import BadFilter, export_cis, export_relationships
from .models import ConfigurationItem, ImportRun


class ImportRunSerializer(serializers.ModelSerializer):
    url = serializers.SerializerMethodField()
    page = serializers.SerializerMethodField()
    processed = serializers.SerializerMethodField()
    total_rows = serializers.SerializerMethodField()

    class Meta:
        model = ImportRun
        fields = [
            "id",
            "url",
            "page",
            "kind",
            "key_column",
            "filename",
            "status",
            "processed",
            "total_rows",
            "created_count",
            "updated_count",
            "unchanged_count",
            "errors",
            "created",
            "created_by",
            "started_at",
            "finished_at",
        ]
        read_only_fields = fields

    def _absolute(self, path):
        request = self.context.get("request")
        return request.build_absolute_uri(path) if request is not None else path

    def get_url(self, run) -> str:
        return self._absolute(reverse("cmdb-import-detail", args=[run.pk]))

    def get_page(self, run) -> str:
        return self._absolute(reverse("cmdb:import_detail", args=[run.pk]))

    def get_processed(self, run) -> int:
        return progress(run)[0]

    def get_total_rows(self, run) -> int:
        return progress(run)[1]


class ImportUploadSerializer(serializers.Serializer):
    file = serializers.FileField(
        help_text="A CSV file in UTF-8 whose first line names the columns."
    )
    kind = serializers.ChoiceField(choices=ImportRun.KINDS)
    key_column = serializers.ChoiceField(choices=KEY_CHOICES, default="external_key")

    def validate_file(self, upload):
        from django import forms

        try:
            return check_upload(upload)
        except forms.ValidationError as exc:
            raise serializers.ValidationError(exc.messages) from None


class ImportPermission(permissions.BasePermission):
    """Importers start runs and read their own; administrators and auditors read all."""

    def has_permission(self, request, view):
        user = request.user
        if not (user and user.is_authenticated):
            return False
        if view.action == "create":
            return may_import(user)
        return may_see_runs(user)


class ImportRunViewSet(AccordAPIMixin, mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    """CSV import runs: POST a file (multipart) to start one; the worker applies it,
    all or nothing. GET a run for its status, progress and errors."""

    queryset = ImportRun.objects.all()
    serializer_class = ImportRunSerializer
    permission_classes = [ImportPermission]
    parser_classes = [MultiPartParser, FormParser]
    filterset_class = None
    filter_backends = []

    def get_queryset(self):
        return visible_runs(self.request.user)

    def get_object(self):
        if not str(self.kwargs.get("pk", "")).isdigit():
            from django.http import Http404

            raise Http404
        return super().get_object()

    @extend_schema(request=ImportUploadSerializer, responses={201: ImportRunSerializer})
    def create(self, request, *args, **kwargs):
        upload = ImportUploadSerializer(data=request.data)
        upload.is_valid(raise_exception=True)
        data = upload.validated_data
        run = start_import(request.user, data["file"], data["kind"], data["key_column"])
        body = ImportRunSerializer(run, context=self.get_serializer_context()).data
        return Response(body, status=status.HTTP_201_CREATED, headers={"Location": body["url"]})


class CSVRenderer(renderers.BaseRenderer):
    """The exports' CSV (streamed by the view); errors as plain text."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        if isinstance(data, dict):
            return "\n".join(
                f"{key}: {' '.join(map(str, v)) if isinstance(v, list) else v}"
                for key, v in data.items()
            ).encode()
        return data if isinstance(data, bytes) else str(data or "").encode()


class ExportPermission(permissions.BasePermission):
    def has_permission(self, request, view):
        user = request.user
        return bool(user and user.is_authenticated) and can(user, "view", ConfigurationItem)


FILTER_PARAMETERS = [
    OpenApiParameter(name, OpenApiTypes.STR, description=text)
    for name, text in (
        ("q", "Name, serial, asset tag or external key."),
        ("ci_type", "CI type id (repeat for several)."),
        ("status", "CI status (repeat for several)."),
        ("criticality", "Criticality 1-4 (repeat for several)."),
        ("owner", "Owning team id."),
        ("no_owner", "true: only CIs without an owner."),
        ("location", "Location CI id."),
        ("customer", "Customer id."),
        ("service", "Service id."),
    )
]


class ExportViewSet(AccordAPIMixin, viewsets.ViewSet):
    """CSV exports of the CIs and relationships the caller may see, in the columns
    an import reads."""

    permission_classes = [ExportPermission]
    renderer_classes = [renderers.JSONRenderer, CSVRenderer]

    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    def list(self, request):
        return Response(
            {
                "cis": request.build_absolute_uri(reverse("cmdb-export-cis")),
                "relationships": request.build_absolute_uri(reverse("cmdb-export-relationships")),
            }
        )

    @extend_schema(parameters=FILTER_PARAMETERS, responses={(200, "text/csv"): OpenApiTypes.STR})
    @action(detail=False, methods=["get"])
    def cis(self, request):
        try:
            return export_cis(request)
        except BadFilter as exc:
            return Response(exc.errors, status=status.HTTP_400_BAD_REQUEST)

    @extend_schema(
        parameters=[
            *FILTER_PARAMETERS,
            OpenApiParameter(
                "key",
                OpenApiTypes.STR,
                enum=["name", "external_key", "serial"],
                description="How each end is named (default: name).",
            ),
        ],
        responses={(200, "text/csv"): OpenApiTypes.STR},
    )
    @action(detail=False, methods=["get"])
    def relationships(self, request):
        try:
            return export_relationships(request)
        except BadFilter as exc:
            return Response(exc.errors, status=status.HTTP_400_BAD_REQUEST)
