"""Fixtures of the incoming-webhook tests: Acme's endpoints, real Stripe event bodies signed exactly as Stripe signs
them, and clients that post them and run the event processing job when the request commits."""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import time
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from kith.inbound.models import EndpointKind, InboundEndpoint
from kith.inbound.services import inbound_endpoint_create
from kith.inbound.signatures import generic_signature

STRIPE_SECRET = "whsec_test_4eC39HqLyjWDarjtT1zdp7dc"
_ids = itertools.count(1)


def stripe_signature(body: str, secret: str, timestamp: int) -> str:
    """Stripe-Signature as Stripe documents it: t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>. Written out
    here rather than with the stripe library's helper, so the test also proves that the library verifies the
    documented scheme."""
    mac = hmac.new(secret.encode(), f"{timestamp}.{body}".encode(), hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def stripe_event(event_type: str, obj: dict[str, Any], *, event_id: str | None = None,
                 created: int = 1_763_800_000) -> dict[str, Any]:
    """A Stripe event as Stripe's API version 2024-06-20 sends it."""
    return {"id": event_id or f"evt_1Test{next(_ids):06d}", "object": "event", "api_version": "2024-06-20",
            "created": created, "data": {"object": obj}, "livemode": False, "pending_webhooks": 1,
            "request": {"id": None, "idempotency_key": None}, "type": event_type}


def payment_intent(*, email: str | None = "dana@acme-customer.test", customer: str | None = "cus_Dana01",
                   amount: int = 4999, currency: str = "eur") -> dict[str, Any]:
    return {"id": f"pi_3Test{next(_ids):06d}", "object": "payment_intent", "amount": amount,
            "amount_received": amount, "currency": currency, "customer": customer, "description": "Pro plan",
            "latest_charge": "ch_3TestCharge", "livemode": False, "receipt_email": email, "status": "succeeded"}


def checkout_session(*, email: str = "erin@new-customer.test", customer: str | None = None,
                     amount: int = 12000) -> dict[str, Any]:
    return {"id": f"cs_test_{next(_ids):06d}", "object": "checkout.session", "amount_total": amount,
            "currency": "usd", "customer": customer, "customer_details": {"email": email, "name": "Erin Example"},
            "customer_email": None, "livemode": False, "mode": "payment", "payment_intent": "pi_3TestCheckout",
            "payment_status": "paid", "status": "complete"}


def charge(*, email: str | None = None, customer: str | None = "cus_Dana01", amount: int = 4999,
           refunded: int = 4999) -> dict[str, Any]:
    return {"id": f"ch_3Test{next(_ids):06d}", "object": "charge", "amount": amount, "amount_refunded": refunded,
            "billing_details": {"email": email, "name": None}, "currency": "eur", "customer": customer,
            "livemode": False, "payment_intent": "pi_3TestRefunded", "receipt_email": None,
            "refunded": refunded == amount}


@pytest.fixture
def stripe_endpoint(personas: Any) -> InboundEndpoint:
    return inbound_endpoint_create(workspace=personas.acme, actor=personas.alice, kind=EndpointKind.STRIPE,
                                   name="Stripe (test)", signing_secret=STRIPE_SECRET)


@pytest.fixture
def generic_endpoint(personas: Any) -> InboundEndpoint:
    return inbound_endpoint_create(workspace=personas.acme, actor=personas.alice, kind=EndpointKind.GENERIC,
                                   name="Shop")


Post = Callable[..., Any]


@pytest.fixture
def post_raw(django_capture_on_commit_callbacks: Any) -> Post:
    def _post(endpoint: InboundEndpoint, body: bytes, **headers: Any) -> Any:
        with django_capture_on_commit_callbacks(execute=True):
            return Client().post(f"/hooks/in/{endpoint.token}/", body, content_type="application/json", **headers)

    return _post


@pytest.fixture
def post_stripe(stripe_endpoint: InboundEndpoint, post_raw: Post) -> Post:
    """``post_stripe(event)``: the event's JSON, signed now with the endpoint's secret (or as told)."""

    def _post(event: dict[str, Any], *, secret: str = STRIPE_SECRET, timestamp: int | None = None,
              body: str | None = None, signed_body: str | None = None, header: str | None = None) -> Any:
        text = body if body is not None else json.dumps(event, indent=2)  # Stripe sends pretty-printed JSON
        stamp = int(time.time()) if timestamp is None else timestamp
        signature = header if header is not None else stripe_signature(signed_body or text, secret, stamp)
        extra = {"HTTP_STRIPE_SIGNATURE": signature} if signature else {}
        return post_raw(stripe_endpoint, text.encode(), **extra)

    return _post


@pytest.fixture
def post_generic(generic_endpoint: InboundEndpoint, post_raw: Post) -> Post:
    def _post(payload: Any, *, secret: str | None = None, timestamp: int | None = None, raw: bytes | None = None,
              signature: str | None = None) -> Any:
        body = raw if raw is not None else json.dumps(payload).encode()
        stamp = int(time.time()) if timestamp is None else timestamp
        sign = signature if signature is not None else generic_signature(
            secret=secret or generic_endpoint.secret, timestamp=stamp, body=body)
        return post_raw(generic_endpoint, body, HTTP_X_KITH_TIMESTAMP=str(stamp), HTTP_X_KITH_SIGNATURE=sign)

    return _post
