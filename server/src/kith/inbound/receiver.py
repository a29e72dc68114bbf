"""The public receiver: POST /hooks/in/<token>/.

A plain Django view, like the tracking API's (kith.events.ingest_views): no session, no CSRF (the signature is the
authority), no DRF. Answers use Kith's API error body. Order of checks, cheapest and least revealing first:

1. the token names an endpoint, else 404 (nothing is logged: there is no endpoint to log against);
2. the endpoint's rate limit (a token bucket per endpoint), else 429 — before anything is written, so a flood of
   forged requests cannot fill the delivery log;
3. the endpoint is active, else 403 (logged);
4. the body is at most 512 KB, else 413 (logged);
5. the signature (and its timestamp) is valid, else 401 (logged with a short excerpt of the body);
6. the body is a JSON object of the expected shape, else 400 (logged).
"""

from __future__ import annotations

import logging
import math
from typing import Any

from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from kith.core import clock
from kith.core.api import error_body
from kith.core.ratelimit import bucket_take
from kith.inbound import selectors
from kith.inbound.models import DeliveryStatus, InboundEndpoint
from kith.inbound.services import (
    MAX_BODY_BYTES,
    Outcome,
    inbound_receive,
    inbound_refuse,
)

logger = logging.getLogger(__name__)

# Per endpoint: bursts of up to 300 requests, 20 a second sustained. Stripe sends a few events per payment and
# retries with backoff; a bulk backfill through a generic endpoint should pace itself at this rate.
RATE_BURST = 300
RATE_PER_SECOND = 20.0


def _error(status: int, code: str, message: str, fields: dict[str, Any] | None = None) -> JsonResponse:
    return JsonResponse(error_body(code, message, fields), status=status)


def _answer(outcome: Outcome) -> JsonResponse:
    if outcome.status == DeliveryStatus.REJECTED:
        return _error(outcome.http_status, outcome.code, outcome.reason, outcome.fields or None)
    return JsonResponse({"received": True, "status": outcome.status, **({"reason": outcome.reason}
                                                                        if outcome.reason else {})})


def _throttled(endpoint: InboundEndpoint) -> JsonResponse | None:
    try:
        state = bucket_take(f"kith:ratelimit:inbound:{endpoint.pk}", capacity=RATE_BURST,
                            per_second=RATE_PER_SECOND)
    except Exception:  # a cache outage must not turn payments away
        logger.exception("rate limit cache unavailable; inbound webhook let through")
        return None
    if state.allowed:
        return None
    response = _error(429, "throttled", "Too many requests to this endpoint; retry later.")
    response["Retry-After"] = str(max(1, math.ceil(state.retry_after)))
    return response


@csrf_exempt
def receive(request: HttpRequest, token: str) -> JsonResponse:
    if request.method != "POST":
        response = _error(405, "method_not_allowed", "Use POST.")
        response["Allow"] = "POST"
        return response
    endpoint = selectors.inbound_endpoint_by_token(token=token)
    if endpoint is None:
        return _error(404, "not_found", "No endpoint at this address.")
    throttled = _throttled(endpoint)
    if throttled is not None:
        return throttled
    now = clock.now()
    if not endpoint.is_active:
        return _answer(inbound_refuse(endpoint=endpoint, http_status=403, code="endpoint_paused",
                                      reason="The endpoint is paused in Kith; nothing was stored.", now=now))
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    # read() rather than .body: the limit here is this endpoint's, not DATA_UPLOAD_MAX_MEMORY_SIZE.
    body = b"" if declared > MAX_BODY_BYTES else request.read(MAX_BODY_BYTES + 1)
    if declared > MAX_BODY_BYTES or len(body) > MAX_BODY_BYTES:
        return _answer(inbound_refuse(endpoint=endpoint, http_status=413, code="payload_too_large",
                                      reason=f"The body is larger than {MAX_BODY_BYTES // 1024} KB.",
                                      body=body[:1024], now=now))
    return _answer(inbound_receive(endpoint=endpoint, body=body, headers=request.headers, now=now))
