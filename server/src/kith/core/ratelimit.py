"""Rate limits of the REST API (SPEC §3.6): a token bucket per API key, and per member and workspace for session
calls, kept in Django's cache (Redis in production, process memory in embedded mode).

A bucket holds up to ``KITH_API_RATE_BURST`` requests and refills at ``KITH_API_RATE_LIMIT`` requests a minute, so a
client may burst, then settles at the sustained rate. A request finding the bucket empty is answered 429 in the API's
error format with ``Retry-After`` (whole seconds until one token is back). Every limited response carries
``X-RateLimit-Limit`` (the bucket size), ``X-RateLimit-Remaining`` (whole tokens left) and ``X-RateLimit-Reset``
(seconds until the bucket is full again).

The bucket is read and written without a lock (Django's cache has no compare-and-set), so requests of one key that
arrive at the very same instant on different workers can each take the same token: the limit can be overshot by
at most the number of concurrent requests, which is fine for protecting the server. With the process-memory cache
each server process keeps its own buckets; set ``REDIS_URL`` (or ``KITH_CACHE_URL``) when running several.
A cache outage lets requests through (logged) rather than failing the API.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse
from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle

logger = logging.getLogger(__name__)

HEADER_LIMIT = "X-RateLimit-Limit"
HEADER_REMAINING = "X-RateLimit-Remaining"
HEADER_RESET = "X-RateLimit-Reset"


@dataclass(frozen=True)
class BucketState:
    allowed: bool
    capacity: int
    tokens: float
    retry_after: float  # seconds until one token is available (0 when allowed)
    reset_after: float  # seconds until the bucket is full


def bucket_take(key: str, *, capacity: int, per_second: float, now: float | None = None) -> BucketState:
    """Take one token from bucket ``key``; a missing bucket starts full."""
    now = time.time() if now is None else now
    stored = cache.get(key)
    tokens, last = stored if isinstance(stored, tuple) and len(stored) == 2 else (float(capacity), now)
    tokens = min(float(capacity), tokens + max(0.0, now - last) * per_second)
    allowed = tokens >= 1.0
    if allowed:
        tokens -= 1.0
    # Kept as long as it takes to refill: after that a missing bucket (full) is the same thing.
    refill = (capacity - tokens) / per_second
    cache.set(key, (tokens, now), timeout=math.ceil(refill) + 1)
    return BucketState(allowed=allowed, capacity=capacity, tokens=tokens,
                       retry_after=0.0 if allowed else (1.0 - tokens) / per_second, reset_after=refill)


def bucket_key(request: Request) -> str | None:
    """Whose bucket a request draws from: its API key, else the session member in the current workspace."""
    auth = request.auth
    if getattr(auth, "is_api_key", False):
        return f"kith:ratelimit:key:{auth.pk}:{auth.prefix}"
    workspace = getattr(request._request, "workspace", None)
    user = request.user
    if workspace is not None and user is not None and user.is_authenticated and user.pk is not None:
        return f"kith:ratelimit:member:{workspace.pk}:{user.pk}"
    return None


class ApiKeyRateThrottle(BaseThrottle):
    """DRF throttle (``DEFAULT_THROTTLE_CLASSES``) applying the token bucket. ``KITH_API_RATE_LIMIT=0`` turns it
    off."""

    def __init__(self) -> None:
        self.state: BucketState | None = None

    def allow_request(self, request: Request, view: Any) -> bool:
        per_minute = settings.KITH_API_RATE_LIMIT
        key = bucket_key(request)
        if per_minute <= 0 or key is None:
            return True
        try:
            self.state = bucket_take(key, capacity=max(1, settings.KITH_API_RATE_BURST),
                                     per_second=per_minute / 60.0)
        except Exception:  # a cache outage must not take the API down with it
            logger.exception("rate limit cache unavailable; request let through")
            return True
        request._request.kith_ratelimit = self.state  # type: ignore[attr-defined]
        return self.state.allowed

    def wait(self) -> float | None:
        return math.ceil(self.state.retry_after) if self.state is not None else None


def ratelimit_headers(state: BucketState) -> dict[str, str]:
    return {HEADER_LIMIT: str(state.capacity), HEADER_REMAINING: str(max(0, math.floor(state.tokens))),
            HEADER_RESET: str(math.ceil(state.reset_after))}


class RateLimitHeadersMiddleware:
    """Adds the ``X-RateLimit-*`` headers to responses whose request went through the throttle (DRF throttles can
    refuse a request but not decorate the response of one they let through)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        state = getattr(request, "kith_ratelimit", None)
        if state is not None:
            for name, value in ratelimit_headers(state).items():
                response[name] = value
        return response


_HEADERS_DOC = {
    "Retry-After": {"description": "Whole seconds to wait before the next request can succeed.",
                    "schema": {"type": "integer"}},
    HEADER_LIMIT: {"description": "Requests the key may make in a burst (the bucket size).",
                   "schema": {"type": "integer"}},
    HEADER_REMAINING: {"description": "Requests left in the bucket now.", "schema": {"type": "integer"}},
    HEADER_RESET: {"description": "Seconds until the bucket is full again.", "schema": {"type": "integer"}},
}


def document_rate_limits(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict[str, Any]:
    """drf-spectacular postprocessing hook (after ``add_error_responses``): every 429 names its headers."""
    for operations in result.get("paths", {}).values():
        for operation in operations.values():
            if not isinstance(operation, dict):
                continue
            throttled = operation.get("responses", {}).get("429")
            if throttled is not None:
                throttled.setdefault("headers", {}).update(_HEADERS_DOC)
                throttled["description"] = ("Too many requests for this API key (token bucket: "
                                            "`X-RateLimit-Limit` requests in a burst, refilled at the configured "
                                            "rate per minute); retry after `Retry-After` seconds.")
    return result
