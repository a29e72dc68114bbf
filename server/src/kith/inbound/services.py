"""Writes of incoming webhooks: endpoints (create, update, replace the secret, delete), receiving one request, and
pruning the delivery log.

Receiving turns an authentic request into Segment messages and hands them to ``kith.events.services.events_accept``
— the very path of the tracking API — so contact resolution, the timeline, event segments and workflow triggers
(``events_processed``) treat a Stripe payment like any tracked event. The request itself costs a few indexed
queries and one INSERT; contacts are resolved by the event processing job, not here.

Who the event is about (see docs/inbound.md):

- an e-mail address is sent as an ``identify`` (trait ``email``) just before the ``track``, under the same id: the
  processing job finds the contact by that address or creates it, and links the id to it;
- a Stripe customer id is that id (anonymous id ``stripe:cus_…``), so once linked, later events of the customer
  reach the same contact even when they carry no e-mail (refunds often do not). The identify is only sent while
  the customer id is not linked yet, so Stripe never rewrites the e-mail of a contact it already knows;
- a generic ``userId`` is the contact's external id, as on the tracking API.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.db.models import F

from kith.accounts.models import Workspace
from kith.core import clock
from kith.core.audit import audit_record
from kith.core.errors import KithError
from kith.core.jobs import job
from kith.events.ingest import (
    EventRow,
    PayloadError,
    json_load,
    message_to_event,
    timestamp_parse,
)
from kith.events.models import Event, Identity, IdentityKind
from kith.events.services import events_accept
from kith.inbound.models import (
    DeliveryStatus,
    EndpointKind,
    InboundDelivery,
    InboundEndpoint,
)
from kith.inbound.signatures import (
    PayloadUnreadable,
    SignatureInvalid,
    generic_secret_generate,
    generic_verify,
    stripe_event_construct,
)
from kith.inbound.stripe_events import stripe_facts

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 512 * 1024
EXCERPT_CHARS = 200
# A generic messageId is stored inside "inbound:<endpoint id>:<id>", which must fit Event.message_id (255).
MAX_GENERIC_ID = 200
# Delivery log rows are kept this long (the Event rows themselves are kept like every event).
LOG_RETENTION = dt.timedelta(days=30)
PRUNE_BATCH = 5000
PRUNE_BATCHES_PER_RUN = 20
_LIBRARY = {"name": "kith-inbound", "version": "1"}


# --- endpoints ---------------------------------------------------------------------------------------------------

def token_generate() -> str:
    return secrets.token_urlsafe(32)


def _stripe_secret(value: str) -> str:
    secret = value.strip()
    if not secret.startswith("whsec_") or len(secret) < 10 or len(secret) > 200 or not secret.isascii() \
            or any(ch.isspace() for ch in secret):
        raise KithError("Paste the endpoint's signing secret from the Stripe dashboard (it starts with whsec_).",
                        field="signing_secret")
    return secret


def _name(value: str) -> str:
    name = value.strip()
    if not name:
        raise KithError("Give the endpoint a name.", field="name")
    return name


def inbound_endpoint_create(
    *, workspace: Workspace, actor: Any, kind: str, name: str, signing_secret: str = "", is_active: bool = True,
) -> InboundEndpoint:
    """Create an endpoint with a fresh URL token. A Stripe endpoint takes the ``whsec_`` secret Stripe generated
    (``signing_secret``, which may follow later through ``inbound_endpoint_rotate_secret``); a generic one gets a
    secret generated here (the caller shows ``endpoint.secret`` once).
    Raises ``KithError`` naming the field."""
    if kind not in EndpointKind.values:
        raise KithError("Choose stripe or generic.", field="kind")
    if kind == EndpointKind.STRIPE:
        # Stripe shows the secret only after its endpoint exists, and that needs our URL first: a Stripe endpoint
        # may be created without one, and refuses every request until it is set.
        secret = _stripe_secret(signing_secret) if signing_secret.strip() else ""
    elif signing_secret:
        raise KithError("Kith generates the secret of a generic endpoint; leave this empty.", field="signing_secret")
    else:
        secret = generic_secret_generate()
    with transaction.atomic():
        endpoint = InboundEndpoint.objects.create(workspace=workspace, kind=kind, name=_name(name),
                                                  token=token_generate(), secret=secret, is_active=is_active)
        audit_record(action="inbound_endpoint.created", actor=actor, workspace=workspace, target=endpoint,
                     target_label=endpoint.name, after={"kind": kind, "name": endpoint.name})
    return endpoint


def inbound_endpoint_update(*, endpoint: InboundEndpoint, actor: Any, changes: Mapping[str, Any]) -> InboundEndpoint:
    """Change ``name`` and/or ``is_active`` (a paused endpoint answers 403 and stores nothing)."""
    values = {key: value for key, value in changes.items() if key in ("name", "is_active")}
    if "name" in values:
        values["name"] = _name(values["name"])
    if not values:
        return endpoint
    with transaction.atomic():
        before = {key: getattr(endpoint, key) for key in values}
        for key, value in values.items():
            setattr(endpoint, key, value)
        endpoint.save(update_fields=[*values, "updated_at"])
        audit_record(action="inbound_endpoint.updated", actor=actor, workspace=endpoint.workspace, target=endpoint,
                     target_label=endpoint.name, before=before, after=values)
    return endpoint


def inbound_endpoint_rotate_secret(*, endpoint: InboundEndpoint, actor: Any,
                                   signing_secret: str = "") -> InboundEndpoint:
    """Replace the secret at once: a generic endpoint gets a new generated one; a Stripe endpoint takes the new
    ``whsec_`` secret Stripe shows after "Roll secret". Requests signed with the old one are refused from now on."""
    if endpoint.kind == EndpointKind.STRIPE:
        secret = _stripe_secret(signing_secret)
    elif signing_secret:
        raise KithError("Kith generates the secret of a generic endpoint; leave this empty.", field="signing_secret")
    else:
        secret = generic_secret_generate()
    with transaction.atomic():
        endpoint.secret = secret
        endpoint.save(update_fields=["secret", "updated_at"])
        audit_record(action="inbound_endpoint.secret_rotated", actor=actor, workspace=endpoint.workspace,
                     target=endpoint, target_label=endpoint.name)
    return endpoint


@transaction.atomic
def inbound_endpoint_delete(*, endpoint: InboundEndpoint, actor: Any) -> None:
    """Delete the endpoint and its delivery log (its events stay: they are the contacts' history)."""
    audit_record(action="inbound_endpoint.deleted", actor=actor, workspace=endpoint.workspace, target=endpoint,
                 target_label=endpoint.name, before={"kind": endpoint.kind, "name": endpoint.name})
    endpoint.delete()


# --- receiving ---------------------------------------------------------------------------------------------------

@dataclass
class Outcome:
    """What happened to one request: the HTTP answer and the log row's fields."""

    status: str
    http_status: int
    code: str = ""
    reason: str = ""
    event_type: str = ""
    event_id: str = ""
    message_id: str = ""
    fields: dict[str, list[str]] = field(default_factory=dict)


class _Refused(Exception):
    def __init__(self, http_status: int, code: str, reason: str, fields: dict[str, list[str]] | None = None) -> None:
        super().__init__(reason)
        self.http_status, self.code, self.reason, self.fields = http_status, code, reason, fields or {}


def inbound_refuse(*, endpoint: InboundEndpoint, http_status: int, code: str, reason: str, body: bytes = b"",
                   now: dt.datetime | None = None) -> Outcome:
    """Log a request refused before its body was read (too large, endpoint paused) and return the outcome."""
    outcome = Outcome(status=DeliveryStatus.REJECTED, http_status=http_status, code=code, reason=reason)
    _record(endpoint, outcome, body=body, now=now or clock.now())
    return outcome


def inbound_receive(*, endpoint: InboundEndpoint, body: bytes, headers: Mapping[str, str],
                    now: dt.datetime | None = None) -> Outcome:
    """Verify one request to ``endpoint``, store its event(s) and log it. Never raises for the sender's faults:
    they are an ``Outcome`` with a 4xx ``http_status``.

    ``headers`` must be case-insensitive (``request.headers``). Verification comes before any parsing, so an
    unauthenticated body is never interpreted."""
    now = now or clock.now()
    try:
        if endpoint.kind == EndpointKind.STRIPE:
            outcome = _stripe_receive(endpoint, body=body, headers=headers, now=now)
        else:
            outcome = _generic_receive(endpoint, body=body, headers=headers, now=now)
    except SignatureInvalid as exc:
        outcome = Outcome(status=DeliveryStatus.REJECTED, http_status=401, code="invalid_signature",
                          reason=exc.reason)
    except _Refused as exc:
        outcome = Outcome(status=DeliveryStatus.REJECTED, http_status=exc.http_status, code=exc.code,
                          reason=exc.reason, fields=exc.fields)
    if outcome.status == DeliveryStatus.REJECTED:
        logger.warning("inbound webhook rejected", extra={"endpoint": endpoint.pk, "workspace": endpoint.workspace_id,
                                                          "reason": outcome.reason, "http_status": outcome.http_status})
        _record(endpoint, outcome, body=body, now=now)
    return outcome


def _stripe_receive(endpoint: InboundEndpoint, *, body: bytes, headers: Mapping[str, str],
                    now: dt.datetime) -> Outcome:
    if not endpoint.secret:
        raise SignatureInvalid("This endpoint has no Stripe signing secret yet: paste it in Kith (Replace secret).")
    try:
        payload = stripe_event_construct(secret=endpoint.secret, headers=headers, body=body)
    except PayloadUnreadable as exc:
        raise _Refused(400, "invalid_json", str(exc)) from exc
    event_id, event_type = payload.get("id"), payload.get("type")
    data = payload.get("data")
    obj = data.get("object") if isinstance(data, dict) else None
    if not (isinstance(event_id, str) and event_id and len(event_id) <= 200 and isinstance(event_type, str)
            and isinstance(obj, dict)):
        raise _Refused(400, "invalid", "A Stripe event needs id, type and data.object.")
    facts = stripe_facts(event_type=event_type, obj=obj)
    outcome = Outcome(status=DeliveryStatus.ACCEPTED, http_status=200, event_type=event_type[:255],
                      event_id=event_id, message_id=event_id)
    if facts is None:
        outcome.status, outcome.message_id = DeliveryStatus.IGNORED, ""
        outcome.reason = f"Kith does not map Stripe {event_type[:100]} events."
        logger.info("inbound stripe event ignored", extra={"endpoint": endpoint.pk, "type": event_type[:100]})
        return _store(endpoint, outcome, rows=[], now=now)
    created = payload.get("created")
    timestamp = (dt.datetime.fromtimestamp(created, tz=dt.UTC)
                 if isinstance(created, int) and not isinstance(created, bool) and 0 < created < 2**33 else now)
    context = {"library": _LIBRARY, "inbound": {"endpoint": endpoint.pk, "kind": EndpointKind.STRIPE,
                                                "stripe_event": event_id, "stripe_type": event_type}}
    # The customer id, once linked to a contact, is how a customer's later events find it; a guest payment gets
    # an id of its own event, which only its e-mail (if any) can link.
    anonymous_id = f"stripe:{facts.customer}" if facts.customer else f"stripe:{event_id}"
    messages: list[dict[str, Any]] = []
    if facts.email and not _identity_linked(endpoint.workspace_id, anonymous_id):
        messages.append({"type": "identify", "anonymousId": anonymous_id, "traits": {"email": facts.email},
                         "messageId": f"{event_id}:identify", "timestamp": timestamp.isoformat(),
                         "context": context})
    elif not facts.email and not facts.customer:
        outcome.reason = "No e-mail address or customer in the Stripe object: stored without a contact."
    messages.append({"type": "track", "anonymousId": anonymous_id, "event": facts.name,
                     "properties": facts.properties, "messageId": event_id, "timestamp": timestamp.isoformat(),
                     "context": context})
    return _store(endpoint, outcome, rows=_rows(endpoint, messages, now=now), now=now)


def _generic_receive(endpoint: InboundEndpoint, *, body: bytes, headers: Mapping[str, str],
                     now: dt.datetime) -> Outcome:
    generic_verify(secret=endpoint.secret, headers=headers, body=body, now=now.timestamp())
    try:
        payload = json_load(body)
    except PayloadError as exc:
        raise _Refused(400, exc.code, exc.message) from exc
    errors: dict[str, list[str]] = {}
    name = _generic_text(payload, "event", errors, required=True, limit=255)
    email = _generic_text(payload, "email", errors, required=False, limit=254)
    if email:
        try:
            validate_email(email)
        except ValidationError:
            errors["email"] = ["Enter a valid e-mail address."]
    user_id = payload.get("userId")
    if user_id == "":
        user_id = None
    if isinstance(user_id, int) and not isinstance(user_id, bool):
        user_id = str(user_id)
    if user_id is not None and not (isinstance(user_id, str) and 0 < len(user_id.strip()) <= 255):
        errors["userId"] = ["userId must be a string of at most 255 characters."]
        user_id = None
    if not email and not user_id and "email" not in errors and "userId" not in errors:
        errors["email"] = ["Send email or userId: who the event is about."]
    given_id = _generic_text(payload, "messageId", errors, required=False, limit=MAX_GENERIC_ID)
    properties = payload.get("properties", {})
    if not isinstance(properties, dict):
        errors["properties"] = ["properties must be a JSON object."]
    timestamp = now
    if payload.get("timestamp") is not None:
        try:
            timestamp = timestamp_parse(payload["timestamp"])
        except ValueError as exc:
            errors["timestamp"] = [str(exc)]
    if errors:
        raise _Refused(400, "invalid", "The payload has invalid fields.", errors)
    # Without a messageId the body's hash is the event's identity: a sender retrying the same body (its signature
    # timestamp is outside the body) stores it once. Two genuinely separate events must differ in some byte, e.g.
    # a messageId or a timestamp.
    message_id = f"inbound:{endpoint.pk}:{given_id or 'sha256-' + hashlib.sha256(body).hexdigest()}"
    outcome = Outcome(status=DeliveryStatus.ACCEPTED, http_status=200, event_type=name[:255],
                      event_id=given_id, message_id=message_id)
    who: dict[str, Any] = {"userId": user_id.strip()} if user_id else {"anonymousId": message_id}
    context = {"library": _LIBRARY, "inbound": {"endpoint": endpoint.pk, "kind": EndpointKind.GENERIC}}
    messages: list[dict[str, Any]] = []
    if email:
        messages.append({"type": "identify", **who, "traits": {"email": email.lower()},
                         "messageId": f"{message_id}:identify", "timestamp": timestamp.isoformat(),
                         "context": context})
    messages.append({"type": "track", **who, "event": name, "properties": properties, "messageId": message_id,
                     "timestamp": timestamp.isoformat(), "context": context})
    return _store(endpoint, outcome, rows=_rows(endpoint, messages, now=now), now=now)


def _generic_text(payload: Mapping[str, Any], name: str, errors: dict[str, list[str]], *, required: bool,
                  limit: int) -> str:
    value = payload.get(name)
    if value is None or value == "":
        if required:
            errors[name] = [f"{name} is required."]
        return ""
    if not isinstance(value, str) or not value.strip() or len(value) > limit or "\x00" in value:
        errors[name] = [f"{name} must be text of at most {limit} characters."]
        return ""
    return value.strip()


def _identity_linked(workspace_id: int, anonymous_id: str) -> bool:
    return Identity.objects.filter(workspace_id=workspace_id, kind=IdentityKind.ANONYMOUS,
                                   value=anonymous_id).exists()


def _rows(endpoint: InboundEndpoint, messages: list[dict[str, Any]], *, now: dt.datetime) -> list[EventRow]:
    """The messages as event rows, through the tracking API's own checks (sizes, NUL characters, ids)."""
    rows = []
    for message in messages:
        row, errors = message_to_event(message, kind=None, workspace_id=endpoint.workspace_id, received_at=now,
                                       batch_sent_at=None, batch_context=None)
        if row is None:
            too_large = any("larger than" in error for error in errors)
            raise _Refused(413 if too_large else 400, "payload_too_large" if too_large else "invalid",
                           " ".join(errors))
        rows.append(row)
    return rows


def _store(endpoint: InboundEndpoint, outcome: Outcome, *, rows: list[EventRow], now: dt.datetime) -> Outcome:
    """Accept the rows (unless the event id is already stored) and log the delivery, in one transaction."""
    with transaction.atomic():
        if rows and Event.objects.filter(workspace_id=endpoint.workspace_id, message_id=outcome.message_id).exists():
            # A retry or replay: Stripe delivers at least once. events_accept would skip the rows anyway (ON
            # CONFLICT DO NOTHING); checking first lets the log say so.
            outcome.status = DeliveryStatus.IGNORED
            outcome.reason = "Duplicate: this event id was already received; nothing was stored again."
        elif rows:
            events_accept(workspace_id=endpoint.workspace_id, events=rows)
        _record(endpoint, outcome, body=b"", now=now)
    return outcome


_COUNTERS = {DeliveryStatus.ACCEPTED: "accepted_count", DeliveryStatus.REJECTED: "rejected_count",
             DeliveryStatus.IGNORED: "ignored_count"}


def _record(endpoint: InboundEndpoint, outcome: Outcome, *, body: bytes, now: dt.datetime) -> None:
    """One log row and the endpoint's counters. Only a rejected request keeps an excerpt of its body."""
    excerpt = ""
    if outcome.status == DeliveryStatus.REJECTED and body:
        excerpt = body[:EXCERPT_CHARS * 4].decode("utf-8", errors="replace")[:EXCERPT_CHARS].replace("\x00", "")
    with transaction.atomic():
        InboundDelivery.objects.create(
            workspace_id=endpoint.workspace_id, endpoint=endpoint, received_at=now, status=outcome.status,
            http_status=outcome.http_status, reason=outcome.reason[:500], event_type=outcome.event_type[:255],
            event_id=outcome.event_id[:255], message_id=outcome.message_id[:255], excerpt=excerpt)
        counter = _COUNTERS[DeliveryStatus(outcome.status)]
        InboundEndpoint.objects.filter(pk=endpoint.pk).update(last_received_at=now, **{counter: F(counter) + 1})


@job
def inbound_deliveries_prune() -> int:
    """Periodic: delete log rows older than ``LOG_RETENTION`` in batches (short transactions, no long lock).
    Returns how many."""
    cutoff = clock.now() - LOG_RETENTION
    total = 0
    for _ in range(PRUNE_BATCHES_PER_RUN):
        ids = list(InboundDelivery.objects.filter(received_at__lt=cutoff).order_by("received_at")
                   .values_list("pk", flat=True)[:PRUNE_BATCH])
        if ids:
            total += InboundDelivery.objects.filter(pk__in=ids).delete()[0]
        if len(ids) < PRUNE_BATCH:
            break
    return total

