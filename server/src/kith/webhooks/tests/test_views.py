import pytest
from django.test import Client

from kith.webhooks.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint, WebhookSettings
from kith.webhooks.services import webhook_emit, webhook_endpoint_create

pytestmark = pytest.mark.django_db

PAGE = "/settings/webhooks/"


def _client(user, **kwargs):
    client = Client(**kwargs)
    client.force_login(user)
    return client


def test_alice_adds_an_endpoint_sees_the_secret_once_and_edits_its_events(personas, receiver):
    client = _client(personas.alice)
    assert client.get(f"{PAGE}new/").status_code == 200
    response = client.post(f"{PAGE}new/", {"url": receiver.url("/ok"), "description": "<b>ERP</b>",
                                           "event_types": ["contact.created", "deal.stage_changed"],
                                           "is_active": "on"})
    endpoint = WebhookEndpoint.objects.get()
    assert response.status_code == 200 and endpoint.secret in response.content.decode()
    assert "no-store" in response["Cache-Control"]
    assert endpoint.event_types == ["contact.created", "deal.stage_changed"]

    listing = client.get(PAGE).content.decode()
    assert endpoint.secret not in listing and "&lt;b&gt;ERP&lt;/b&gt;" in listing and "<b>ERP</b>" not in listing

    edited = client.post(f"{PAGE}{endpoint.pk}/edit/", {"url": receiver.url("/ok"), "event_types": ["*"]})
    assert edited.status_code == 302
    endpoint.refresh_from_db()
    assert endpoint.event_types == ["*"] and not endpoint.is_active


def test_unsafe_url_and_missing_events_are_shown_on_the_form(personas, settings):
    settings.KITH_WEBHOOKS_ALLOW_PRIVATE = False
    response = _client(personas.alice).post(f"{PAGE}new/", {"url": "http://169.254.169.254/", "event_types": []})
    assert response.status_code == 400
    body = response.content.decode()
    assert "Choose at least one event type." in body
    response = _client(personas.alice).post(f"{PAGE}new/", {"url": "http://169.254.169.254/",
                                                             "event_types": ["*"]})
    assert response.status_code == 400 and "private, loopback or reserved" in response.content.decode()
    assert not WebhookEndpoint.objects.exists()


def test_replay_by_htmx_adds_the_new_delivery_to_the_log(personas, receiver, django_capture_on_commit_callbacks):
    webhook_endpoint_create(workspace=personas.acme, actor=personas.alice, url=receiver.url("/ok"),
                            event_types=["*"])
    with django_capture_on_commit_callbacks(execute=True):
        [delivery] = webhook_emit(workspace=personas.acme, event_type="contact.created", data={"id": 3})
    client = _client(personas.alice)
    assert delivery.message_id in client.get(PAGE).content.decode()

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"{PAGE}deliveries/{delivery.pk}/replay/", HTTP_HX_REQUEST="true")
    replay = WebhookDelivery.objects.get(replay_of=delivery)
    assert response.status_code == 200 and f'id="kith-delivery-{replay.pk}"' in response.content.decode()
    assert "HX-Trigger" in response
    replay.refresh_from_db()
    assert replay.status == DeliveryStatus.SUCCEEDED and len(receiver.requests) == 2


def test_rotate_and_test_confirm_on_get_and_act_on_post(personas, receiver, django_capture_on_commit_callbacks):
    endpoint = webhook_endpoint_create(workspace=personas.acme, actor=personas.alice, url=receiver.url("/ok"),
                                       event_types=["*"])
    old = endpoint.secret
    client = _client(personas.alice)
    assert "Rotate the signing secret?" in client.get(f"{PAGE}{endpoint.pk}/rotate-secret/").content.decode()
    endpoint.refresh_from_db()
    assert endpoint.secret == old
    rotated = client.post(f"{PAGE}{endpoint.pk}/rotate-secret/")
    endpoint.refresh_from_db()
    assert endpoint.secret != old and endpoint.secret in rotated.content.decode()

    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(f"{PAGE}{endpoint.pk}/test/").status_code == 302
    assert WebhookDelivery.objects.get().event_type == "webhook.test" and len(receiver.requests) == 1


def test_reps_get_403_and_posts_need_csrf(personas, receiver):
    endpoint = webhook_endpoint_create(workspace=personas.acme, actor=personas.alice, url=receiver.url("/ok"),
                                       event_types=["*"])
    bob = _client(personas.bob)
    assert bob.get(PAGE).status_code == 403
    assert bob.post(f"{PAGE}{endpoint.pk}/rotate-secret/").status_code == 403
    strict = _client(personas.alice, enforce_csrf_checks=True)
    assert strict.post(f"{PAGE}{endpoint.pk}/rotate-secret/").status_code == 403
    assert WebhookEndpoint.objects.get().secret == endpoint.secret


def test_alice_allows_private_addresses_for_her_workspace_only(personas, settings):
    settings.KITH_WEBHOOKS_ALLOW_PRIVATE = False
    client = _client(personas.alice)
    page = client.get(PAGE).content.decode()
    assert 'name="allow_private_addresses"' in page and "checked" not in page.split('name="allow_private_addresses"')[1][:80]

    assert client.post(f"{PAGE}settings/", {"allow_private_addresses": "on"}).status_code == 302
    assert WebhookSettings.objects.get(workspace=personas.acme).allow_private_addresses
    assert not WebhookSettings.objects.filter(workspace=personas.mallory_inc).exists()
    assert "checked" in client.get(PAGE).content.decode().split('name="allow_private_addresses"')[1][:80]
    # Now a loopback endpoint can be saved in Acme, and still not in Mallory Inc.
    created = client.post(f"{PAGE}new/", {"url": "http://127.0.0.1:9/hook", "event_types": ["*"], "is_active": "on"})
    assert created.status_code == 200 and WebhookEndpoint.objects.filter(workspace=personas.acme).count() == 1
    refused = _client(personas.mallory).post(f"{PAGE}new/", {"url": "http://127.0.0.1:9/hook", "event_types": ["*"]})
    assert refused.status_code == 400

    # An unchecked box turns it off again.
    client.post(f"{PAGE}settings/", {})
    assert not WebhookSettings.objects.get(workspace=personas.acme).allow_private_addresses


def test_only_admins_change_webhook_settings_and_with_csrf(personas):
    assert _client(personas.bob).post(f"{PAGE}settings/", {"allow_private_addresses": "on"}).status_code == 403
    strict = _client(personas.alice, enforce_csrf_checks=True)
    assert strict.post(f"{PAGE}settings/", {"allow_private_addresses": "on"}).status_code == 403
    assert not WebhookSettings.objects.filter(allow_private_addresses=True).exists()
