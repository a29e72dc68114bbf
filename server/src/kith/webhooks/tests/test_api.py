import pytest
from standardwebhooks.webhooks import Webhook

from kith.accounts.services import api_key_create
from kith.contacts.tests.conftest import client_for
from kith.webhooks.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint

pytestmark = pytest.mark.django_db

ENDPOINTS = "/api/v1/webhook-endpoints/"
DELIVERIES = "/api/v1/webhook-deliveries/"


def _create(api, url, event_types=("*",)):
    return api.post(ENDPOINTS, {"url": url, "event_types": list(event_types), "description": "CRM sync"},
                    format="json")


def test_alice_manages_an_endpoint_and_sees_the_secret_only_once(personas, receiver):
    api = client_for(personas.alice)
    created = _create(api, receiver.url("/ok"), ["contact.created"])
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["secret"].startswith("whsec_") and body["event_types"] == ["contact.created"]

    listed = api.get(ENDPOINTS).json()["results"]
    assert [item["id"] for item in listed] == [body["id"]] and "secret" not in listed[0]
    assert "secret" not in api.get(f"{ENDPOINTS}{body['id']}/").json()

    patched = api.patch(f"{ENDPOINTS}{body['id']}/", {"event_types": ["*"], "is_active": False}, format="json")
    assert patched.status_code == 200 and patched.json()["event_types"] == ["*"] and not patched.json()["is_active"]

    rotated = api.post(f"{ENDPOINTS}{body['id']}/rotate-secret/")
    assert rotated.status_code == 200 and rotated.json()["secret"].startswith("whsec_")
    assert rotated.json()["secret"] != body["secret"]
    assert WebhookEndpoint.objects.get().secret == rotated.json()["secret"]

    assert api.delete(f"{ENDPOINTS}{body['id']}/").status_code == 204
    assert not WebhookEndpoint.objects.exists()


@pytest.mark.parametrize("payload, field", [
    ({"url": "http://127.0.0.1/x", "event_types": ["*"]}, "url"),
    ({"url": "http://169.254.169.254/", "event_types": ["*"]}, "url"),
    ({"url": "not a url", "event_types": ["*"]}, "url"),
    ({"url": "https://93.184.215.14/", "event_types": []}, "event_types"),
    ({"url": "https://93.184.215.14/", "event_types": ["contact.exploded"]}, "event_types"),
    ({"url": "https://93.184.215.14/", "event_types": "*"}, "event_types"),
    ({"url": 12, "event_types": ["*"]}, "url"),
])
def test_bad_endpoints_are_field_errors(personas, settings, payload, field):
    settings.KITH_WEBHOOKS_ALLOW_PRIVATE = False
    response = client_for(personas.alice).post(ENDPOINTS, payload, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()["error"]["fields"]


def test_test_ping_reaches_the_receiver_signed(personas, receiver, django_capture_on_commit_callbacks):
    api = client_for(personas.alice)
    endpoint = _create(api, receiver.url("/ok"), ["deal.stage_changed"]).json()
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(f"{ENDPOINTS}{endpoint['id']}/test/")
    assert response.status_code == 202 and response.json()["event_type"] == "webhook.test"
    [request] = receiver.requests
    assert Webhook(endpoint["secret"]).verify(request.body, request.headers)["type"] == "webhook.test"


def test_delivery_log_filters_and_replay(personas, receiver, django_capture_on_commit_callbacks):
    api = client_for(personas.alice)
    good = _create(api, receiver.url("/ok")).json()
    bad = _create(api, receiver.url("/fail")).json()
    with django_capture_on_commit_callbacks(execute=True):
        api.post(f"{ENDPOINTS}{good['id']}/test/")
        api.post(f"{ENDPOINTS}{bad['id']}/test/")

    failed = api.get(DELIVERIES, {"status": "failed"}).json()["results"]
    assert [item["endpoint"] for item in failed] == [bad["id"]] and failed[0]["response_code"] == 500
    assert [item["endpoint"] for item in api.get(DELIVERIES, {"endpoint": good["id"]}).json()["results"]] == [
        good["id"]]
    assert api.get(DELIVERIES, {"status": "exploded"}).status_code == 400

    original = api.get(DELIVERIES, {"endpoint": good["id"]}).json()["results"][0]
    with django_capture_on_commit_callbacks(execute=True):
        replayed = api.post(f"{DELIVERIES}{original['id']}/replay/")
    assert replayed.status_code == 202, replayed.content
    replay = WebhookDelivery.objects.get(pk=replayed.json()["id"])
    assert replay.replay_of_id == original["id"] and replay.status == DeliveryStatus.SUCCEEDED
    first, second = receiver.to("/ok")
    assert first.body == second.body and first.headers["webhook-id"] != second.headers["webhook-id"]


def test_only_owners_and_admins_manage_webhooks(personas, receiver):
    endpoint = _create(client_for(personas.alice), receiver.url("/ok")).json()
    bob = client_for(personas.bob)
    assert bob.get(ENDPOINTS).status_code == 403
    assert bob.get(DELIVERIES).status_code == 403
    assert _create(bob, receiver.url("/ok")).status_code == 403
    assert bob.post(f"{ENDPOINTS}{endpoint['id']}/rotate-secret/").status_code == 403


def test_a_read_key_lists_but_cannot_rotate(personas, receiver):
    endpoint = _create(client_for(personas.alice), receiver.url("/ok")).json()
    _, raw = api_key_create(workspace=personas.acme, actor=personas.alice, name="ro", scopes=["read"])
    api = client_for(personas.alice)
    api.logout()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert api.get(ENDPOINTS).status_code == 200
    assert api.post(f"{ENDPOINTS}{endpoint['id']}/rotate-secret/").status_code == 403


def test_mallory_sees_nothing_of_acme(personas, receiver, django_capture_on_commit_callbacks):
    alice = client_for(personas.alice)
    endpoint = _create(alice, receiver.url("/ok")).json()
    with django_capture_on_commit_callbacks(execute=True):
        alice.post(f"{ENDPOINTS}{endpoint['id']}/test/")
    delivery = WebhookDelivery.objects.get()

    mallory = client_for(personas.mallory)
    assert mallory.get(ENDPOINTS).json()["results"] == []
    assert mallory.get(DELIVERIES).json()["results"] == []
    assert mallory.get(f"{ENDPOINTS}{endpoint['id']}/").status_code == 404
    assert mallory.post(f"{ENDPOINTS}{endpoint['id']}/rotate-secret/").status_code == 404
    assert mallory.post(f"{ENDPOINTS}{endpoint['id']}/test/").status_code == 404
    assert mallory.post(f"{DELIVERIES}{delivery.pk}/replay/").status_code == 404
    assert WebhookDelivery.objects.count() == 1 and len(receiver.requests) == 1
