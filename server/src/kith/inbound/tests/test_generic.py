"""Generic endpoints: HMAC-SHA256 over "<timestamp>.<body>", JSON {event, email|userId, properties, messageId}."""

from __future__ import annotations

import hashlib
import hmac
import json
import time

import pytest

from kith.contacts.models import Contact
from kith.events.models import Event, EventType
from kith.inbound.models import DeliveryStatus, InboundDelivery
from kith.inbound.signatures import generic_signature
from kith.timeline.models import Activity

pytestmark = pytest.mark.django_db


def test_the_signature_is_hmac_sha256_of_timestamp_dot_body():
    body = b'{"event":"x"}'
    expected = hmac.new(b"secret", b"1700000000." + body, hashlib.sha256).hexdigest()
    assert generic_signature(secret="secret", timestamp=1700000000, body=body) == f"sha256={expected}"


def test_a_signed_event_lands_on_the_contact_with_that_email(post_generic, personas, generic_endpoint):
    response = post_generic({"event": "Order Shipped", "email": "Fay@Shop.test", "messageId": "ship-17",
                             "properties": {"order": "A-17", "items": 3}})

    assert response.status_code == 200, response.content
    fay = Contact.objects.get(workspace=personas.acme, email="fay@shop.test")
    stored = Event.objects.get(type=EventType.TRACK)
    assert (stored.name, stored.contact_id, stored.properties) == ("Order Shipped", fay.pk,
                                                                   {"order": "A-17", "items": 3})
    assert stored.message_id == f"inbound:{generic_endpoint.pk}:ship-17"
    assert Activity.objects.get(contact=fay).title == "Order Shipped"
    delivery = InboundDelivery.objects.get()
    assert (delivery.status, delivery.event_type, delivery.event_id) == (DeliveryStatus.ACCEPTED, "Order Shipped",
                                                                         "ship-17")


def test_a_user_id_is_the_contacts_external_id(post_generic, personas):
    assert post_generic({"event": "Trial Started", "userId": 42}).status_code == 200
    contact = Contact.objects.get(workspace=personas.acme, external_id="42")
    assert Event.objects.get(name="Trial Started").contact_id == contact.pk


def test_the_same_message_id_is_stored_once(post_generic):
    payload = {"event": "Order Shipped", "email": "fay@shop.test", "messageId": "ship-17"}
    assert post_generic(payload).json()["status"] == "accepted"
    assert post_generic(payload, timestamp=int(time.time()) + 1).json()["status"] == "ignored"
    assert Event.objects.filter(type=EventType.TRACK).count() == 1


def test_without_a_message_id_the_body_hash_deduplicates(post_generic):
    payload = {"event": "Invoice Paid", "email": "fay@shop.test", "properties": {"invoice": 9}}
    post_generic(payload)
    post_generic(payload)
    post_generic({**payload, "properties": {"invoice": 10}})
    assert Event.objects.filter(type=EventType.TRACK).count() == 2
    body_hash = hashlib.sha256(json.dumps(payload).encode()).hexdigest()
    assert Event.objects.filter(message_id__endswith=f"sha256-{body_hash}").exists()


@pytest.mark.parametrize("case", ["wrong secret", "stale", "future", "no signature", "no timestamp",
                                  "odd timestamp", "altered body"])
def test_unsigned_or_stale_requests_are_401_and_logged(post_generic, post_raw, generic_endpoint, case):
    payload = {"event": "Order Shipped", "email": "fay@shop.test"}
    now = int(time.time())
    body = json.dumps(payload).encode()
    good = generic_signature(secret=generic_endpoint.secret, timestamp=now, body=body)
    if case == "wrong secret":
        response = post_generic(payload, secret="whsec_other")
    elif case == "stale":
        response = post_generic(payload, timestamp=now - 301)
    elif case == "future":
        response = post_generic(payload, timestamp=now + 301)
    elif case == "no signature":
        response = post_raw(generic_endpoint, body, HTTP_X_KITH_TIMESTAMP=str(now))
    elif case == "no timestamp":
        response = post_raw(generic_endpoint, body, HTTP_X_KITH_SIGNATURE=good)
    elif case == "odd timestamp":
        response = post_raw(generic_endpoint, body, HTTP_X_KITH_TIMESTAMP="soon", HTTP_X_KITH_SIGNATURE=good)
    else:
        response = post_raw(generic_endpoint, body.replace(b"Shipped", b"Refunded"), HTTP_X_KITH_TIMESTAMP=str(now),
                            HTTP_X_KITH_SIGNATURE=good)
    assert response.status_code == 401, response.content
    assert response.json()["error"]["code"] == "invalid_signature"
    assert not Event.objects.exists()
    delivery = InboundDelivery.objects.get()
    assert (delivery.status, delivery.http_status) == (DeliveryStatus.REJECTED, 401) and delivery.reason


def test_a_rotated_secret_can_be_sent_beside_the_old_one(post_generic, generic_endpoint):
    body = json.dumps({"event": "Ping", "userId": "u1"}).encode()
    now = int(time.time())
    both = ",".join([generic_signature(secret="whsec_old", timestamp=now, body=body),
                     generic_signature(secret=generic_endpoint.secret, timestamp=now, body=body)])
    assert post_generic(None, raw=body, timestamp=now, signature=both).status_code == 200


@pytest.mark.parametrize("payload, field", [
    ({"email": "fay@shop.test"}, "event"),
    ({"event": "X"}, "email"),
    ({"event": "X", "email": "not-an-address"}, "email"),
    ({"event": 5, "email": "fay@shop.test"}, "event"),
    ({"event": "X", "userId": ["u"]}, "userId"),
    ({"event": "X", "userId": "u", "properties": [1]}, "properties"),
    ({"event": "X", "userId": "u", "messageId": "m" * 201}, "messageId"),
    ({"event": "X", "userId": "u", "timestamp": "yesterday"}, "timestamp"),
])
def test_signed_payloads_with_bad_fields_are_400_naming_the_field(post_generic, payload, field):
    response = post_generic(payload)
    assert response.status_code == 400, response.content
    assert field in response.json()["error"]["fields"]
    assert not Event.objects.exists()
    assert InboundDelivery.objects.get().status == DeliveryStatus.REJECTED


@pytest.mark.parametrize("raw", [b"not json", b"[1]", b"\xff\xfe"])
def test_signed_non_json_is_400(post_generic, raw):
    response = post_generic(None, raw=raw)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_json"


def test_an_oversized_generic_body_is_413_before_it_is_read(post_generic, generic_endpoint):
    response = post_generic({"event": "Big", "userId": "u", "properties": {"blob": "x" * (520 * 1024)}})
    assert response.status_code == 413
    assert InboundDelivery.objects.get().status == DeliveryStatus.REJECTED


def test_an_event_too_large_for_the_event_api_is_413(post_generic):
    # Under the 512 KB request limit, over the event API's 32 KB per message.
    response = post_generic({"event": "Big", "userId": "u", "properties": {"blob": "x" * (40 * 1024)}})
    assert response.status_code == 413
    assert not Event.objects.exists()
