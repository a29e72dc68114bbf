"""Reading Segment tracking-API payloads into ``Event`` rows: body decoding, size limits, shape checks and the
clock-skew correction. Pure functions (no queries), so the accept path stays cheap and the rules are testable alone.

The rules follow Segment's HTTP tracking API:

- a message is at most 32 KB and a batch request at most 500 KB (decompressed);
- ``userId`` or ``anonymousId`` is required (``alias`` needs ``userId`` and ``previousId``; ``track`` an ``event``
  name; ``group`` a ``groupId``);
- ``timestamp`` is corrected by ``receivedAt - sentAt`` when the client sent both (its clock may be wrong, the
  difference between its two readings is not), and is ``receivedAt`` when absent;
- a message without ``messageId`` gets a random one (every Segment library sends one; without it there is nothing
  to deduplicate on).
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from kith.events.models import EventType

# Segment's limits, which its client libraries already respect (segment-analytics-python splits batches at 475 KB).
MAX_EVENT_BYTES = 32 * 1024
MAX_BATCH_BYTES = 500 * 1024
MAX_ID_LENGTH = 255
MAX_NAME_LENGTH = 255

_SINGLE_TYPES = frozenset(EventType.values)


class PayloadError(Exception):
    """The request as a whole cannot be read: nothing of it is stored."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


@dataclass(slots=True)
class EventRow:
    """One accepted message, ready to insert (a plain record: building model instances would cost more than the
    whole insert at thousands of events a second)."""

    workspace_id: int
    message_id: str
    type: str
    name: str
    user_id: str
    anonymous_id: str
    previous_id: str
    group_id: str
    timestamp: dt.datetime
    received_at: dt.datetime
    properties: dict[str, Any]
    traits: dict[str, Any]
    context: dict[str, Any]


@dataclass
class Parsed:
    """Events ready to insert, and the messages that were refused (``batch[3]`` → reasons)."""

    events: list[EventRow] = field(default_factory=list)
    rejected: dict[str, list[str]] = field(default_factory=dict)
    too_large: int = 0


def body_read(*, raw: bytes, content_encoding: str, limit: int) -> bytes:
    """The request body, gunzipped when ``Content-Encoding: gzip``; at most ``limit`` bytes once decompressed, so a
    small gzip bomb cannot expand into gigabytes in memory. Raises ``PayloadError`` (413 or 400)."""
    encoding = content_encoding.strip().lower()
    if encoding in ("", "identity"):
        data = raw
    elif encoding == "gzip":
        inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
        try:
            data = inflater.decompress(raw, limit + 1)
        except zlib.error as exc:
            raise PayloadError(400, "invalid_body", "The body is not valid gzip data.") from exc
        if len(data) <= limit and not inflater.eof and not inflater.unconsumed_tail:
            raise PayloadError(400, "invalid_body", "The gzip data is truncated.")
    else:
        raise PayloadError(415, "unsupported_encoding", "Send the body plain or with Content-Encoding: gzip.")
    if len(data) > limit:
        raise PayloadError(413, "payload_too_large",
                           f"The request body is larger than {limit // 1024} KB. Send smaller batches.")
    return data


def json_load(data: bytes) -> dict[str, Any]:
    try:
        payload = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise PayloadError(400, "invalid_json", "The body is not valid JSON.") from exc
    if not isinstance(payload, dict):
        raise PayloadError(400, "invalid_json", "The body must be a JSON object.")
    return payload


def timestamp_parse(value: Any) -> dt.datetime:
    """An ISO 8601 time (``2024-05-31T12:00:00.123Z``); naive times are read as UTC. Raises ``ValueError``."""
    if not isinstance(value, str) or len(value) > 64:
        raise ValueError("Expected an ISO 8601 time such as 2024-05-31T12:00:00Z.")
    try:
        parsed = dt.datetime.fromisoformat(value.strip())
    except ValueError as exc:
        raise ValueError("Expected an ISO 8601 time such as 2024-05-31T12:00:00Z.") from exc
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=dt.UTC)
    # Stored in UTC: PostgreSQL refuses offsets beyond ±15:59, which Python accepts.
    try:
        return parsed.astimezone(dt.UTC)
    except OverflowError as exc:
        raise ValueError("This time is out of range.") from exc


def skew_corrected(*, timestamp: dt.datetime | None, sent_at: dt.datetime | None,
                   received_at: dt.datetime) -> dt.datetime:
    """Segment's rule: the client's ``timestamp`` moved by the gap between the server's and the client's clock."""
    if timestamp is None:
        return received_at
    if sent_at is None:
        return timestamp
    try:
        return timestamp + (received_at - sent_at)
    except OverflowError:
        return timestamp


def _identifier(value: Any, name: str, errors: list[str]) -> str:
    """Ids may be sent as numbers (``userId: 42``); stored as text."""
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, str | int):
        errors.append(f"{name} must be a string.")
        return ""
    text = str(value).strip()
    if len(text) > MAX_ID_LENGTH or "\x00" in text:
        errors.append(f"{name} must be at most {MAX_ID_LENGTH} characters without NUL.")
        return ""
    return text


def _object(message: Mapping[str, Any], name: str, errors: list[str]) -> dict[str, Any]:
    value = message.get(name)
    if value is None:
        return {}
    if not isinstance(value, dict):
        errors.append(f"{name} must be an object.")
        return {}
    return value


def _text(message: Mapping[str, Any], name: str, errors: list[str], *, required: bool) -> str:
    value = message.get(name)
    if value is None or value == "":
        if required:
            errors.append(f"{name} is required.")
        return ""
    if not isinstance(value, str) or len(value) > MAX_NAME_LENGTH or "\x00" in value:
        errors.append(f"{name} must be text of at most {MAX_NAME_LENGTH} characters.")
        return ""
    return value.strip()


def _has_nul(value: Any) -> bool:
    """Whether ``value`` holds text no database column can store: U+0000 (PostgreSQL's jsonb refuses it) or a lone
    surrogate (not UTF-8 at all). Such a message is refused rather than failing the whole insert."""
    if isinstance(value, str):
        if "\x00" in value:
            return True
        try:
            value.encode()
        except UnicodeEncodeError:
            return True
        return False
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(item) for item in value)
    return False


def message_to_event(
    message: Any, *, kind: str | None, workspace_id: int, received_at: dt.datetime,
    batch_sent_at: dt.datetime | None, batch_context: Mapping[str, Any] | None, may_hold_nul: bool = True,
) -> tuple[EventRow | None, list[str]]:
    """One Segment message as an ``EventRow``, or the reasons it is refused. ``kind`` is the endpoint's type
    (``None`` for a batch item, which names its own ``type``). ``may_hold_nul=False`` skips the NUL scan when the
    caller knows the body has none (see ``payload_to_events``)."""
    if not isinstance(message, dict):
        return None, ["Each message must be a JSON object."]
    errors: list[str] = []
    if len(json.dumps(message, separators=(",", ":"), default=str).encode()) > MAX_EVENT_BYTES:
        return None, [f"The message is larger than {MAX_EVENT_BYTES // 1024} KB."]
    if may_hold_nul and _has_nul(message):
        return None, ["The message contains a NUL character (\\u0000) or a lone surrogate, which cannot be stored."]
    event_type = kind or message.get("type")
    if event_type not in _SINGLE_TYPES:
        return None, [f"type must be one of {', '.join(EventType.values)}."]
    user_id = _identifier(message.get("userId"), "userId", errors)
    anonymous_id = _identifier(message.get("anonymousId"), "anonymousId", errors)
    previous_id = group_id = name = ""
    if event_type == EventType.ALIAS:
        previous_id = _identifier(message.get("previousId"), "previousId", errors)
        if not previous_id or not user_id:
            errors.append("alias needs userId and previousId.")
    elif not user_id and not anonymous_id:
        errors.append("userId or anonymousId is required.")
    if event_type == EventType.TRACK:
        name = _text(message, "event", errors, required=True)
    elif event_type in (EventType.PAGE, EventType.SCREEN):
        name = _text(message, "name", errors, required=False)
    elif event_type == EventType.GROUP:
        group_id = _identifier(message.get("groupId"), "groupId", errors)
        if not group_id:
            errors.append("groupId is required.")
    properties = _object(message, "properties", errors)
    traits = _object(message, "traits", errors)
    context = _object(message, "context", errors)
    if batch_context:
        context = {**batch_context, **context}
    timestamp = sent_at = None
    for key in ("timestamp", "sentAt"):
        if message.get(key) is None:
            continue
        try:
            parsed = timestamp_parse(message[key])
        except ValueError as exc:
            errors.append(f"{key}: {exc}")
            continue
        if key == "timestamp":
            timestamp = parsed
        else:
            sent_at = parsed
    message_id = _identifier(message.get("messageId"), "messageId", errors) or f"kith-{uuid.uuid4()}"
    if errors:
        return None, errors
    return EventRow(
        workspace_id=workspace_id, message_id=message_id, type=event_type, name=name, user_id=user_id,
        anonymous_id=anonymous_id, previous_id=previous_id, group_id=group_id,
        timestamp=skew_corrected(timestamp=timestamp, sent_at=sent_at or batch_sent_at, received_at=received_at),
        received_at=received_at, properties=properties, traits=traits, context=context,
    ), []


def payload_to_events(
    payload: Mapping[str, Any], *, kind: str | None, workspace_id: int, received_at: dt.datetime,
    body: bytes | None = None,
) -> Parsed:
    """All events of one request (``kind=None`` for /v1/batch). Raises ``PayloadError`` when the request's shape
    is wrong as a whole; refused messages are reported in ``Parsed.rejected`` by position.

    ``body`` is the JSON text the payload was parsed from. Valid JSON can only carry U+0000 as the escape
    ``\\u0000``, so a body without a backslash-u sequence needs no per-message NUL scan (the common case)."""
    parsed = Parsed()
    may_hold_nul = body is None or b"\\u" in body
    if kind is not None:
        event, errors = message_to_event(payload, kind=kind, workspace_id=workspace_id, received_at=received_at,
                                         batch_sent_at=None, batch_context=None, may_hold_nul=may_hold_nul)
        if event is None:
            if errors and "larger than" in errors[0]:
                raise PayloadError(413, "payload_too_large", errors[0])
            raise PayloadError(400, "invalid", " ".join(errors))
        parsed.events.append(event)
        return parsed
    batch = payload.get("batch")
    if not isinstance(batch, list):
        raise PayloadError(400, "invalid", "batch must be a list of messages.")
    batch_sent_at = None
    if payload.get("sentAt") is not None:
        try:
            batch_sent_at = timestamp_parse(payload["sentAt"])
        except ValueError as exc:
            raise PayloadError(400, "invalid", f"sentAt: {exc}") from exc
    batch_context = payload.get("context") if isinstance(payload.get("context"), dict) else None
    seen: set[str] = set()
    for index, message in enumerate(batch):
        event, errors = message_to_event(message, kind=None, workspace_id=workspace_id, received_at=received_at,
                                         batch_sent_at=batch_sent_at, batch_context=batch_context,
                                         may_hold_nul=may_hold_nul)
        if event is None:
            parsed.rejected[f"batch[{index}]"] = errors
            parsed.too_large += any("larger than" in error for error in errors)
        elif event.message_id not in seen:  # the same message twice in one batch is one event
            seen.add(event.message_id)
            parsed.events.append(event)
    return parsed
