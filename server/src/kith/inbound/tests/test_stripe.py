"""Stripe endpoints end to end: real event bodies signed as Stripe signs them, through the public URL, the event
accept path and the processing job, to the contact's events, timeline, segments and workflow hook."""

from __future__ import annotations

import json
import time

import pytest
from django.core.cache import cache

from kith.contacts.models import Contact
from kith.contacts.services import contact_create
from kith.events.hooks import events_processed_subscribe, events_processed_unsubscribe
from kith.events.models import Event, EventType, Identity
from kith.inbound import receiver
from kith.inbound.models import DeliveryStatus, InboundDelivery, InboundEndpoint
from kith.inbound.services import EXCERPT_CHARS, inbound_endpoint_create
from kith.inbound.tests.conftest import (
    STRIPE_SECRET,
    charge,
    checkout_session,
    payment_intent,
    stripe_event,
    stripe_signature,
)
from kith.segments.selectors import segment_condition, segment_members
from kith.timeline.models import Activity, ActivityKind

pytestmark = pytest.mark.django_db


@pytest.fixture
def dana(personas):
    return contact_create(workspace=personas.acme, actor=personas.alice,
                          data={"email": "dana@acme-customer.test", "first_name": "Dana"})


def _track(message_id):
    return Event.objects.get(message_id=message_id, type=EventType.TRACK)


def test_a_payment_becomes_an_event_on_the_contact_with_that_receipt_email(post_stripe, dana, stripe_endpoint):
    event = stripe_event("payment_intent.succeeded", payment_intent(amount=4999, currency="eur"))

    response = post_stripe(event)

    assert response.status_code == 200, response.content
    assert response.json() == {"received": True, "status": "accepted"}
    stored = _track(event["id"])
    assert (stored.name, stored.contact_id, stored.processed_at is not None) == ("Payment Succeeded", dana.pk, True)
    assert stored.properties["revenue"] == 49.99 and stored.properties["amount"] == 4999
    assert stored.properties["currency"] == "eur" and stored.properties["customer"] == "cus_Dana01"
    assert stored.properties["payment_intent"] == event["data"]["object"]["id"]
    assert stored.timestamp.timestamp() == event["created"]
    assert stored.context["inbound"]["stripe_event"] == event["id"]
    timeline = Activity.objects.get(contact=dana, kind=ActivityKind.EVENT)
    assert timeline.title == "Payment Succeeded" and "revenue: 49.99" in timeline.body
    # The customer id is now linked to Dana, for events that carry no e-mail.
    assert Identity.objects.get(value="stripe:cus_Dana01").contact_id == dana.pk
    delivery = InboundDelivery.objects.get()
    assert (delivery.status, delivery.http_status, delivery.event_type, delivery.event_id, delivery.excerpt) == (
        DeliveryStatus.ACCEPTED, 200, "payment_intent.succeeded", event["id"], "")
    stripe_endpoint.refresh_from_db()
    assert (stripe_endpoint.accepted_count, stripe_endpoint.rejected_count) == (1, 0)
    assert stripe_endpoint.last_received_at is not None


def test_a_checkout_by_an_unknown_address_creates_the_contact(post_stripe, personas):
    event = stripe_event("checkout.session.completed", checkout_session(email="Erin@New-Customer.test",
                                                                        amount=12000))

    assert post_stripe(event).status_code == 200

    erin = Contact.objects.get(workspace=personas.acme, email="erin@new-customer.test")
    stored = _track(event["id"])
    assert (stored.name, stored.contact_id) == ("Checkout Completed", erin.pk)
    assert stored.properties["revenue"] == 120.0 and stored.properties["currency"] == "usd"
    assert stored.properties["checkout_session"] == event["data"]["object"]["id"]
    assert Activity.objects.filter(contact=erin, title="Checkout Completed").exists()


def test_a_refund_without_an_email_finds_the_contact_by_its_stripe_customer(post_stripe, dana):
    post_stripe(stripe_event("payment_intent.succeeded", payment_intent(customer="cus_Dana01")))
    refund = stripe_event("charge.refunded", charge(email=None, customer="cus_Dana01", amount=4999, refunded=2000))

    assert post_stripe(refund).status_code == 200

    stored = _track(refund["id"])
    assert (stored.name, stored.contact_id) == ("Charge Refunded", dana.pk)
    assert stored.properties["refunded"] == 20.0 and stored.properties["fully_refunded"] is False
    assert list(Activity.objects.filter(contact=dana).order_by("occurred_at", "id")
                .values_list("title", flat=True)) == ["Payment Succeeded", "Charge Refunded"]


def test_a_refund_by_billing_email_lands_on_that_contact(post_stripe, dana):
    refund = stripe_event("charge.refunded", charge(email="dana@acme-customer.test", customer=None))
    assert post_stripe(refund).status_code == 200
    assert _track(refund["id"]).contact_id == dana.pk


def test_a_known_customer_does_not_rewrite_the_contacts_email(post_stripe, dana):
    post_stripe(stripe_event("payment_intent.succeeded", payment_intent(customer="cus_Dana01")))
    other = stripe_event("payment_intent.succeeded", payment_intent(email="dana.other@example.test",
                                                                    customer="cus_Dana01"))
    post_stripe(other)
    dana.refresh_from_db()
    assert dana.email == "dana@acme-customer.test"
    assert _track(other["id"]).contact_id == dana.pk


def test_an_event_with_neither_email_nor_customer_is_kept_without_a_contact(post_stripe):
    event = stripe_event("payment_intent.succeeded", payment_intent(email=None, customer=None))
    response = post_stripe(event)
    assert response.status_code == 200 and "without a contact" in response.json()["reason"]
    assert _track(event["id"]).contact_id is None


def test_processed_payments_reach_workflows_and_segments(post_stripe, dana, personas):
    notified = []

    def subscriber(*, workspace, event_ids):
        notified.extend(Event.objects.filter(pk__in=event_ids).values_list("name", "contact_id"))

    events_processed_subscribe(subscriber)
    try:
        post_stripe(stripe_event("payment_intent.succeeded", payment_intent()))
    finally:
        events_processed_unsubscribe(subscriber)
    assert ("Payment Succeeded", dana.pk) in notified
    condition = segment_condition(workspace=personas.acme,
                                  definition={"event": "Payment Succeeded", "op": "at_least", "count": 1})
    assert list(segment_members(workspace=personas.acme, membership=None, condition=condition)) == [dana]


def test_a_replayed_event_id_stores_nothing_twice(post_stripe, dana, stripe_endpoint):
    event = stripe_event("payment_intent.succeeded", payment_intent())
    assert post_stripe(event).json()["status"] == "accepted"

    again = post_stripe(event)  # Stripe retries with a fresh signature and timestamp

    assert again.status_code == 200 and again.json()["status"] == "ignored"
    assert Event.objects.filter(message_id__startswith=event["id"]).count() == 2  # identify + track, once
    assert Activity.objects.filter(contact=dana).count() == 1
    assert list(InboundDelivery.objects.order_by("id").values_list("status", flat=True)) == [
        DeliveryStatus.ACCEPTED, DeliveryStatus.IGNORED]
    stripe_endpoint.refresh_from_db()
    assert (stripe_endpoint.accepted_count, stripe_endpoint.ignored_count) == (1, 1)


def test_a_tampered_body_is_refused_401_and_logged_with_an_excerpt_only(post_stripe, stripe_endpoint):
    event = stripe_event("payment_intent.succeeded", payment_intent(amount=100))
    signed = json.dumps(event, indent=2)
    tampered = signed.replace('"amount": 100', '"amount": 100000') + " " * 4000

    response = post_stripe(event, body=tampered, signed_body=signed)

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_signature"
    assert not Event.objects.exists()
    delivery = InboundDelivery.objects.get()
    assert (delivery.status, delivery.http_status) == (DeliveryStatus.REJECTED, 401)
    assert "signature" in delivery.reason.lower()
    assert delivery.excerpt == tampered[:EXCERPT_CHARS] and len(delivery.excerpt) == EXCERPT_CHARS
    stripe_endpoint.refresh_from_db()
    assert stripe_endpoint.rejected_count == 1


@pytest.mark.parametrize("how", ["stale", "wrong secret", "no header", "garbage header"])
def test_requests_not_signed_now_with_the_secret_are_refused(post_stripe, how):
    event = stripe_event("payment_intent.succeeded", payment_intent())
    kwargs = {"stale": {"timestamp": int(time.time()) - 301}, "wrong secret": {"secret": "whsec_someone_else"},
              "no header": {"header": ""}, "garbage header": {"header": "v1=abc"}}[how]

    response = post_stripe(event, **kwargs)

    assert response.status_code == 401, response.content
    assert response.json()["error"]["code"] == "invalid_signature"
    assert not Event.objects.exists()
    assert InboundDelivery.objects.get().status == DeliveryStatus.REJECTED


def test_a_timestamp_within_tolerance_is_accepted(post_stripe, dana):
    event = stripe_event("payment_intent.succeeded", payment_intent())
    assert post_stripe(event, timestamp=int(time.time()) - 240).status_code == 200


def test_other_stripe_types_are_acknowledged_and_ignored(post_stripe, stripe_endpoint):
    event = stripe_event("customer.created", {"id": "cus_New", "object": "customer", "email": "x@y.test"})

    response = post_stripe(event)

    assert response.status_code == 200 and response.json()["status"] == "ignored"
    assert not Event.objects.exists()
    delivery = InboundDelivery.objects.get()
    assert (delivery.status, delivery.event_type) == (DeliveryStatus.IGNORED, "customer.created")


def test_an_endpoint_without_its_stripe_secret_refuses_everything(personas, post_raw):
    endpoint = inbound_endpoint_create(workspace=personas.acme, actor=personas.alice, kind="stripe", name="New")
    body = json.dumps(stripe_event("payment_intent.succeeded", payment_intent()))
    response = post_raw(endpoint, body.encode(), HTTP_STRIPE_SIGNATURE=stripe_signature(body, "", int(time.time())))
    assert response.status_code == 401 and "no Stripe signing secret" in response.json()["error"]["message"]


@pytest.mark.parametrize("body", ["not json at all", "[1, 2]", '{"id": "evt_1"}', "\"text\""])
def test_signed_bodies_that_are_not_stripe_events_are_400(post_stripe, body):
    response = post_stripe({}, body=body)
    assert response.status_code == 400, response.content
    assert "error" in response.json()
    assert InboundDelivery.objects.get().status == DeliveryStatus.REJECTED


def test_a_body_over_512_kb_is_413(post_stripe):
    event = stripe_event("payment_intent.succeeded", payment_intent())
    event["data"]["object"]["metadata"] = {"blob": "x" * (512 * 1024)}
    response = post_stripe(event)
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"
    assert InboundDelivery.objects.get().http_status == 413
    assert not Event.objects.exists()


def test_unknown_tokens_get_404_and_other_methods_405(client, stripe_endpoint):
    assert client.post("/hooks/in/not-a-token/", b"{}", content_type="application/json").status_code == 404
    assert client.get(f"/hooks/in/{stripe_endpoint.token}/").status_code == 405
    assert not InboundDelivery.objects.exists()


def test_a_paused_endpoint_refuses_with_403(post_stripe, stripe_endpoint):
    InboundEndpoint.objects.filter(pk=stripe_endpoint.pk).update(is_active=False)
    response = post_stripe(stripe_event("payment_intent.succeeded", payment_intent()))
    assert response.status_code == 403 and response.json()["error"]["code"] == "endpoint_paused"
    assert not Event.objects.exists()


def test_each_endpoint_is_rate_limited(post_stripe, monkeypatch, dana, stripe_endpoint):
    key = f"kith:ratelimit:inbound:{stripe_endpoint.pk}"
    cache.delete(key)
    monkeypatch.setattr(receiver, "RATE_BURST", 2)
    monkeypatch.setattr(receiver, "RATE_PER_SECOND", 0.001)
    codes = [post_stripe(stripe_event("payment_intent.succeeded", payment_intent())).status_code for _ in range(3)]
    cache.delete(key)  # the next test's endpoint may get the same id
    assert codes == [200, 200, 429]
    # Refused before anything is written: a flood cannot fill the log.
    assert InboundDelivery.objects.count() == 2


def test_the_signing_secret_is_the_one_stripe_gave(stripe_endpoint):
    assert stripe_endpoint.secret == STRIPE_SECRET
