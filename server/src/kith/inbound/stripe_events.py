"""Stripe events as Kith events: which types are kept, what they are called, and which properties they carry.

Pure functions over the verified event's JSON (no queries), so the mapping is testable alone. Stripe sends amounts
as integers in the currency's smallest unit (cents; yen for JPY); ``amount`` keeps that value exactly, and
``revenue`` (the Segment e-commerce spec's name) is the same amount in major units, which is what a segment rule
such as "revenue greater than 100" means.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email

# Stripe event type → Kith event name. Every other type is acknowledged (200) and logged as ignored.
EVENT_NAMES = {
    "payment_intent.succeeded": "Payment Succeeded",
    "checkout.session.completed": "Checkout Completed",
    "charge.refunded": "Charge Refunded",
}

# Stripe's zero-decimal currencies (https://docs.stripe.com/currencies#zero-decimal): their amounts are already in
# major units. (Three-decimal currencies are sent in thousandths.)
ZERO_DECIMAL = frozenset({"bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga", "pyg", "rwf", "ugx", "vnd", "vuv",
                          "xaf", "xof", "xpf"})
THREE_DECIMAL = frozenset({"bhd", "jod", "kwd", "omr", "tnd"})


@dataclass(frozen=True)
class StripeFacts:
    """What one Stripe object says about the payment and the person behind it."""

    name: str
    properties: dict[str, Any]
    email: str  # "" when the object carries none (or an invalid one)
    customer: str  # Stripe customer id ("cus_…"), "" for guest payments


def major_units(amount: Any, currency: str) -> float | None:
    """``amount`` (smallest unit) in major units, or ``None`` when it is not an integer."""
    if isinstance(amount, bool) or not isinstance(amount, int):
        return None
    exponent = 0 if currency in ZERO_DECIMAL else 3 if currency in THREE_DECIMAL else 2
    return float(Decimal(amount).scaleb(-exponent))


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _id(value: Any) -> str:
    """An id field that Stripe sends as a string, or as the whole object when the field was expanded."""
    if isinstance(value, dict):
        return _text(value.get("id"))
    return _text(value)


def _email(*candidates: Any) -> str:
    for candidate in candidates:
        text = _text(candidate).strip()
        if not text:
            continue
        try:
            validate_email(text)
        except ValidationError:
            continue
        return text.lower()
    return ""


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def stripe_facts(*, event_type: str, obj: dict[str, Any]) -> StripeFacts | None:
    """The Kith event of a Stripe event of a mapped type, or ``None`` for types Kith ignores."""
    name = EVENT_NAMES.get(event_type)
    if name is None:
        return None
    currency = _text(obj.get("currency")).lower()
    customer = _id(obj.get("customer"))
    properties: dict[str, Any]
    if event_type == "payment_intent.succeeded":
        amount = obj.get("amount_received", obj.get("amount"))
        properties = {"revenue": major_units(amount, currency), "currency": currency, "amount": amount,
                      "payment_intent": _text(obj.get("id")), "description": _text(obj.get("description"))}
        email = _email(obj.get("receipt_email"))
    elif event_type == "checkout.session.completed":
        details = _dict(obj.get("customer_details"))
        amount = obj.get("amount_total")
        properties = {"revenue": major_units(amount, currency), "currency": currency, "amount": amount,
                      "checkout_session": _text(obj.get("id")), "payment_intent": _id(obj.get("payment_intent")),
                      "mode": _text(obj.get("mode")), "payment_status": _text(obj.get("payment_status"))}
        email = _email(details.get("email"), obj.get("customer_email"))
    else:  # charge.refunded
        refunded = obj.get("amount_refunded")
        properties = {"refunded": major_units(refunded, currency), "currency": currency,
                      "amount_refunded": refunded, "amount": obj.get("amount"),
                      "fully_refunded": obj.get("refunded") is True, "charge": _text(obj.get("id")),
                      "payment_intent": _id(obj.get("payment_intent"))}
        email = _email(_dict(obj.get("billing_details")).get("email"), obj.get("receipt_email"))
    properties["customer"] = customer
    properties["livemode"] = obj.get("livemode") is True
    # Blank ids and absent amounts say nothing; leaving them out keeps the timeline summary to what is known.
    properties = {key: value for key, value in properties.items() if value not in ("", None)}
    return StripeFacts(name=name, properties=properties, email=email, customer=customer)
