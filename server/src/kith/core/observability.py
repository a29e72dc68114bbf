"""Request ids, structured-log context, the access log and the per-process HTTP metrics.

This module is imported while Django configures logging (``LOGGING`` names ``RequestIdFilter``), before the app
registry is ready, so it must not import models. Scrape-time metrics that query the database live in
``kith.core.metrics``.
"""

from __future__ import annotations

import contextvars
import logging
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.utils.functional import SimpleLazyObject, empty
from prometheus_client import Counter, Histogram

# What we accept from a proxy's X-Request-ID: short and log-safe (no spaces, quotes or newlines to forge lines with).
_REQUEST_ID_RE = re.compile(r"[A-Za-z0-9._-]{1,64}")


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
        request_id = _context.get().request_id
        if not request_id:
            # Django logs 4xx/5xx responses ("Not Found: /x") after the middleware has returned, outside the
            # context; those records carry the request itself.
            request_id = getattr(getattr(record, "request", None), "request_id", "")
        record.request_id = request_id
        return True


class RequestIdMiddleware:
    """Takes a well-formed incoming ``X-Request-ID`` (from a proxy) or makes one, and echoes it in the response."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        incoming = request.headers.get("X-Request-ID", "")
        request_id = incoming if _REQUEST_ID_RE.fullmatch(incoming) else uuid.uuid4().hex
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


access_logger = logging.getLogger("kith.access")

# Methods outside this set are counted as OTHER so a client inventing methods cannot create new label values.
_KNOWN_METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"})
# Long paths (a token in a URL, a scanner's garbage) are cut so one request cannot bloat the log line.
_MAX_LOGGED_PATH = 300


class MetricsMiddleware:
    """Counts requests and their latency, and writes one access-log line per request.

    Labels are bounded (method, status) so cardinality stays small. The access line goes to the ``kith.access``
    logger at INFO with ``method``, ``path``, ``status``, ``duration_ms`` and, when already known, ``user_id``,
    ``api_key`` and ``workspace_id``; the request id is added by ``RequestIdFilter`` because this middleware runs
    inside ``RequestIdMiddleware``. It never triggers a query of its own: a user that was not loaded while handling
    the request stays unlogged rather than costing a session and user lookup per line.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        response = self.get_response(request)
        elapsed = time.perf_counter() - started
        method = request.method if request.method in _KNOWN_METHODS else "OTHER"
        HTTP_LATENCY.labels(method).observe(elapsed)
        HTTP_REQUESTS.labels(method, str(response.status_code)).inc()
        if access_logger.isEnabledFor(logging.INFO):
            _log_access(request, response, method, elapsed)
        return response


def _log_access(request: HttpRequest, response: HttpResponse, method: str, elapsed: float) -> None:
    path = request.path[:_MAX_LOGGED_PATH]
    duration_ms = round(elapsed * 1000, 1)
    fields: dict[str, Any] = {
        "method": method,
        "path": path,
        "status": response.status_code,
        "duration_ms": duration_ms,
    }
    user = _loaded_user(request)
    if user is not None and getattr(user, "is_authenticated", False):
        api_key = getattr(user, "api_key", None)
        if api_key is not None:
            fields["api_key"] = api_key.prefix
        else:
            fields["user_id"] = user.pk
    workspace = getattr(request, "workspace", None)
    if workspace is not None:
        fields["workspace_id"] = workspace.pk
    access_logger.info("%s %s %s %sms", method, path, response.status_code, duration_ms, extra=fields)


def _loaded_user(request: HttpRequest) -> Any:
    """``request.user`` if something already loaded it, else ``None`` (see ``MetricsMiddleware``)."""
    user = request.__dict__.get("user")
    if isinstance(user, SimpleLazyObject) and user._wrapped is empty:
        return None
    return user
