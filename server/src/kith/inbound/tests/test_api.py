"""/api/v1/inbound-endpoints/ and /api/v1/inbound-deliveries/."""

from __future__ import annotations

import pytest
from django.test import override_settings
from rest_framework.test import APIClient

from kith.accounts.services import api_key_create
from kith.contacts.tests.conftest import client_for
from kith.inbound.models import InboundDelivery, InboundEndpoint
from kith.inbound.tests.conftest import STRIPE_SECRET, payment_intent, stripe_event

pytestmark = pytest.mark.django_db

ENDPOINTS = "/api/v1/inbound-endpoints/"
DELIVERIES = "/api/v1/inbound-deliveries/"


@override_settings(KITH_BASE_URL="https://crm.example.test")
def test_alice_creates_a_generic_endpoint_and_sees_its_secret_only_once(personas):
    api = client_for(personas.alice)
    created = api.post(ENDPOINTS, {"kind": "generic", "name": "Shop"}, format="json")
    assert created.status_code == 201, created.content
    body = created.json()
    endpoint = InboundEndpoint.objects.get()
    assert body["secret"] == endpoint.secret and body["secret"].startswith("whsec_")
    assert body["url"] == f"https://crm.example.test/hooks/in/{endpoint.token}/"
    assert len(endpoint.token) >= 40

    listed = api.get(ENDPOINTS).json()["results"]
    assert [item["id"] for item in listed] == [body["id"]] and "secret" not in listed[0]
    detail = api.get(f"{ENDPOINTS}{body['id']}/")
    assert "secret" not in detail.json() and endpoint.secret not in detail.content.decode()
    assert detail.json()["url"] == body["url"]


def test_a_stripe_endpoint_takes_the_whsec_secret_now_or_later(personas):
    api = client_for(personas.alice)
    created = api.post(ENDPOINTS, {"kind": "stripe", "name": "Stripe live"}, format="json")
    assert created.status_code == 201 and created.json()["secret"] == ""
    pk = created.json()["id"]
    rotated = api.post(f"{ENDPOINTS}{pk}/rotate-secret/", {"signing_secret": STRIPE_SECRET}, format="json")
    assert rotated.status_code == 200, rotated.content
    assert InboundEndpoint.objects.get().secret == STRIPE_SECRET
    refused = api.post(f"{ENDPOINTS}{pk}/rotate-secret/", {"signing_secret": "sk_live_oops"}, format="json")
    assert refused.status_code == 400 and "signing_secret" in refused.json()["error"]["fields"]


def test_rotating_a_generic_secret_replaces_it(personas):
    api = client_for(personas.alice)
    body = api.post(ENDPOINTS, {"kind": "generic", "name": "Shop"}, format="json").json()
    assert api.get(f"{ENDPOINTS}{body['id']}/rotate-secret/").status_code == 200
    rotated = api.post(f"{ENDPOINTS}{body['id']}/rotate-secret/", {}, format="json")
    assert rotated.status_code == 200 and rotated.json()["secret"] != body["secret"]
    assert InboundEndpoint.objects.get().secret == rotated.json()["secret"]


def test_alice_renames_pauses_and_deletes_an_endpoint(personas):
    api = client_for(personas.alice)
    pk = api.post(ENDPOINTS, {"kind": "generic", "name": "Shop"}, format="json").json()["id"]
    patched = api.patch(f"{ENDPOINTS}{pk}/", {"name": "Shop (EU)", "is_active": False}, format="json")
    assert patched.status_code == 200 and patched.json()["name"] == "Shop (EU)"
    assert patched.json()["is_active"] is False
    assert api.delete(f"{ENDPOINTS}{pk}/").status_code == 204
    assert not InboundEndpoint.objects.exists()


@pytest.mark.parametrize("payload, field", [
    ({"kind": "paypal", "name": "X"}, "kind"),
    ({"kind": "generic"}, "name"),
    ({"kind": "generic", "name": "   "}, "name"),
    ({"kind": "generic", "name": 5}, "name"),
    ({"kind": "generic", "name": "X", "is_active": "yes"}, "is_active"),
    ({"kind": "generic", "name": "X", "signing_secret": "whsec_mine"}, "signing_secret"),
    ({"kind": "stripe", "name": "X", "signing_secret": "sk_test_123"}, "signing_secret"),
    ({"kind": "stripe", "name": "X", "signing_secret": "whsec_ with space"}, "signing_secret"),
])
def test_bad_endpoints_are_field_errors(personas, payload, field):
    response = client_for(personas.alice).post(ENDPOINTS, payload, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()["error"]["fields"]
    assert not InboundEndpoint.objects.exists()


def test_the_delivery_log_lists_requests_filtered_by_endpoint_and_status(personas, post_stripe, stripe_endpoint):
    post_stripe(stripe_event("payment_intent.succeeded", payment_intent()))
    post_stripe(stripe_event("payment_intent.succeeded", payment_intent()), secret="whsec_wrong")
    api = client_for(personas.alice)

    everything = api.get(DELIVERIES, {"endpoint": stripe_endpoint.pk}).json()["results"]
    rejected = api.get(DELIVERIES, {"status": "rejected"}).json()["results"]

    assert [item["status"] for item in everything] == ["rejected", "accepted"]
    assert len(rejected) == 1 and rejected[0]["http_status"] == 401 and rejected[0]["excerpt"]
    detail = api.get(f"{DELIVERIES}{rejected[0]['id']}/")
    assert detail.status_code == 200 and detail.json()["endpoint"] == stripe_endpoint.pk
    counted = api.get(f"{ENDPOINTS}{stripe_endpoint.pk}/").json()
    assert (counted["accepted_count"], counted["rejected_count"]) == (1, 1)


def test_only_admins_manage_inbound_endpoints(personas, stripe_endpoint):
    bob = client_for(personas.bob)  # a rep
    assert bob.get(ENDPOINTS).status_code == 403
    assert bob.post(ENDPOINTS, {"kind": "generic", "name": "X"}, format="json").status_code == 403
    assert bob.get(DELIVERIES).status_code == 403


def test_mallory_sees_nothing_of_acmes_endpoints(personas, post_stripe, stripe_endpoint):
    post_stripe(stripe_event("payment_intent.succeeded", payment_intent()))
    mallory = client_for(personas.mallory)
    assert mallory.get(ENDPOINTS).json()["results"] == []
    assert mallory.get(DELIVERIES).json()["results"] == []
    assert mallory.get(f"{ENDPOINTS}{stripe_endpoint.pk}/").status_code == 404
    delivery = InboundDelivery.objects.get()
    assert mallory.get(f"{DELIVERIES}{delivery.pk}/").status_code == 404
    assert mallory.post(f"{ENDPOINTS}{stripe_endpoint.pk}/rotate-secret/", {}, format="json").status_code == 404


def test_a_read_key_lists_endpoints_but_cannot_create_them(personas, stripe_endpoint):
    _, raw = api_key_create(workspace=personas.acme, actor=personas.alice, name="ops", scopes=["read"])
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert [item["id"] for item in api.get(ENDPOINTS).json()["results"]] == [stripe_endpoint.pk]
    assert api.post(ENDPOINTS, {"kind": "generic", "name": "X"}, format="json").status_code == 403
