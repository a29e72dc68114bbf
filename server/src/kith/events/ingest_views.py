"""The Segment-compatible tracking endpoints: POST /v1/identify, /v1/track, /v1/page, /v1/screen, /v1/group,
/v1/alias and /v1/batch (also /v1/import), answering ``{"success": true}`` like Segment.

Plain Django views rather than DRF: this is the hottest path of the server (thousands of events a second), it
speaks Segment's protocol rather than Kith's REST conventions, and it needs none of DRF's content negotiation.
Errors still use Kith's API error body. The request is authenticated by a workspace API key with the ``events``
(or ``write``) scope, sent the way Segment clients send their write key: HTTP Basic with the key as the user name
and an empty password, or ``writeKey`` in the body; ``Authorization: Bearer <key>`` works too.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from kith.accounts.models import ApiKey, ApiKeyScope
from kith.accounts.services import api_key_authenticate
from kith.core import clock
from kith.core.api import error_body
from kith.events.ingest import (
    MAX_BATCH_BYTES,
    MAX_EVENT_BYTES,
    PayloadError,
    body_read,
    json_load,
    payload_to_events,
)
from kith.events.services import events_accept

# A single message may carry a little envelope (writeKey, sentAt) beyond its own 32 KB.
SINGLE_BODY_LIMIT = MAX_EVENT_BYTES + 1024
# Compressed bodies are read up to the decompressed limit too: gzip never makes JSON bigger by much.
_RAW_SLACK = 1024


def _error(status: int, code: str, message: str, fields: dict[str, Any] | None = None,
           **extra: Any) -> JsonResponse:
    response = JsonResponse({**error_body(code, message, fields), **extra}, status=status)
    if status == 401:
        response["WWW-Authenticate"] = 'Basic realm="Kith events"'
    return response


def _header_key(request: HttpRequest) -> str | None:
    header = request.META.get("HTTP_AUTHORIZATION", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return ""
        return decoded.partition(":")[0]
    if scheme.lower() == "bearer":
        return value.strip()
    return None


def _authenticate(raw_key: Any) -> ApiKey | JsonResponse:
    key = api_key_authenticate(raw_key) if isinstance(raw_key, str) and raw_key else None
    if key is None:
        return _error(401, "authentication_failed",
                      "Send a valid write key: HTTP Basic with the key as user name, or writeKey in the body.")
    if not (key.has_scope(ApiKeyScope.EVENTS) or key.has_scope(ApiKeyScope.WRITE)):
        return _error(403, "permission_denied", "This key may not send events; give it the events scope.")
    return key


def _read_body(request: HttpRequest, limit: int) -> bytes:
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > limit + _RAW_SLACK:
        raise PayloadError(413, "payload_too_large",
                           f"The request body is larger than {limit // 1024} KB. Send smaller batches.")
    # read() rather than .body: the limit here is the event API's, not DATA_UPLOAD_MAX_MEMORY_SIZE.
    raw = request.read(limit + _RAW_SLACK + 1)
    if len(raw) > limit + _RAW_SLACK:
        raise PayloadError(413, "payload_too_large",
                           f"The request body is larger than {limit // 1024} KB. Send smaller batches.")
    return body_read(raw=raw, content_encoding=request.META.get("HTTP_CONTENT_ENCODING", ""), limit=limit)


@csrf_exempt
def ingest(request: HttpRequest, kind: str | None) -> JsonResponse:
    """One endpoint for all message types; ``kind`` comes from the URL (``None`` for batch/import)."""
    if request.method != "POST":
        response = _error(405, "method_not_allowed", "Use POST.")
        response["Allow"] = "POST"
        return response
    received_at = clock.now()
    header_key = _header_key(request)
    key: ApiKey | JsonResponse | None = None
    if header_key is not None:
        # Authenticate before reading the body, so a wrong key costs no parsing.
        key = _authenticate(header_key)
        if isinstance(key, JsonResponse):
            return key
    try:
        body = _read_body(request, MAX_BATCH_BYTES if kind is None else SINGLE_BODY_LIMIT)
        payload = json_load(body)
        if key is None:
            key = _authenticate(payload.get("writeKey"))
            if isinstance(key, JsonResponse):
                return key
        parsed = payload_to_events(payload, kind=kind, workspace_id=key.workspace_id, received_at=received_at,
                                   body=body)
    except PayloadError as exc:
        return _error(exc.status, exc.code, exc.message)
    events_accept(workspace_id=key.workspace_id, events=parsed.events)
    if parsed.rejected:
        # The valid messages are stored (nothing valid is lost); the answer names each refused one by position.
        too_large = parsed.too_large == len(parsed.rejected)
        total = len(parsed.rejected) + len(parsed.events)
        return _error(413 if too_large else 400, "payload_too_large" if too_large else "invalid",
                      f"{len(parsed.rejected)} of {total} messages were refused; the others were accepted.",
                      parsed.rejected, accepted=len(parsed.events))
    return JsonResponse({"success": True})
