"""The event types emitted from the places that know the fact: tags from the contacts services (single and bulk),
``email.opened`` / ``email.clicked`` from the tracking fold, ``event.received`` from event processing. Each is
queued set-based — one job per endpoint for a batch — and a slow endpoint holds only its own job."""

from __future__ import annotations

import base64
import datetime as dt
import json

import pytest
from django.test import Client

from kith.contacts.services import (
    contact_add_tags,
    contact_bulk_upsert,
    contact_create,
    contact_remove_tags,
)
from kith.core import clock
from kith.core.jobs.models import Job
from kith.events.services import event_write_key_create
from kith.tracking.aggregation import tracking_aggregate
from kith.tracking.models import HitKind
from kith.tracking.recording import hit_record
from kith.tracking.tests.helpers import sent_message
from kith.webhooks.models import WebhookDelivery
from kith.webhooks.services import webhook_endpoint_create

pytestmark = pytest.mark.django_db

CHROME = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36"


def _endpoint(personas, url, event_types):
    return webhook_endpoint_create(workspace=personas.acme, actor=personas.alice, url=url,
                                   event_types=list(event_types))


def _bodies(receiver, path="/ok"):
    return [json.loads(request.body) for request in receiver.to(path)]


def test_tags_added_and_removed_are_sent_one_event_per_tag(personas, receiver, django_capture_on_commit_callbacks):
    _endpoint(personas, receiver.url("/ok"), ["contact.tag_added", "contact.tag_removed"])
    contact = contact_create(workspace=personas.acme, actor=None, data={"email": "dana@x.test"})
    with django_capture_on_commit_callbacks(execute=True):
        contact_add_tags(contact=contact, actor=personas.alice, names=["vip", "newsletter"])
    with django_capture_on_commit_callbacks(execute=True):
        contact_add_tags(contact=contact, actor=personas.alice, names=["vip"])  # already there: nothing
    with django_capture_on_commit_callbacks(execute=True):
        contact_remove_tags(contact=contact, actor=personas.alice, names=["vip", "never-had"])

    sent = [(body["type"], body["data"]["tag"], body["data"]["contact"]["email"]) for body in _bodies(receiver)]
    assert sorted(sent[:2]) == [("contact.tag_added", "newsletter", "dana@x.test"),
                                ("contact.tag_added", "vip", "dana@x.test")]
    assert sent[2:] == [("contact.tag_removed", "vip", "dana@x.test")]


def test_a_bulk_upsert_sends_its_tags_in_one_job_per_endpoint(personas, receiver, settings):
    settings.KITH_JOBS_RUNNER = "embedded"  # job rows, so the test can count them
    _endpoint(personas, receiver.url("/ok"), ["contact.tag_added"])
    _endpoint(personas, receiver.url("/slow"), ["contact.tag_added"])
    contact_bulk_upsert(workspace=personas.acme, actor=None, items=[
        {"email": f"p{n}@x.test", "tags": ["imported"]} for n in range(5)])
    deliveries = WebhookDelivery.objects.filter(event_type="contact.tag_added")
    assert deliveries.count() == 10
    jobs = Job.objects.filter(name="kith.webhooks.services.webhook_delivery_batch_task")
    assert jobs.count() == 2  # one per endpoint: the slow receiver's job holds only its own deliveries
    assert {len(job.kwargs["delivery_ids"]) for job in jobs} == {5}


def _hit(message, kind, *, at, link=None):
    with clock.frozen(at):
        hit_record(message_id=message.pk, kind=kind, user_agent=CHROME, ip="203.0.113.7", link_index=link)


def test_the_tracking_fold_sends_first_opens_and_first_clicks(personas, receiver, django_capture_on_commit_callbacks):
    _endpoint(personas, receiver.url("/ok"), ["email.opened", "email.clicked"])
    message = sent_message(workspace=personas.acme)
    other_workspace_message = sent_message(workspace=personas.mallory_inc, email="m@x.test")
    t = clock.now()
    for target in (message, other_workspace_message):
        _hit(target, HitKind.OPEN, at=t)
        _hit(target, HitKind.OPEN, at=t + dt.timedelta(seconds=20))
        _hit(target, HitKind.CLICK, at=t + dt.timedelta(seconds=30), link=1)
        _hit(target, HitKind.CLICK, at=t + dt.timedelta(seconds=40), link=1)
    with clock.frozen(t + dt.timedelta(minutes=5)), django_capture_on_commit_callbacks(execute=True):
        tracking_aggregate()
    # A second open later is no first open: nothing more is sent.
    _hit(message, HitKind.OPEN, at=t + dt.timedelta(minutes=6))
    with clock.frozen(t + dt.timedelta(minutes=10)), django_capture_on_commit_callbacks(execute=True):
        tracking_aggregate()

    bodies = _bodies(receiver)
    assert sorted(body["type"] for body in bodies) == ["email.clicked", "email.opened"]  # Acme's only
    opened = next(body["data"] for body in bodies if body["type"] == "email.opened")
    clicked = next(body["data"] for body in bodies if body["type"] == "email.clicked")
    assert opened["message"]["id"] == clicked["message"]["id"] == message.pk
    assert opened["contact"] == {"id": message.contact_id, "email": "ada@example.com"}
    assert opened["occurred_at"] == t.isoformat()
    assert clicked["url"] == "https://shop.example.com/sale" and clicked["link_index"] == 1


def test_processed_events_are_sent_as_event_received(personas, receiver, django_capture_on_commit_callbacks):
    _endpoint(personas, receiver.url("/ok"), ["event.received"])
    key = event_write_key_create(workspace=personas.acme, actor=personas.alice)[1]
    auth = "Basic " + base64.b64encode(f"{key}:".encode()).decode()
    batch = {"batch": [
        {"type": "identify", "userId": "u-1", "messageId": "m-1", "traits": {"email": "dana@x.test"}},
        {"type": "track", "userId": "u-1", "event": "Purchase Completed", "messageId": "m-2",
         "properties": {"total": 5000}},
    ]}
    with django_capture_on_commit_callbacks(execute=True):
        response = Client().post("/v1/batch", json.dumps(batch), content_type="application/json",
                                 HTTP_AUTHORIZATION=auth)
    assert response.status_code == 200

    bodies = _bodies(receiver)
    assert [(body["type"], body["data"]["type"], body["data"]["message_id"]) for body in bodies] == [
        ("event.received", "identify", "m-1"), ("event.received", "track", "m-2")]
    purchase = bodies[1]["data"]
    assert purchase["name"] == "Purchase Completed" and purchase["properties"] == {"total": 5000}
    assert purchase["contact"] is not None and purchase["user_id"] == "u-1"
    # A retried request (same messageIds) is deduplicated at accept: nothing is sent twice.
    with django_capture_on_commit_callbacks(execute=True):
        Client().post("/v1/batch", json.dumps(batch), content_type="application/json", HTTP_AUTHORIZATION=auth)
    assert len(receiver.to("/ok")) == 2
