"""The pure parts: Stripe amounts and objects as Kith events, and the delivery log's retention."""

from __future__ import annotations

import datetime as dt

import pytest

from kith.core import clock
from kith.inbound.models import DeliveryStatus, InboundDelivery
from kith.inbound.services import LOG_RETENTION, inbound_deliveries_prune
from kith.inbound.stripe_events import major_units, stripe_facts
from kith.inbound.tests.conftest import charge, checkout_session, payment_intent


@pytest.mark.parametrize("amount, currency, expected", [
    (4999, "eur", 49.99), (500, "jpy", 500.0), (1234, "kwd", 1.234), (0, "usd", 0.0), ("12", "usd", None),
    (True, "usd", None),
])
def test_amounts_in_major_units_follow_the_currencys_decimals(amount, currency, expected):
    assert major_units(amount, currency) == expected


def test_only_the_three_mapped_types_become_events():
    assert stripe_facts(event_type="customer.created", obj={"id": "cus_1"}) is None
    names = {kind: stripe_facts(event_type=kind, obj=obj).name for kind, obj in [
        ("payment_intent.succeeded", payment_intent()), ("checkout.session.completed", checkout_session()),
        ("charge.refunded", charge())]}
    assert names == {"payment_intent.succeeded": "Payment Succeeded",
                     "checkout.session.completed": "Checkout Completed", "charge.refunded": "Charge Refunded"}


def test_emails_are_taken_from_the_objects_own_fields_and_invalid_ones_dropped():
    assert stripe_facts(event_type="charge.refunded", obj=charge(email="Gus@Example.test")).email == "gus@example.test"
    assert stripe_facts(event_type="payment_intent.succeeded", obj=payment_intent(email="nope")).email == ""
    session = checkout_session(email="")
    session["customer_email"] = "hal@example.test"
    assert stripe_facts(event_type="checkout.session.completed", obj=session).email == "hal@example.test"


def test_an_expanded_customer_object_still_gives_its_id():
    obj = payment_intent(customer=None)
    obj["customer"] = {"id": "cus_Expanded", "object": "customer"}
    assert stripe_facts(event_type="payment_intent.succeeded", obj=obj).customer == "cus_Expanded"


@pytest.mark.django_db
def test_the_log_keeps_thirty_days(stripe_endpoint):
    now = clock.now()
    for age in (LOG_RETENTION + dt.timedelta(hours=1), LOG_RETENTION - dt.timedelta(hours=1)):
        InboundDelivery.objects.create(workspace_id=stripe_endpoint.workspace_id, endpoint=stripe_endpoint,
                                       received_at=now - age, status=DeliveryStatus.ACCEPTED, http_status=200)
    assert inbound_deliveries_prune() == 1
    assert InboundDelivery.objects.get().received_at > now - LOG_RETENTION
