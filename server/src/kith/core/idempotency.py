"""Idempotency keys for every write of the REST API.

A client that sends ``Idempotency-Key: <its own unique string>`` with a POST, PUT, PATCH or DELETE can retry the
request after a timeout without doing the write twice:

- the first request runs and its response (status and body) is stored under the key;
- the same key with the same request (same caller, method, path, query and body) answers the stored response
  again, with ``Idempotent-Replayed: true``, and changes nothing;
- the same key with a different request answers 422 ``idempotency_key_reused``;
- keys are kept 24 hours (``IDEMPOTENCY_TTL``); after that a key may be used afresh. ``idempotency_prune`` (in
  ``kith/core/jobs/schedule.toml``) deletes expired records.

Exactly once, without a crash window: the key's record is inserted at the start of the request and completed at the
end, in one transaction with the write itself. A crash or a 5xx rolls back both, so a retry runs afresh; a
concurrent duplicate blocks on the record's unique index until the first commits, then replays its response.
Responses 409 and 429 are not stored either (they depend on the moment, not on the request).

Viewsets opt in with ``IdempotentViewMixin`` and document the header with ``IdempotentAutoSchema``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import IntegrityError, transaction
from drf_spectacular.openapi import AutoSchema
from rest_framework.request import Request
from rest_framework.response import Response

from kith.core import clock
from kith.core.errors import KithError
from kith.core.idempotency_models import IdempotencyRecord
from kith.core.jobs import job

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
# Long enough to cover a client's retries across a day-long outage, short enough that the table stays small.
IDEMPOTENCY_TTL = dt.timedelta(hours=24)
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# Visible ASCII: keys are compared byte for byte and shown back in errors, so no spaces or control characters.
KEY_PATTERN = re.compile(r"^[!-~]{1,255}$")
# Answers that reflect the moment rather than the request: a retry must be allowed to get a different one.
_NOT_STORED = frozenset({409, 429})


class InvalidIdempotencyKey(KithError):
    code = "invalid"


class IdempotencyKeyReused(KithError):
    status_code = 422
    code = "idempotency_key_reused"


def request_fingerprint(*, caller: str, method: str, path: str, query: list[tuple[str, list[str]]], body: Any) -> str:
    """SHA-256 of everything that makes two requests "the same". The body is hashed in canonical JSON, so key
    order and whitespace do not matter. The caller is part of it, so one member cannot replay another's answer."""
    canonical = json.dumps(
        {"caller": caller, "method": method, "path": path, "query": sorted(query), "body": body},
        sort_keys=True, separators=(",", ":"), cls=DjangoJSONEncoder, default=str,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def idempotency_begin(
    *, workspace: Any, key: str, method: str, path: str, fingerprint: str
) -> tuple[IdempotencyRecord, bool]:
    """Claim ``key`` for this request, or find the stored outcome of an earlier one.

    Returns ``(record, replay)``: ``replay`` is False when this request claimed the key and must run, True when
    ``record`` holds the response to answer with. Must run inside the transaction that performs the write.
    Raises ``IdempotencyKeyReused`` when the key belongs to a different request.
    """
    now = clock.now()
    for _ in range(2):
        try:
            with transaction.atomic():
                record = IdempotencyRecord.objects.create(
                    workspace=workspace, key=key, method=method, path=path[:2000], fingerprint=fingerprint,
                    created_at=now,
                )
            return record, False
        except IntegrityError:
            existing = IdempotencyRecord.objects.filter(workspace=workspace, key=key).first()
        if existing is None:
            continue  # expired and pruned between our insert and our read: claim it now
        if existing.created_at <= now - IDEMPOTENCY_TTL:
            existing.delete()
            continue
        if existing.fingerprint != fingerprint:
            raise IdempotencyKeyReused(
                f"This {HEADER} was already used for a different request ({existing.method} {existing.path[:200]}). "
                "Use a new key for a new request.",
                field=HEADER,
            )
        return existing, True
    raise IdempotencyKeyReused(f"This {HEADER} is being used by another request; retry shortly.", field=HEADER)


def idempotency_complete(*, record: IdempotencyRecord, status: int, body: Any) -> None:
    """Store the response of the request that claimed ``record`` (same transaction as its write)."""
    record.response_status = status
    stored = json.loads(json.dumps(body, cls=DjangoJSONEncoder)) if body is not None else None
    record.response_body = _without_nul(stored)
    record.save(update_fields=["response_status", "response_body"])


def _without_nul(value: Any) -> Any:
    """PostgreSQL's jsonb cannot hold U+0000, which an error body may echo from the request; a replay shows the
    text without it rather than the write failing."""
    if isinstance(value, str):
        return value.replace("\x00", "")
    if isinstance(value, list):
        return [_without_nul(item) for item in value]
    if isinstance(value, dict):
        return {_without_nul(key): _without_nul(item) for key, item in value.items()}
    return value


@job
def idempotency_prune() -> int:
    """Delete records older than ``IDEMPOTENCY_TTL``; they can no longer be replayed. Returns how many."""
    deleted, _ = IdempotencyRecord.objects.filter(created_at__lte=clock.now() - IDEMPOTENCY_TTL).delete()
    return deleted


class _Replay(Exception):
    """Raised from ``initial`` to skip the handler; ``handle_exception`` turns it into the stored response."""

    def __init__(self, record: IdempotencyRecord) -> None:
        super().__init__(record.key)
        self.record = record


def _caller(request: Request) -> str:
    if getattr(request.auth, "is_api_key", False):
        return f"key:{request.auth.pk}"
    return f"user:{request.user.pk}"


class IdempotentViewMixin:
    """Makes every POST/PUT/PATCH/DELETE of a DRF view honour ``Idempotency-Key`` (see the module docstring).

    The key is claimed after authentication and permission checks, so a refused request never claims one. The
    view's workspace is ``request.workspace`` (set by the session middleware or the API-key authentication).
    """

    _idempotency_record: IdempotencyRecord | None = None

    def dispatch(self, request: Any, *args: Any, **kwargs: Any) -> Any:
        if request.method in UNSAFE_METHODS and f"HTTP_{HEADER.upper().replace('-', '_')}" in request.META:
            # The claim, the write and the stored response commit together, or not at all.
            with transaction.atomic():
                return super().dispatch(request, *args, **kwargs)  # type: ignore[misc]
        return super().dispatch(request, *args, **kwargs)  # type: ignore[misc]

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        self._idempotency_record = None
        super().initial(request, *args, **kwargs)  # type: ignore[misc]
        key = request.headers.get(HEADER)
        if request.method not in UNSAFE_METHODS or key is None:
            return
        if not KEY_PATTERN.match(key):
            raise InvalidIdempotencyKey(f"{HEADER} must be 1-255 visible ASCII characters.", field=HEADER)
        fingerprint = request_fingerprint(
            caller=_caller(request), method=request.method, path=request.path,
            query=list(request.query_params.lists()), body=request.data,
        )
        record, replay = idempotency_begin(workspace=request._request.workspace, key=key, method=request.method,
                                           path=request.path, fingerprint=fingerprint)
        if replay:
            raise _Replay(record)
        self._idempotency_record = record

    def handle_exception(self, exc: Exception) -> Response:
        if isinstance(exc, _Replay):
            response = Response(exc.record.response_body, status=exc.record.response_status)
            response[REPLAYED_HEADER] = "true"
            return response
        return super().handle_exception(exc)  # type: ignore[misc]

    def finalize_response(self, request: Request, response: Any, *args: Any, **kwargs: Any) -> Any:
        response = super().finalize_response(request, response, *args, **kwargs)  # type: ignore[misc]
        record, self._idempotency_record = self._idempotency_record, None
        if record is not None:
            if response.status_code >= 500 or response.status_code in _NOT_STORED:
                transaction.set_rollback(True)  # drop the claim (and any partial write): a retry runs afresh
            else:
                idempotency_complete(record=record, status=response.status_code, body=getattr(response, "data", None))
        return response


_ERROR_REF = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}


class IdempotentAutoSchema(AutoSchema):
    """Documents the ``Idempotency-Key`` header, the replay header and the 422 answer on every write."""

    def get_operation(self, *args: Any, **kwargs: Any) -> Any:
        operation = super().get_operation(*args, **kwargs)
        if operation is None or self.method not in UNSAFE_METHODS:
            return operation
        operation.setdefault("parameters", []).append({
            "in": "header",
            "name": HEADER,
            "required": False,
            "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[!-~]+$"},
            "description": (
                "Makes the write safe to retry for 24 hours: the same key with the same request answers the stored "
                f"response again (with `{REPLAYED_HEADER}: true`) without writing twice; the same key with a "
                "different request answers 422."
            ),
            "examples": {"uuid": {"summary": "A random UUID per logical write",
                                  "value": "5f0c7a52-9d1e-4a8e-b1f3-2f4c1f6a9e10"}},
        })
        responses = operation.setdefault("responses", {})
        for status, response in responses.items():
            if status.startswith("2"):
                response.setdefault("headers", {})[REPLAYED_HEADER] = {
                    "description": "Present (`true`) when this is the stored response of an earlier request with "
                                   "the same Idempotency-Key.",
                    "schema": {"type": "string", "enum": ["true"]},
                }
        responses.setdefault("422", {
            "description": f"The {HEADER} was already used for a different request.",
            "content": _ERROR_REF,
        })
        return operation
