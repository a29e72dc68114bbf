"""Export buttons of the contacts, companies and deals list pages: the rows the page lists for the same query string
(the list views' own ``*_list_filtered`` functions select them), as CSV, XLSX, JSON or NDJSON.

The buttons submit the page's filter form to these URLs with ``format`` added, so what is downloaded is what the
filter bar shows right now, also after live (HTMX) filtering changed it without a page load. The form also carries
the page's layout (``columns``, ``sort``; see ``kith.savedviews.layout``): a page showing chosen columns exports
those columns, in its sort order; the default layout exports every column.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpResponse, HttpResponseBadRequest
from django.utils import timezone
from django.views.decorators.http import require_GET

from kith.contacts.errors import InvalidFields
from kith.contacts.exports import (
    columns_select,
    company_export_columns,
    contact_export_columns,
    export_audit,
    may_export,
)
from kith.contacts.views.companies import company_list_filtered
from kith.contacts.views.contacts import contact_list_filtered
from kith.core.exports import ExportColumn, ExportFormat, export_response
from kith.deals.exports import deal_export_columns
from kith.deals.views import deal_list_filtered
from kith.savedviews.layout import list_layout
from kith.savedviews.models import ListKind
from kith.web.views.base import MemberRequest, member_required


def _export(request: MemberRequest, *, name: str, kind: str, queryset: QuerySet[Any],
            columns_for: Callable[..., list[ExportColumn]]) -> HttpResponse:
    if not may_export(request.membership):
        raise PermissionDenied("Viewers cannot export lists.")
    try:
        export_format = ExportFormat(request.GET.get("format", "csv"))
    except ValueError:
        return HttpResponseBadRequest("Choose csv, xlsx, json or ndjson.", content_type="text/plain")
    layout = list_layout(request, kind=kind)
    try:
        columns = columns_select(columns_for(workspace=request.workspace), layout.export_columns())
    except InvalidFields as exc:
        return HttpResponseBadRequest(exc.message, content_type="text/plain")
    queryset = layout.ordered(queryset)
    export_audit(workspace=request.workspace, actor=request.user, object_type=name,
                 export_format=export_format.value, query=request.META.get("QUERY_STRING", ""))
    filename = f"{name}-{timezone.now():%Y%m%d-%H%M%S}"
    return export_response(queryset, columns, export_format=export_format, filename=filename)  # type: ignore[return-value]


@member_required
@require_GET
def contact_export(request: MemberRequest) -> HttpResponse:
    _, _, queryset = contact_list_filtered(request)
    return _export(request, name="contacts", kind=ListKind.CONTACT, queryset=queryset, columns_for=contact_export_columns)


@member_required
@require_GET
def company_export(request: MemberRequest) -> HttpResponse:
    _, queryset = company_list_filtered(request)
    return _export(request, name="companies", kind=ListKind.COMPANY, queryset=queryset, columns_for=company_export_columns)


@member_required
@require_GET
def deal_export(request: MemberRequest) -> HttpResponse:
    _, _, queryset = deal_list_filtered(request)
    return _export(request, name="deals", kind=ListKind.DEAL, queryset=queryset, columns_for=deal_export_columns)
