"""API plumbing shared by every app: cursor pagination and one error format.

Every error body looks like ``{"error": {"code": "...", "message": "...", "fields": {"name": ["..."]}}}`` so
clients handle failures one way, whatever raised them (DRF validation, a domain ``KithError``, a 404).
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404
from rest_framework import exceptions, pagination, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from kith.core.errors import KithError


class CursorPagination(pagination.CursorPagination):
    """Cursor pagination by descending id: stable under inserts and O(page) at any depth (no OFFSET)."""

    ordering = "-id"
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500
    invalid_cursor_message = "This cursor is not valid; start again from the first page."

    def get_page_size(self, request: Any) -> int:
        # DRF silently falls back to the default for a malformed page_size; a typed API answers 400 instead.
        values = request.query_params.getlist(self.page_size_query_param)
        if not values:
            return self.page_size
        if len(values) > 1 or not (values[0].isascii() and values[0].isdigit()) or int(values[0]) < 1:
            raise exceptions.ValidationError({self.page_size_query_param: ["Give one whole number of at least 1."]})
        return min(int(values[0]), self.max_page_size)

    def decode_cursor(self, request: Any) -> Any:
        # DRF answers a bad cursor with 404; it is a bad query parameter, so 400 naming the field.
        try:
            return super().decode_cursor(request)
        except exceptions.NotFound as exc:
            raise exceptions.ValidationError({self.cursor_query_param: [self.invalid_cursor_message]}) from exc


def _flatten(detail: Any) -> Any:
    if isinstance(detail, dict):
        return {key: _flatten(value) for key, value in detail.items()}
    if isinstance(detail, list):
        return [_flatten(item) for item in detail]
    return str(detail)


def error_body(code: str, message: str, fields: dict[str, Any] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"code": code, "message": message}
    if fields:
        body["fields"] = fields
    return {"error": body}


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, KithError):
        fields = {exc.field: [exc.message]} if exc.field else None
        return Response(error_body(exc.code, exc.message, fields), status=exc.status_code)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        detail = _flatten(exc.detail)
        if isinstance(detail, list):
            detail = {"non_field_errors": detail}
        response.data = error_body("invalid", "The request has invalid fields.", detail)
    elif isinstance(exc, exceptions.APIException):
        codes = exc.get_codes()
        code = codes if isinstance(codes, str) else "error"
        response.data = error_body(code, str(exc.detail))
    if response.status_code == status.HTTP_429_TOO_MANY_REQUESTS:
        response.data["error"]["code"] = "throttled"
    return response
