"""The bulk upsert (``POST /api/v1/contacts/bulk/``) emits the outgoing webhooks single writes emit, queued
set-based: one INSERT of deliveries and one job per endpoint for the whole batch, never one per row."""

from __future__ import annotations

import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from kith.contacts import services
from kith.contacts.tests.factories import ContactFactory
from kith.webhooks import services as webhook_services
from kith.webhooks.models import DeliveryStatus, WebhookDelivery
from kith.webhooks.services import webhook_endpoint_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def enqueued(monkeypatch):
    """The jobs webhooks enqueue, as (job name, kwargs), still running them."""
    calls: list[tuple[str, dict]] = []
    real = webhook_services.enqueue_on_commit

    def recording(task, **kwargs):
        calls.append((task.name.rsplit(".", 1)[-1], kwargs))
        return real(task, **kwargs)

    monkeypatch.setattr(webhook_services, "enqueue_on_commit", recording)
    return calls


def _endpoint(personas, url, event_types=("*",), workspace=None):
    return webhook_endpoint_create(workspace=workspace or personas.acme, actor=personas.alice, url=url,
                                   event_types=list(event_types))


def test_bulk_api_emits_created_and_updated_like_single_writes(personas, receiver, enqueued, alice_api,
                                                                django_capture_on_commit_callbacks):
    _endpoint(personas, receiver.url("/ok"))
    known = ContactFactory(workspace=personas.acme, email="known@example.com", first_name="Old")
    same = ContactFactory(workspace=personas.acme, email="same@example.com", first_name="Same")

    with django_capture_on_commit_callbacks(execute=True):
        response = alice_api.post("/api/v1/contacts/bulk/", {"items": [
            {"email": "new@example.com", "first_name": "New"},
            {"email": "known@example.com", "first_name": "Renamed"},
            {"email": "same@example.com", "first_name": "Same"},  # unchanged: no event, as for contact_update
            {"email": "known@example.com", "first_name": "Twice"},  # an item error: no event
            {"email": "tagged@example.com", "tags": ["vip"]},
        ]}, format="json")

    assert response.status_code == 200, response.content
    bodies = [json.loads(request.body) for request in receiver.requests]
    email = lambda body: body["data"].get("email") or body["data"]["contact"]["email"]  # noqa: E731
    assert [(b["type"], email(b)) for b in bodies] == [
        ("contact.created", "new@example.com"), ("contact.updated", "known@example.com"),
        ("contact.created", "tagged@example.com"), ("contact.tag_added", "tagged@example.com")]
    assert bodies[3]["data"]["tag"] == "vip"
    assert bodies[1]["data"]["changed"] == ["first_name"] and bodies[1]["data"]["id"] == known.pk
    assert bodies[0]["data"]["first_name"] == "New" and bodies[0]["data"]["created_at"]
    # One job for the batch (one endpoint), carrying the four deliveries in order.
    assert [name for name, _ in enqueued] == ["webhook_delivery_batch_task"]
    assert len(enqueued[0][1]["delivery_ids"]) == 4
    assert set(WebhookDelivery.objects.values_list("status", flat=True)) == {DeliveryStatus.SUCCEEDED}
    ids = {b["data"]["id"] if "id" in b["data"] else b["data"]["contact"]["id"] for b in bodies}
    assert len(ids) == 3 and same.pk not in ids


def test_one_job_per_endpoint_and_only_subscribed_events(personas, receiver, enqueued,
                                                         django_capture_on_commit_callbacks):
    _endpoint(personas, receiver.url("/ok"))
    _endpoint(personas, receiver.url("/ok?created-only"), ["contact.created"])
    _endpoint(personas, receiver.url("/ok?deals"), ["deal.stage_changed"])
    _endpoint(personas, receiver.url("/ok?theirs"), workspace=personas.mallory_inc)
    ContactFactory(workspace=personas.acme, email="known@example.com", first_name="Old")

    with django_capture_on_commit_callbacks(execute=True):
        services.contact_bulk_upsert(workspace=personas.acme, actor=personas.alice, items=[
            {"email": f"c{n}@example.com"} for n in range(20)] + [{"email": "known@example.com", "first_name": "X"}])

    assert sorted(len(kwargs["delivery_ids"]) for _, kwargs in enqueued) == [20, 21]
    assert len(receiver.to("/ok")) == 21 and len(receiver.to("/ok?created-only")) == 20
    assert receiver.to("/ok?deals") == [] and receiver.to("/ok?theirs") == []


def test_a_rolled_back_bulk_write_sends_nothing(personas, receiver, enqueued, django_capture_on_commit_callbacks,
                                               monkeypatch):
    _endpoint(personas, receiver.url("/ok"))

    def boom(*args, **kwargs):
        raise RuntimeError("audit failed")

    monkeypatch.setattr("kith.contacts.services.bulk.AuditEntry.objects.bulk_create", boom)
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(RuntimeError):
        services.contact_bulk_upsert(workspace=personas.acme, actor=personas.alice,
                                     items=[{"email": "a@example.com"}])

    assert receiver.requests == [] and not WebhookDelivery.objects.exists()


@pytest.mark.parametrize("size", [10, 200])
def test_emitting_stays_set_based(personas, receiver, size, django_capture_on_commit_callbacks):
    _endpoint(personas, receiver.url("/ok"))
    items = [{"email": f"c{n}@example.com"} for n in range(size)]

    with CaptureQueriesContext(connection) as queries:
        services.contact_bulk_upsert(workspace=personas.acme, actor=personas.alice, items=items)

    deliveries = [q["sql"] for q in queries.captured_queries if "webhooks_webhookdelivery" in q["sql"]]
    # One INSERT (SQLite's bound on query parameters makes Django split large ones into a few), never one per row.
    assert 1 <= len(deliveries) <= max(1, size // 50) and all(sql.startswith("INSERT") for sql in deliveries)
    assert WebhookDelivery.objects.count() == size
