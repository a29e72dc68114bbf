"""REST API of imports: upload a file (multipart, the one non-JSON request of the API: files of hundreds of MB
have no sensible JSON form), optionally with its mapping and ``start``; read the status; download the error
report. The same services as the UI, the same role rule (``kith.imports.permissions``); API keys need the
``write`` scope."""

from __future__ import annotations

import json
from typing import Any

from django.http import FileResponse, Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
    extend_schema_view,
)
from rest_framework import mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied
from rest_framework.parsers import JSONParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.routers import BaseRouter

from kith.contacts.api.views import CrmViewSet
from kith.core.api_fields import StrictBooleanField
from kith.core.errors import NotFound
from kith.imports import selectors, services
from kith.imports.models import ImportJob, ImportKind
from kith.imports.permissions import can_import

MAX_MAPPING_CHARS = 20_000


class ImportSerializer(serializers.ModelSerializer):
    error_report_url = serializers.SerializerMethodField()

    class Meta:
        model = ImportJob
        fields = ["id", "kind", "status", "file_name", "file_size", "format", "encoding", "delimiter", "headers",
                  "mapping", "upsert_key", "update_existing", "total_rows", "processed_rows", "created_count",
                  "updated_count", "skipped_count", "failed_count", "checkpoint", "failure_message",
                  "error_report_url", "created_at", "started_at", "finished_at"]

    def get_error_report_url(self, job: ImportJob) -> str | None:
        return f"/api/v1/imports/{job.pk}/errors/" if job.failed_count else None


@extend_schema_field({"type": "object", "additionalProperties": {"type": "string"},
                     "description": "Column index (from 0) → `email`, `attr.<key>`, `tags`, `skip`…; in a multipart "
                                    "form, the same object as JSON text."})
class MappingField(serializers.Field):
    """A JSON object of column index → target, sent as a JSON text in a multipart form or as an object in JSON."""

    default_error_messages = {"invalid": "Give a JSON object mapping column numbers (from 0) to field names."}

    def to_internal_value(self, data: Any) -> dict[str, str]:
        if isinstance(data, str):
            if len(data) > MAX_MAPPING_CHARS:
                self.fail("invalid")
            try:
                data = json.loads(data)
            except ValueError:
                self.fail("invalid")
        if not isinstance(data, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in data.items()):
            self.fail("invalid")
        return data

    def to_representation(self, value: Any) -> Any:
        return value


class ImportCreateSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=ImportKind.choices)
    file = serializers.FileField(help_text="A .csv or .xlsx file; the first row names the columns.")
    mapping = MappingField(required=False, help_text="Column index → field (`email`, `attr.<key>`, `tags`, "
                                                     "`skip`); guessed from the header row when left out.")
    upsert_key = serializers.ChoiceField(choices=["email", "external_id", "domain"], required=False)
    # Form fields arrive as text: "true"/"false" (and 1/0) are accepted here, unlike in the JSON endpoints.
    update_existing = serializers.BooleanField(required=False, default=True)
    start = serializers.BooleanField(required=False, default=False,
                               help_text="Start at once; otherwise the import stays a draft until `start`.")


class ImportStartSerializer(serializers.Serializer):
    mapping = MappingField(required=False)
    upsert_key = serializers.ChoiceField(choices=["email", "external_id", "domain"], required=False)
    update_existing = StrictBooleanField(required=False)


_IMPORT_EXAMPLE = {
    "id": 31, "kind": "contacts", "status": "running", "file_name": "webinar-leads.csv", "file_size": 48213,
    "format": "csv", "encoding": "utf-8", "delimiter": ",", "headers": ["Email", "First name", "Plan", "Tags"],
    "mapping": {"0": "email", "1": "first_name", "2": "attr.plan", "3": "tags"}, "upsert_key": "email",
    "update_existing": True, "total_rows": 1200, "processed_rows": 500, "created_count": 430, "updated_count": 61,
    "skipped_count": 0, "failed_count": 9, "checkpoint": 500, "failure_message": "",
    "error_report_url": "/api/v1/imports/31/errors/", "created_at": "2026-11-20T09:00:02Z",
    "started_at": "2026-11-20T09:00:05Z", "finished_at": None,
}
_DONE_EXAMPLE = {**_IMPORT_EXAMPLE, "status": "done", "processed_rows": 1200, "created_count": 1040,
                 "updated_count": 144, "failed_count": 16, "checkpoint": 1200, "finished_at": "2026-11-20T09:00:41Z"}
_DRAFT_EXAMPLE = {**_IMPORT_EXAMPLE, "status": "draft", "mapping": {}, "upsert_key": "", "processed_rows": 0,
                  "created_count": 0, "updated_count": 0, "failed_count": 0, "checkpoint": 0,
                  "error_report_url": None, "started_at": None}


@extend_schema_view(
    list=extend_schema(description="The workspace's imports, newest first.",
                       examples=[OpenApiExample("Imports", response_only=True,
                                                value={"next": None, "previous": None, "results": [_DONE_EXAMPLE]})]),
    retrieve=extend_schema(
        description="One import: poll it for progress (`processed_rows` of `total_rows`, an estimate until it is "
                    "done) and the summary counts.",
        examples=[OpenApiExample("Running", response_only=True, value=_IMPORT_EXAMPLE),
                  OpenApiExample("Done, with failed rows", response_only=True, value=_DONE_EXAMPLE)]),
)
class ImportViewSet(CrmViewSet, mixins.ListModelMixin, mixins.RetrieveModelMixin):
    serializer_class = ImportSerializer
    # The upload is multipart; ``start`` takes JSON (or the same form encoding, the mapping as JSON text).
    parser_classes = [JSONParser, MultiPartParser]

    def workspace_queryset(self) -> Any:
        return selectors.import_list(workspace=self.workspace)

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        if self.membership is not None and not can_import(self.membership):
            raise PermissionDenied("Your role cannot import records.")

    def _job(self, pk: Any) -> ImportJob:
        if not (isinstance(pk, str) and pk.isascii() and pk.isdigit() and len(pk) < 19):
            raise NotFound("No such import.")
        job = selectors.import_get(workspace=self.workspace, import_id=int(pk))
        if self.membership is not None and not can_import(self.membership, job.kind):
            raise PermissionDenied("Your role cannot import records of this kind.")
        return job

    @extend_schema(
        request={"multipart/form-data": ImportCreateSerializer}, responses={201: ImportSerializer},
        description="Upload a CSV or XLSX file. Without `start` the import stays a draft whose `headers` and guessed "
                    "`mapping` you can check before `POST …/start/`; with `start=true` it runs at once in the "
                    "background. Good rows import even when others fail; failed rows are listed in the error report.",
        examples=[
            OpenApiExample("Upload and start, mapping given", request_only=True, media_type="multipart/form-data",
                           value={"kind": "contacts", "file": "webinar-leads.csv",
                                  "mapping": '{"0": "email", "1": "first_name", "2": "attr.plan", "3": "tags"}',
                                  "upsert_key": "email", "update_existing": "true", "start": "true"}),
            OpenApiExample("Upload a draft", request_only=True, media_type="multipart/form-data",
                           value={"kind": "companies", "file": "accounts.xlsx"}),
            OpenApiExample("Started", response_only=True, status_codes=["201"],
                           value={**_IMPORT_EXAMPLE, "status": "queued", "processed_rows": 0, "created_count": 0,
                                  "updated_count": 0, "failed_count": 0, "checkpoint": 0,
                                  "error_report_url": None, "started_at": None}),
        ],
    )
    def create(self, request: Request) -> Response:
        serializer = ImportCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        upload = data["file"]
        job = services.import_create(workspace=self.workspace, actor=self.actor, membership=self.membership,
                                     kind=data["kind"], file_name=upload.name, size=upload.size,
                                     chunks=upload.chunks())
        if "mapping" in data or "upsert_key" in data or data["start"]:
            job = self._configure(job, data)
        if data["start"]:
            job = services.import_start(job=job, actor=self.actor)
        return Response(ImportSerializer(selectors.import_get(workspace=self.workspace, import_id=job.pk)).data,
                        status=status.HTTP_201_CREATED)

    def _configure(self, job: ImportJob, data: dict[str, Any]) -> ImportJob:
        return services.import_configure(job=job, actor=self.actor, mapping=data.get("mapping", job.mapping),
                                         upsert_key=data.get("upsert_key", job.upsert_key),
                                         update_existing=data.get("update_existing", job.update_existing))

    def retrieve(self, request: Request, pk: str | None = None) -> Response:
        return Response(ImportSerializer(self._job(pk)).data)

    @extend_schema(methods=["GET"], request=None, responses={200: ImportSerializer},
                   description="The import as `start` would find it (its mapping and options).",
                   examples=[OpenApiExample("A draft", response_only=True, value=_DRAFT_EXAMPLE)])
    @extend_schema(methods=["POST"], request=ImportStartSerializer, responses={200: ImportSerializer},
                   description="Start a draft import, optionally setting its mapping and options first.",
                   examples=[
                       OpenApiExample("Map the columns and start", request_only=True,
                                      value={"mapping": {"0": "email", "1": "first_name", "2": "attr.plan",
                                                         "3": "tags", "4": "skip"},
                                             "upsert_key": "email", "update_existing": False}),
                       OpenApiExample("Started", response_only=True,
                                      value={**_IMPORT_EXAMPLE, "status": "queued", "processed_rows": 0,
                                             "created_count": 0, "updated_count": 0, "failed_count": 0,
                                             "checkpoint": 0, "error_report_url": None, "started_at": None}),
                   ])
    @action(detail=True, methods=["get", "post"])
    def start(self, request: Request, pk: str | None = None) -> Response:
        if request.method == "GET":
            return Response(ImportSerializer(self._job(pk)).data)
        serializer = ImportStartSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        job = self._configure(self._job(pk), serializer.validated_data)
        job = services.import_start(job=job, actor=self.actor)
        return Response(ImportSerializer(selectors.import_get(workspace=self.workspace, import_id=job.pk)).data)

    @extend_schema(
        responses={(200, "text/csv"): OpenApiResponse(OpenApiTypes.BINARY, description="One line per failed row.")},
        examples=[OpenApiExample(
            "Two failed rows", response_only=True, media_type="text/csv",
            value="row,error,Email,First name,Plan,Tags\r\n"
                  "7,email: Enter a valid e-mail address.,dana(at)example.com,Dana,pro,\r\n"
                  "12,\"attr.plan: 'platinum' is not one of the choices: free, pro, enterprise.\",ben@example.com,Ben,"
                  "platinum,vip\r\n")],
    )
    @action(detail=True, methods=["get"])
    def errors(self, request: Request, pk: str | None = None) -> FileResponse:
        """The error report: the row number, the errors, then the row's original cells."""
        job = self._job(pk)
        path = selectors.error_report_path(job=job)
        if path is None:
            raise Http404("This import has no error report yet.")
        return FileResponse(path.open("rb"), as_attachment=True, filename=f"import-{job.pk}-errors.csv",
                            content_type="text/csv")


def register(router: BaseRouter) -> None:
    router.register("imports", ImportViewSet, basename="import")
