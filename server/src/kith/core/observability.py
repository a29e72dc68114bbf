"""Request ids, structured-log context and Prometheus metrics."""

from __future__ import annotations

import contextvars
import logging
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from django.http import HttpRequest, HttpResponse
from prometheus_client import Counter, Histogram

_REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


@dataclass(frozen=True)
class RequestContext:
    request_id: str = ""
    ip_address: str | None = None


_context: contextvars.ContextVar[RequestContext] = contextvars.ContextVar("kith_request", default=RequestContext())


def current_request_context() -> RequestContext:
    return _context.get()


class RequestIdFilter(logging.Filter):
    """Adds ``request_id`` to every log record so JSON logs can be joined per request."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = _context.get().request_id
        return True


class RequestIdMiddleware:
    """Takes a well-formed incoming ``X-Request-ID`` (from a proxy) or makes one, and echoes it in the response."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        incoming = request.headers.get("X-Request-ID", "")
        request_id = incoming if _REQUEST_ID_RE.match(incoming) else uuid.uuid4().hex
        request.request_id = request_id  # type: ignore[attr-defined]
        token = _context.set(RequestContext(request_id=request_id, ip_address=request.META.get("REMOTE_ADDR")))
        try:
            response = self.get_response(request)
        finally:
            _context.reset(token)
        response["X-Request-ID"] = request_id
        return response


HTTP_REQUESTS = Counter("kith_http_requests_total", "HTTP requests served", ["method", "status"])
HTTP_LATENCY = Histogram(
    "kith_http_request_duration_seconds",
    "Time spent producing a response",
    ["method"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)


class MetricsMiddleware:
    """Counts requests and their latency. Labels are bounded (method, status) so cardinality stays small."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        response = self.get_response(request)
        method = request.method if request.method in {"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"} else "OTHER"
        HTTP_LATENCY.labels(method).observe(time.perf_counter() - started)
        HTTP_REQUESTS.labels(method, str(response.status_code)).inc()
        return response
