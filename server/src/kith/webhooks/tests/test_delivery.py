import base64
import datetime as dt
import hashlib
import hmac
import json
import socket

import pytest
from django.db import transaction
from standardwebhooks.webhooks import Webhook

from kith.contacts.services import contact_create, contact_delete, contact_update
from kith.core import clock
from kith.deals.services import deal_create, deal_move_to_stage, pipeline_create
from kith.webhooks import network, services
from kith.webhooks.models import DeliveryStatus, WebhookDelivery
from kith.webhooks.services import webhook_emit, webhook_endpoint_create

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)


def _endpoint(personas, url, event_types=("*",), workspace=None):
    return webhook_endpoint_create(workspace=workspace or personas.acme, actor=personas.alice, url=url,
                                   event_types=list(event_types))


def test_delivery_is_signed_per_standard_webhooks(personas, receiver, django_capture_on_commit_callbacks):
    endpoint = _endpoint(personas, receiver.url("/ok"))

    with django_capture_on_commit_callbacks(execute=True):
        webhook_emit(workspace=personas.acme, event_type="contact.created", data={"id": 7, "email": "d@x.test"})

    [request] = receiver.to("/ok")
    payload = Webhook(endpoint.secret).verify(request.body, request.headers)
    assert payload["type"] == "contact.created" and payload["data"] == {"id": 7, "email": "d@x.test"}
    # And independently of the library: v1,<base64 HMAC-SHA256 of "id.timestamp.body"> keyed with the secret.
    key = base64.b64decode(endpoint.secret.removeprefix("whsec_"))
    signed = f"{request.headers['webhook-id']}.{request.headers['webhook-timestamp']}.".encode() + request.body
    expected = "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    assert request.headers["webhook-signature"] == expected
    assert request.headers["content-type"] == "application/json"
    delivery = WebhookDelivery.objects.get()
    assert request.headers["webhook-id"] == delivery.message_id and delivery.message_id.startswith("msg_")
    assert (delivery.status, delivery.attempts, delivery.response_code) == (DeliveryStatus.SUCCEEDED, 1, 204)


def test_a_tampered_body_fails_verification(personas, receiver, django_capture_on_commit_callbacks):
    endpoint = _endpoint(personas, receiver.url("/ok"))
    with django_capture_on_commit_callbacks(execute=True):
        webhook_emit(workspace=personas.acme, event_type="contact.created", data={"id": 1})
    [request] = receiver.requests
    with pytest.raises(Exception, match="signature"):
        Webhook(endpoint.secret).verify(request.body.replace(b"1", b"2"), request.headers)


def test_only_active_subscribed_endpoints_get_one_job_each(personas, receiver, django_capture_on_commit_callbacks):
    everything = _endpoint(personas, receiver.url("/ok"))
    deals_only = _endpoint(personas, receiver.url("/ok"), ["deal.stage_changed"])
    paused = _endpoint(personas, receiver.url("/ok"))
    services.webhook_endpoint_update(endpoint=paused, actor=personas.alice, changes={"is_active": False})
    contacts = _endpoint(personas, receiver.url("/ok"), ["contact.created", "contact.deleted"])

    with django_capture_on_commit_callbacks() as callbacks:
        rows = webhook_emit(workspace=personas.acme, event_type="contact.created", data={})

    assert {row.endpoint_id for row in rows} == {everything.pk, contacts.pk}
    assert deals_only.pk not in {row.endpoint_id for row in rows}
    # One job per delivery: a slow receiver holds only its own job.
    assert len(callbacks) == 2


def test_nothing_is_sent_when_the_transaction_rolls_back(personas, receiver, django_capture_on_commit_callbacks):
    _endpoint(personas, receiver.url("/ok"))
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(RuntimeError), transaction.atomic():
        webhook_emit(workspace=personas.acme, event_type="contact.created", data={})
        raise RuntimeError("rolled back")
    assert receiver.requests == [] and not WebhookDelivery.objects.exists()


def _sweep(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        services.webhook_deliveries_sweep()


def _fail_until_dead(failing, receiver, django_capture_on_commit_callbacks, now, until=None):
    """Drive one failing delivery through its schedule with a frozen clock (up to ``until``, if given); return the
    waits and the last time."""
    delays = []
    failing.refresh_from_db()
    for attempt in range(failing.attempts + 1, services.MAX_ATTEMPTS + 1):
        due = failing.next_attempt_at
        if until is not None and due > until:
            break
        delays.append((due - now).total_seconds())
        with clock.frozen(due - dt.timedelta(seconds=1)):  # not yet due: nothing happens
            _sweep(django_capture_on_commit_callbacks)
        failing.refresh_from_db()
        assert failing.attempts == attempt - 1
        now = due
        with clock.frozen(now):
            _sweep(django_capture_on_commit_callbacks)
        failing.refresh_from_db()
        assert failing.attempts == attempt
    return delays, now


def test_failing_endpoint_backs_off_with_jitter_over_about_three_days(
    personas, receiver, django_capture_on_commit_callbacks
):
    good = _endpoint(personas, receiver.url("/ok"))
    bad = _endpoint(personas, receiver.url("/fail"), event_types=["contact.created"])
    other_bad = _endpoint(personas, receiver.url("/fail"), event_types=["contact.updated"])
    with clock.frozen(T0), django_capture_on_commit_callbacks(execute=True):
        webhook_emit(workspace=personas.acme, event_type="contact.created", data={"id": 1})
        webhook_emit(workspace=personas.acme, event_type="contact.updated", data={"id": 1})

    assert WebhookDelivery.objects.filter(endpoint=good, status=DeliveryStatus.SUCCEEDED).count() == 2
    failing = WebhookDelivery.objects.get(endpoint=bad)
    assert (failing.status, failing.attempts, failing.response_code) == (DeliveryStatus.FAILED, 1, 500)
    assert failing.response_body == "receiver exploded" and failing.error == "HTTP 500"
    # The jitter is real: another delivery that failed at the same moment is not on the same schedule.
    other = WebhookDelivery.objects.get(endpoint=other_bad)
    assert other.attempts == 1 and other.next_attempt_at != failing.next_attempt_at

    delays, now = _fail_until_dead(failing, receiver, django_capture_on_commit_callbacks, T0)

    # Each wait is its exponential ceiling (60 s doubling, at most 12 h) spread by at most ±20 %...
    ceilings = [min(60 * 2 ** n, 12 * 3600) for n in range(services.MAX_ATTEMPTS - 1)]
    for delay, ceiling in zip(delays, ceilings, strict=True):
        assert 0.8 * ceiling - 1 <= delay <= 1.2 * ceiling + 1, (delay, ceiling)
    # ... and the whole schedule spans about three days.
    assert dt.timedelta(days=2.5) <= dt.timedelta(seconds=sum(delays)) <= dt.timedelta(days=4)
    assert failing.status == DeliveryStatus.DEAD and failing.next_attempt_at is None

    with clock.frozen(now + dt.timedelta(days=1)):
        _sweep(django_capture_on_commit_callbacks)
    sent = [r for r in receiver.to("/fail") if r.headers["webhook-id"] == failing.message_id]
    assert len(sent) == services.MAX_ATTEMPTS
    assert len(receiver.to("/ok")) == 2


def test_an_endpoint_failing_for_days_is_disabled_and_the_admins_are_notified(
    personas, receiver, django_capture_on_commit_callbacks
):
    from kith.accounts.models import Membership, Role
    from kith.accounts.tests.factories import UserFactory
    from kith.tasks.models import Notification

    admin = UserFactory(email="ada@acme.example")
    Membership.objects.create(workspace=personas.acme, user=admin, role=Role.ADMIN)
    bad = _endpoint(personas, receiver.url("/fail"))
    with clock.frozen(T0), django_capture_on_commit_callbacks(execute=True):
        [first] = webhook_emit(workspace=personas.acme, event_type="contact.created", data={"id": 1})
    with clock.frozen(T0 + dt.timedelta(hours=1)), django_capture_on_commit_callbacks(execute=True):
        [second] = webhook_emit(workspace=personas.acme, event_type="contact.created", data={"id": 2})
    bad.refresh_from_db()
    assert bad.failing_since == T0 and bad.is_active

    first.refresh_from_db()
    _, now = _fail_until_dead(first, receiver, django_capture_on_commit_callbacks, T0)

    # The first delivery used its whole schedule while nothing got through: the endpoint is off, its other open
    # delivery stops (it stays in the log for a replay), and every owner and admin gets a notification.
    bad.refresh_from_db()
    assert not bad.is_active and bad.disabled_at == now and "Every attempt failed since" in bad.disabled_reason
    second.refresh_from_db()
    assert second.status == DeliveryStatus.DEAD and "disabled" in second.error
    notified = Notification.objects.filter(kind=services.DISABLED_NOTIFICATION_KIND)
    assert sorted(n.recipient.email for n in notified) == sorted([personas.alice.email, admin.email])
    assert personas.bob.pk not in {n.recipient_id for n in notified}  # a rep does not manage webhooks
    assert all(n.url == f"/settings/webhooks/{bad.pk}/edit/" and bad.url in n.text for n in notified)
    # A disabled endpoint receives nothing new.
    with clock.frozen(now), django_capture_on_commit_callbacks(execute=True):
        assert webhook_emit(workspace=personas.acme, event_type="contact.created", data={"id": 3}) == []

    # Turned on again by a person, it starts with a clean record.
    services.webhook_endpoint_update(endpoint=bad, actor=personas.alice, changes={"is_active": True})
    bad.refresh_from_db()
    assert bad.is_active and bad.disabled_at is None and bad.failing_since is None and bad.disabled_reason == ""


def test_a_success_in_between_keeps_a_flaky_endpoint_enabled(personas, receiver, django_capture_on_commit_callbacks):
    endpoint = _endpoint(personas, receiver.url("/fail"))
    with clock.frozen(T0), django_capture_on_commit_callbacks(execute=True):
        [first] = webhook_emit(workspace=personas.acme, event_type="contact.created", data={"id": 1})
    healthy_at = T0 + dt.timedelta(days=2, hours=5)  # before the shortest schedule (2.57 days) ends
    _, now = _fail_until_dead(first, receiver, django_capture_on_commit_callbacks, T0, until=healthy_at)
    # The receiver answers once in between (the same endpoint, briefly healthy): the streak ends.
    with clock.frozen(healthy_at), django_capture_on_commit_callbacks(execute=True):
        services.webhook_endpoint_update(endpoint=endpoint, actor=personas.alice,
                                         changes={"url": receiver.url("/ok")})
        webhook_emit(workspace=personas.acme, event_type="contact.created", data={"id": 2})
    endpoint.refresh_from_db()
    assert endpoint.failing_since is None
    with clock.frozen(healthy_at):
        services.webhook_endpoint_update(endpoint=endpoint, actor=personas.alice,
                                         changes={"url": receiver.url("/fail")})
    first.refresh_from_db()
    _fail_until_dead(first, receiver, django_capture_on_commit_callbacks, now)
    endpoint.refresh_from_db()
    first.refresh_from_db()
    # The delivery died, but the endpoint has failed only since the success, not for two days: it stays on.
    assert first.status == DeliveryStatus.DEAD
    assert endpoint.is_active and endpoint.disabled_at is None and endpoint.failing_since is not None


def test_a_second_ring_of_a_delivery_sends_nothing(personas, receiver, django_capture_on_commit_callbacks):
    _endpoint(personas, receiver.url("/ok"))
    with django_capture_on_commit_callbacks(execute=True):
        [delivery] = webhook_emit(workspace=personas.acme, event_type="contact.created", data={})
    assert services.webhook_delivery_attempt(delivery_id=delivery.pk) is None
    assert len(receiver.requests) == 1


def test_redirects_are_not_followed(personas, receiver, django_capture_on_commit_callbacks):
    _endpoint(personas, receiver.url("/redirect"))
    with django_capture_on_commit_callbacks(execute=True):
        webhook_emit(workspace=personas.acme, event_type="contact.created", data={})
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.response_code) == (DeliveryStatus.FAILED, 302)
    assert receiver.to("/ok") == []


def test_a_slow_endpoint_times_out_and_others_are_delivered(
    personas, receiver, django_capture_on_commit_callbacks, monkeypatch
):
    monkeypatch.setattr(network, "READ_TIMEOUT", 0.3)
    receiver.slow_seconds = 1.0
    slow = _endpoint(personas, receiver.url("/slow"))
    _endpoint(personas, receiver.url("/ok"))
    with django_capture_on_commit_callbacks(execute=True):
        webhook_emit(workspace=personas.acme, event_type="contact.created", data={})
    slow_delivery = WebhookDelivery.objects.get(endpoint=slow)
    assert slow_delivery.status == DeliveryStatus.FAILED and "ReadTimeout" in slow_delivery.error
    assert WebhookDelivery.objects.exclude(endpoint=slow).get().status == DeliveryStatus.SUCCEEDED


def test_delivery_connects_to_the_vetted_address_and_keeps_the_host_name(
    personas, receiver, django_capture_on_commit_callbacks, monkeypatch
):
    real = socket.getaddrinfo

    def fake_dns(host, *args, **kwargs):
        return real("127.0.0.1" if host == "hooks.customer.test" else host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", fake_dns)
    _endpoint(personas, receiver.url("/ok", host="hooks.customer.test"))
    with django_capture_on_commit_callbacks(execute=True):
        webhook_emit(workspace=personas.acme, event_type="contact.created", data={})
    [request] = receiver.requests
    assert request.headers["host"] == f"hooks.customer.test:{receiver.port}"


def test_the_address_is_checked_again_at_delivery_time(
    personas, receiver, django_capture_on_commit_callbacks, settings
):
    # Saved while private targets were allowed (or while the name resolved elsewhere: DNS rebinding).
    _endpoint(personas, receiver.url("/ok"))
    settings.KITH_WEBHOOKS_ALLOW_PRIVATE = False
    with django_capture_on_commit_callbacks(execute=True):
        webhook_emit(workspace=personas.acme, event_type="contact.created", data={})
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == DeliveryStatus.FAILED and "private" in delivery.error
    assert receiver.requests == []


@pytest.mark.parametrize("url", [
    "http://127.0.0.1/hook",
    "http://10.1.2.3/hook",
    "http://192.168.0.10:8080/hook",
    "http://169.254.169.254/latest/meta-data/",
    "http://[::1]/hook",
    "http://[::ffff:127.0.0.1]/hook",
    "http://[fe80::1]/hook",
    "http://0.0.0.0/hook",
    "http://224.0.0.1/hook",
    "http://localhost:8000/hook",  # a host name that resolves to loopback
])
def test_private_and_loopback_targets_are_refused(personas, settings, url):
    settings.KITH_WEBHOOKS_ALLOW_PRIVATE = False
    with pytest.raises(services.UnsafeWebhookUrl) as caught:
        _endpoint(personas, url)
    assert caught.value.field == "url"


@pytest.mark.parametrize("url", ["ftp://example.com/", "http:///nohost", "http://user:pw@93.184.215.14/",
                                 "javascript:alert(1)", "http://[::1/"])
def test_malformed_urls_are_refused(personas, url):
    with pytest.raises(services.UnsafeWebhookUrl):
        _endpoint(personas, url)


def test_a_public_address_is_accepted(personas, settings):
    settings.KITH_WEBHOOKS_ALLOW_PRIVATE = False
    target = network.url_resolve("https://93.184.215.14/hooks?x=1")
    assert (target.ip, target.port, target.path) == ("93.184.215.14", 443, "/hooks?x=1")


def test_crm_writes_emit_their_events(personas, receiver, django_capture_on_commit_callbacks):
    _endpoint(personas, receiver.url("/ok"))
    with django_capture_on_commit_callbacks(execute=True):
        contact = contact_create(workspace=personas.acme, actor=personas.alice, data={"email": "dana@x.test"})
    with django_capture_on_commit_callbacks(execute=True):
        contact_update(contact=contact, actor=personas.alice, data={"first_name": "Dana"})
    pipeline = pipeline_create(workspace=personas.acme, actor=personas.alice, name="Sales")
    deal = deal_create(workspace=personas.acme, actor=personas.alice, pipeline=pipeline, name="Big one",
                       contact=contact)
    stages = list(pipeline.stages.order_by("position"))
    with django_capture_on_commit_callbacks(execute=True):
        deal_move_to_stage(deal=deal, stage=stages[1], actor=personas.alice)
    contact_id = contact.pk
    with django_capture_on_commit_callbacks(execute=True):
        contact_delete(contact=contact, actor=personas.alice)

    bodies = [json.loads(request.body) for request in receiver.requests]
    assert [body["type"] for body in bodies] == ["contact.created", "contact.updated", "deal.stage_changed",
                                                 "contact.deleted"]
    assert bodies[0]["data"]["email"] == "dana@x.test"
    assert bodies[1]["data"]["first_name"] == "Dana" and bodies[1]["data"]["changed"] == ["first_name"]
    assert bodies[2]["data"]["from_stage"]["id"] == stages[0].pk
    assert bodies[2]["data"]["to_stage"]["id"] == stages[1].pk
    assert bodies[3]["data"]["id"] == contact_id


def test_events_stay_in_their_workspace(personas, receiver, django_capture_on_commit_callbacks):
    _endpoint(personas, receiver.url("/ok"), workspace=personas.mallory_inc)
    with django_capture_on_commit_callbacks(execute=True):
        contact_create(workspace=personas.acme, actor=personas.alice, data={"email": "dana@x.test"})
    assert receiver.requests == [] and not WebhookDelivery.objects.exists()


def test_a_workspace_that_allows_private_addresses_reaches_them_and_no_other_workspace_does(
    personas, receiver, django_capture_on_commit_callbacks, settings
):
    settings.KITH_WEBHOOKS_ALLOW_PRIVATE = False
    # given Acme allows private addresses and Mallory Inc does not
    services.webhook_settings_update(workspace=personas.acme, actor=personas.alice, allow_private_addresses=True)
    endpoint = _endpoint(personas, receiver.url("/ok"))
    with pytest.raises(services.UnsafeWebhookUrl):
        _endpoint(personas, receiver.url("/ok"), workspace=personas.mallory_inc)

    # then Acme's delivery to 127.0.0.1 goes through
    with django_capture_on_commit_callbacks(execute=True):
        webhook_emit(workspace=personas.acme, event_type="contact.created", data={"id": 1})
    assert WebhookDelivery.objects.get().status == DeliveryStatus.SUCCEEDED and len(receiver.requests) == 1

    # and once Acme turns the setting off, the guard refuses at delivery time, after resolving the name
    services.webhook_settings_update(workspace=personas.acme, actor=personas.alice, allow_private_addresses=False)
    with django_capture_on_commit_callbacks(execute=True):
        [refused] = webhook_emit(workspace=personas.acme, event_type="contact.created", data={"id": 2})
    refused.refresh_from_db()
    assert refused.status == DeliveryStatus.FAILED and "private" in refused.error and len(receiver.requests) == 1
    assert endpoint.pk == refused.endpoint_id
    from kith.core.models import AuditEntry
    assert AuditEntry.objects.filter(action="webhook_settings.updated", workspace=personas.acme).count() == 2
