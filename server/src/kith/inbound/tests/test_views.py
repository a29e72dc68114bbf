"""Settings → Incoming webhooks, server-rendered."""

from __future__ import annotations

import pytest
from django.test import Client

from kith.contacts.services import contact_create
from kith.core.models import AuditEntry
from kith.inbound.models import InboundEndpoint
from kith.inbound.tests.conftest import STRIPE_SECRET, payment_intent, stripe_event

pytestmark = pytest.mark.django_db

PAGE = "/settings/inbound-webhooks/"


def _client(user):
    client = Client()
    client.force_login(user)
    return client


def test_alice_adds_a_generic_endpoint_and_sees_url_and_secret_once(personas):
    client = _client(personas.alice)
    response = client.post(f"{PAGE}new/", {"kind": "generic", "name": "Shop"})
    assert response.status_code == 200
    endpoint = InboundEndpoint.objects.get()
    html = response.content.decode()
    assert endpoint.secret in html and f"/hooks/in/{endpoint.token}/" in html
    assert "no-store" in response["Cache-Control"]
    listing = client.get(PAGE).content.decode()
    assert f"/hooks/in/{endpoint.token}/" in listing and endpoint.secret not in listing
    assert AuditEntry.objects.filter(action="inbound_endpoint.created").exists()


def test_a_stripe_endpoint_is_created_first_and_given_its_secret_after(personas):
    client = _client(personas.alice)
    response = client.post(f"{PAGE}new/", {"kind": "stripe", "name": "Stripe live"})
    assert "Replace secret" in response.content.decode()
    endpoint = InboundEndpoint.objects.get()
    assert endpoint.secret == "" and "no signing secret yet" in client.get(PAGE).content.decode()
    bad = client.post(f"{PAGE}{endpoint.pk}/secret/", {"signing_secret": "sk_live_nope"})
    assert bad.status_code == 400 and "whsec_" in bad.content.decode()
    ok = client.post(f"{PAGE}{endpoint.pk}/secret/", {"signing_secret": STRIPE_SECRET})
    assert ok.status_code == 302
    endpoint.refresh_from_db()
    assert endpoint.secret == STRIPE_SECRET


def test_a_form_without_a_name_shows_the_error(personas):
    response = _client(personas.alice).post(f"{PAGE}new/", {"kind": "generic", "name": ""})
    assert response.status_code == 400
    assert not InboundEndpoint.objects.exists()


def test_pause_rotate_and_delete(personas, generic_endpoint):
    client = _client(personas.alice)
    assert client.post(f"{PAGE}{generic_endpoint.pk}/edit/", {"name": "Shop EU"}).status_code == 302
    generic_endpoint.refresh_from_db()
    assert (generic_endpoint.name, generic_endpoint.is_active) == ("Shop EU", False)
    old = generic_endpoint.secret
    assert client.get(f"{PAGE}{generic_endpoint.pk}/secret/").status_code == 200
    rotated = client.post(f"{PAGE}{generic_endpoint.pk}/secret/")
    generic_endpoint.refresh_from_db()
    assert generic_endpoint.secret != old and generic_endpoint.secret in rotated.content.decode()
    assert client.post(f"{PAGE}{generic_endpoint.pk}/delete/").status_code == 302
    assert not InboundEndpoint.objects.exists()


def test_the_log_shows_accepted_and_rejected_requests(personas, post_stripe, dana_contact):
    event = stripe_event("payment_intent.succeeded", payment_intent())
    post_stripe(event)
    post_stripe(event, secret="whsec_wrong")
    html = _client(personas.alice).get(PAGE).content.decode()
    assert event["id"] in html and "Accepted" in html and "Rejected" in html
    rejected = _client(personas.alice).get(PAGE, {"status": "rejected"}).content.decode()
    assert rejected.count('id="kith-inbound-delivery-') == 1


def test_reps_cannot_open_the_page(personas):
    assert _client(personas.bob).get(PAGE).status_code == 403


@pytest.fixture
def dana_contact(personas):
    return contact_create(workspace=personas.acme, actor=personas.alice, data={"email": "dana@acme-customer.test"})
