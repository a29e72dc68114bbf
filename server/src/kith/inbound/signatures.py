"""Signatures of incoming webhooks: Stripe's (checked by the stripe library) and the generic endpoint's own.

The generic scheme is Stripe's, with our header names, so anyone who has verified a Stripe webhook can produce it::

    X-Kith-Timestamp: <unix seconds>
    X-Kith-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>." + raw body)>

The timestamp is inside the signed text, so a captured request cannot be replayed later with a fresh timestamp;
requests whose timestamp is more than ``TOLERANCE_SECONDS`` away from the server's clock are refused. (Within the
window, a replay carries the same event id and is deduplicated instead.)
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Mapping
from typing import Any

import stripe

# Stripe's own default; also the generic endpoint's window, in both directions.
TOLERANCE_SECONDS = 300
SIGNATURE_HEADER = "X-Kith-Signature"
TIMESTAMP_HEADER = "X-Kith-Timestamp"
STRIPE_HEADER = "Stripe-Signature"
_PREFIX = "sha256="


class SignatureInvalid(Exception):
    """The request is not proven to come from the secret's holder (or is too old). ``reason`` is logged."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def generic_secret_generate() -> str:
    """32 random bytes; the "whsec_" prefix marks it as a webhook secret, as Stripe's and Standard Webhooks' do."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def generic_signature(*, secret: str, timestamp: int | str, body: bytes) -> str:
    """The ``X-Kith-Signature`` header value for ``body`` sent at ``timestamp`` (senders and tests use this)."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return _PREFIX + mac.hexdigest()


def generic_verify(*, secret: str, headers: Mapping[str, str], body: bytes, now: float) -> None:
    """Raise ``SignatureInvalid`` unless the headers sign ``body`` with ``secret`` within the time window."""
    signature = headers.get(SIGNATURE_HEADER, "").strip()
    timestamp = headers.get(TIMESTAMP_HEADER, "").strip()
    if not signature:
        raise SignatureInvalid(f"The {SIGNATURE_HEADER} header is missing.")
    if not timestamp:
        raise SignatureInvalid(f"The {TIMESTAMP_HEADER} header is missing.")
    if not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= 12):
        raise SignatureInvalid(f"{TIMESTAMP_HEADER} must be whole Unix seconds.")
    if abs(now - int(timestamp)) > TOLERANCE_SECONDS:
        raise SignatureInvalid(f"{TIMESTAMP_HEADER} is more than {TOLERANCE_SECONDS} seconds from the server's "
                               f"clock (a replayed or delayed request).")
    expected = generic_signature(secret=secret, timestamp=timestamp, body=body)
    # Several signatures may be sent (comma-separated) while a sender moves to a rotated secret.
    if not any(hmac.compare_digest(expected.encode(), candidate.strip().encode())
               for candidate in signature.split(",") if candidate.strip().isascii()):
        raise SignatureInvalid(f"{SIGNATURE_HEADER} does not match the body (wrong secret or altered body).")


class PayloadUnreadable(Exception):
    """Authentic (or not yet checked) but not a JSON object we can read: answered 400."""


def stripe_event_construct(*, secret: str, headers: Mapping[str, str], body: bytes) -> dict[str, Any]:
    """The verified Stripe event as a plain dict. ``stripe.Webhook.construct_event`` checks ``Stripe-Signature``
    (HMAC-SHA256 of ``"<t>.<body>"`` with the endpoint's ``whsec_`` secret, ``t`` within ``TOLERANCE_SECONDS``)
    before it parses anything. Raises ``SignatureInvalid`` (401) or ``PayloadUnreadable`` (400)."""
    header = headers.get(STRIPE_HEADER, "")
    if not header:
        raise SignatureInvalid(f"The {STRIPE_HEADER} header is missing.")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PayloadUnreadable("The body is not UTF-8 text.") from exc
    try:
        event = stripe.Webhook.construct_event(text, header, secret, tolerance=TOLERANCE_SECONDS)
    except stripe.SignatureVerificationError as exc:
        raise SignatureInvalid(f"Stripe signature: {exc.user_message or exc}") from exc
    except (ValueError, TypeError, AttributeError, KeyError) as exc:  # verified, but not a Stripe event's JSON
        raise PayloadUnreadable("The body is not a Stripe event (JSON object).") from exc
    payload = event.to_dict() if hasattr(event, "to_dict") else None
    if not isinstance(payload, dict):
        raise PayloadUnreadable("The body is not a Stripe event (JSON object).")
    return payload
