"""``GET /api/v1/<list>/export/?format=csv|json|ndjson|xlsx&<the list's filters>``: the whole filtered list as a file.

The rows are exactly those the list endpoint would page through for the same query string: the same selector
(access rules), the same FilterSet, search and ordering; only the cursor pagination is left out.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpResponseBase
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
)
from rest_framework import permissions
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.request import Request

from kith.accounts.permissions import WorkspaceAccess
from kith.contacts.exports import columns_select, export_audit, may_export
from kith.core.exports import CONTENT_TYPES, ExportColumn, ExportFormat, export_response

FORMAT_PARAM = "format"
COLUMNS_PARAM = "columns"


class CanExport(permissions.BasePermission):
    message = "Viewers cannot export lists; ask an owner or admin."

    def has_permission(self, request: Request, view: Any) -> bool:
        return may_export(getattr(request._request, "membership", None))


class ErrorsAsJson(BaseContentNegotiation):
    """``?format=`` names the file format here, not a DRF renderer, and the file is written by the view itself; the
    negotiated renderer only ever renders an error body, which is JSON like every other error."""

    def select_parser(self, request: Request, parsers: list[Any]) -> Any:
        return parsers[0] if parsers else None

    def select_renderer(self, request: Request, renderers: list[Any], format_suffix: str | None = None) -> Any:
        return renderers[0], renderers[0].media_type


_ROW_SCHEMA = {"type": "object", "additionalProperties": {}}
EXPORT_SCHEMA = extend_schema(
    summary="Export the filtered list",
    description="The whole list for the same filters, search and ordering as the list endpoint, as a download: "
                "`csv` (UTF-8 with BOM, one column per custom field as `attr.<key>`, cells that would start a "
                "spreadsheet formula are prefixed with `'`), `json` (one array of objects shaped like the list's "
                "results), `ndjson` (one object per line) or `xlsx`. Streamed: any number of rows. Viewers may not "
                "export; every export is written to the audit log.",
    parameters=[
        OpenApiParameter(FORMAT_PARAM, str, enum=[f.value for f in ExportFormat], default="csv",
                         description="The file format."),
        OpenApiParameter(COLUMNS_PARAM, str, description="Comma-separated column names (`email,attr.plan`) "
                                                         "to export, in this order; all columns when left out."),
    ],
    responses={
        (200, CONTENT_TYPES[ExportFormat.CSV].split(";")[0]): OpenApiResponse(OpenApiTypes.STR),
        (200, CONTENT_TYPES[ExportFormat.JSON]): OpenApiResponse({"type": "array", "items": _ROW_SCHEMA}),
        (200, CONTENT_TYPES[ExportFormat.NDJSON]): OpenApiResponse(OpenApiTypes.STR),
        (200, CONTENT_TYPES[ExportFormat.XLSX]): OpenApiResponse(OpenApiTypes.BINARY),
    },
    # Shown for the contacts export with ?columns=id,email,first_name,attr.plan; the other lists have their columns.
    examples=[
        OpenApiExample("CSV", response_only=True, media_type=CONTENT_TYPES[ExportFormat.CSV].split(";")[0],
                       value="\ufeffid,email,first_name,attr.plan\r\n981,dana.lee@example.com,Dana,pro\r\n"
                             "980,ben@example.com,'=1+2,\r\n"),
        OpenApiExample("JSON", response_only=True, media_type=CONTENT_TYPES[ExportFormat.JSON],
                       value=[{"id": 981, "email": "dana.lee@example.com", "first_name": "Dana",
                               "attributes": {"plan": "pro"}},
                              {"id": 980, "email": "ben@example.com", "first_name": "=1+2",
                               "attributes": {"plan": None}}]),
        OpenApiExample("NDJSON", response_only=True, media_type=CONTENT_TYPES[ExportFormat.NDJSON],
                       value='{"id": 981, "email": "dana.lee@example.com", "first_name": "Dana", '
                             '"attributes": {"plan": "pro"}}\n'
                             '{"id": 980, "email": "ben@example.com", "first_name": "=1+2", '
                             '"attributes": {"plan": null}}\n'),
    ],
)


def export_format_parse(values: list[str]) -> ExportFormat:
    if not values:
        return ExportFormat.CSV
    if len(values) > 1:
        raise ValidationError({FORMAT_PARAM: ["Give this parameter once."]})
    try:
        return ExportFormat(values[0])
    except ValueError as exc:
        raise ValidationError({FORMAT_PARAM: [f"Choose one of: {', '.join(f.value for f in ExportFormat)}."]}) from exc


def export_columns_parse(values: list[str]) -> list[str] | None:
    if not values:
        return None
    if len(values) > 1:
        raise ValidationError({COLUMNS_PARAM: ["Give this parameter once."]})
    return values[0].split(",")


class ExportMixin:
    """Adds ``export/`` to a list viewset. Subclasses name the file and give the columns."""

    export_name: str  # "contacts": the file name, and the audit action "<export_object>.exported"
    export_object: str

    def export_columns(self) -> list[ExportColumn]:
        raise TypeError(f"{type(self).__name__} must define export_columns()")

    @EXPORT_SCHEMA
    @action(detail=False, methods=["get"], url_path="export", content_negotiation_class=ErrorsAsJson,
            pagination_class=None, permission_classes=[WorkspaceAccess, CanExport])
    def export(self, request: Request) -> HttpResponseBase:
        view: Any = self
        export_format = export_format_parse(request.query_params.getlist(FORMAT_PARAM))
        wanted = export_columns_parse(request.query_params.getlist(COLUMNS_PARAM))
        columns = columns_select(self.export_columns(), wanted)
        queryset = view.filter_queryset(view.get_queryset())
        export_audit(workspace=view.workspace, actor=view.actor, object_type=self.export_object,
                     export_format=export_format.value, query=request.META.get("QUERY_STRING", ""))
        filename = f"{self.export_name}-{timezone.now():%Y%m%d-%H%M%S}"
        return export_response(queryset, columns, export_format=export_format, filename=filename)
