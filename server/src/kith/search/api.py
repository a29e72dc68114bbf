"""REST side of search: ``GET /api/v1/search/?q=`` across contacts, companies and deals, and the ``?search=``
filter backend the contact, company and deal lists use."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.urls import path
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework import filters, serializers
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from kith.search import selectors
from kith.search.query import MAX_QUERY_CHARS, parse

# The API accepts a little more than the UI, but not a document: longer input is a client bug.
MAX_PARAM_CHARS = 500
MAX_LIMIT = 50


def _param(request: Request, name: str) -> str:
    values = request.query_params.getlist(name)
    if len(values) > 1:
        raise ValidationError({name: ["Give this parameter once."]})
    value = values[0] if values else ""
    if len(value) > MAX_PARAM_CHARS:
        raise ValidationError({name: [f"At most {MAX_PARAM_CHARS} characters."]})
    return value


class FullTextSearchFilter(filters.SearchFilter):
    """``?search=`` through ``kith.search.selectors`` (full-text and trigram on PostgreSQL, ``LIKE`` on SQLite)
    instead of DRF's per-field ``icontains``. The view names its function in ``search_function``; the list keeps
    its own order and cursor pagination (``/search/`` is the ranked view)."""

    def filter_queryset(self, request: Request, queryset: QuerySet[Any], view: Any) -> QuerySet[Any]:
        raw = _param(request, self.search_param)
        if not raw.strip():
            return queryset
        return view.search_function(queryset, parse(raw), workspace=view.workspace)

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        return [{
            "name": self.search_param, "required": False, "in": "query", "schema": {"type": "string"},
            "description": "Words to look for: each must start a word of a name, e-mail, phone or the company "
                           "(PostgreSQL also matches any part of a name or address, and small typos).",
        }]


# What the contact, company and deal lists use instead of the project default (whose SearchFilter is DRF's).
FULL_TEXT_FILTER_BACKENDS = [DjangoFilterBackend, FullTextSearchFilter, filters.OrderingFilter]


class SearchContactSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    first_name = serializers.CharField()
    last_name = serializers.CharField()
    email = serializers.CharField()
    phone = serializers.CharField()
    company_id = serializers.IntegerField(allow_null=True)
    company_name = serializers.CharField(source="company.name", default=None, allow_null=True)
    rank = serializers.FloatField(source="search_rank")


class SearchCompanySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    domain = serializers.CharField()
    rank = serializers.FloatField(source="search_rank")


class SearchDealSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    value = serializers.DecimalField(max_digits=14, decimal_places=2)
    currency = serializers.CharField()
    status = serializers.CharField()
    rank = serializers.FloatField(source="search_rank")


class SearchResultsSerializer(serializers.Serializer):
    query = serializers.CharField(help_text="The query as searched: trimmed, lower-cased, cut to 100 characters.")
    contacts = SearchContactSerializer(many=True)
    companies = SearchCompanySerializer(many=True)
    deals = SearchDealSerializer(many=True)


class SearchView(APIView):
    """One search across the contacts, companies and deals the caller may see."""

    admin_only = False

    @extend_schema(
        parameters=[
            OpenApiParameter("q", OpenApiTypes.STR, description=f"What to look for (the first {MAX_QUERY_CHARS} "
                             "characters count). Empty answers empty groups."),
            OpenApiParameter("limit", OpenApiTypes.INT, description=f"Results per group, 1–{MAX_LIMIT} "
                             f"(default {selectors.GROUP_LIMIT})."),
        ],
        responses=SearchResultsSerializer,
        description="Contacts, companies and deals matching `q`, best match first within each group.",
        examples=[OpenApiExample("GET /api/v1/search/?q=globex&limit=2", response_only=True, value={
            "query": "globex",
            "contacts": [{"id": 42, "first_name": "Dana", "last_name": "Lee", "email": "dana.lee@globex.com",
                          "phone": "+14155550123", "company_id": 9, "company_name": "Globex", "rank": 0.61}],
            "companies": [{"id": 9, "name": "Globex", "domain": "globex.com", "rank": 0.76}],
            "deals": [{"id": 17, "name": "Globex renewal", "value": "12000.00", "currency": "EUR",
                       "status": "open", "rank": 0.43},
                      {"id": 23, "name": "Globex pilot", "value": "5000.00", "currency": "EUR", "status": "won",
                       "rank": 0.41}],
        })],
    )
    def get(self, request: Request) -> Response:
        query = parse(_param(request, "q"))
        limit_raw = _param(request, "limit") if "limit" in request.query_params else str(selectors.GROUP_LIMIT)
        if not (limit_raw.isascii() and limit_raw.isdigit()) or not 1 <= int(limit_raw) <= MAX_LIMIT:
            raise ValidationError({"limit": [f"Give a whole number from 1 to {MAX_LIMIT}."]})
        results = selectors.search_everything(workspace=request._request.workspace,
                                              membership=request._request.membership, query=query,
                                              limit=int(limit_raw))
        body = {"query": query.text, "contacts": results.contacts, "companies": results.companies,
                "deals": results.deals}
        return Response(SearchResultsSerializer(body).data)


urlpatterns = [path("search/", SearchView.as_view(), name="search")]
