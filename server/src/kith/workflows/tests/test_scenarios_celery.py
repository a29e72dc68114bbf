"""The five seed scenarios on a real Celery worker (``make test-celery``: PostgreSQL, Redis). The test process only
sends Segment calls, the click a recipient makes and the doorbells of periodic jobs (as beat would); processing,
enrollment, steps, sending, the tracking fold and the trigger scan all run in the worker. A worker has its own
clock, so where the scenario needs time to pass the rows are moved as time would move them (a wait's ``wake_at``,
a hit's age past the fold's settle window).

1. welcome e-mail on ``Signed Up`` (lead status not_contacted);
2. an SMS 30 minutes after ``Purchase Abandoned``;
3. no SMS when ``Purchase Completed`` comes first, and a thank-you e-mail with a share request instead;
4. not_contacted → contacted when the contact clicks the welcome e-mail's link;
5. converted on purchase.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.db import transaction
from django.test import Client

from kith.contacts.models import Contact
from kith.core import clock
from kith.core.jobs import enqueue_on_commit
from kith.core.tests.conftest import broker_url, celery_broker  # noqa: F401 — fixtures
from kith.core.tests.jobs_processes import wait_for
from kith.events.services import event_write_key_create
from kith.messaging.links import click_base
from kith.messaging.models import Channel, Message, SourceType
from kith.messaging.services import template_create
from kith.timeline.models import Activity, ActivityKind
from kith.tracking.aggregation import tracking_aggregate
from kith.tracking.models import Hit
from kith.workflows.models import Run, RunState
from kith.workflows.runner import workflow_runs_wake
from kith.workflows.services import workflow_activate, workflow_create
from kith.workflows.tests.test_workers import SinkWorkers
from kith.workflows.triggers import workflow_triggers_scan

pytestmark = [pytest.mark.celery, pytest.mark.django_db(transaction=True)]

IPHONE = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148"


@pytest.fixture
def worker(tmp_path: Path, celery_broker: str) -> Iterator[Path]:  # noqa: F811
    group = SinkWorkers(tmp_path=tmp_path)
    try:
        _, log = group.start_celery(broker_url=celery_broker)
        yield log
    finally:
        group.stop_all()


def _flow(personas: Any, name: str, **data: Any) -> Any:
    created = workflow_create(workspace=personas.acme, actor=personas.alice, data={"name": name, **data})
    return workflow_activate(workflow=created, actor=personas.alice)


@pytest.fixture
def store(personas: Any) -> dict[str, Any]:
    acme, alice = personas.acme, personas.alice
    welcome = template_create(workspace=acme, actor=alice, name="Welcome", content={
        "subject": "Welcome to Kars", "html": '<p>Welcome!</p><p><a href="https://kars.example/cars">Cars</a></p>'})
    thanks = template_create(workspace=acme, actor=alice, name="Thank you", content={
        "subject": "Thank you", "html": "<p>Enjoy it! Share it with a friend: https://kars.example/share</p>"})
    nudge = template_create(workspace=acme, actor=alice, name="Nudge", channel=Channel.SMS,
                            content={"text": "Your car is waiting for you at Kars."})
    flows = {
        "welcome": _flow(personas, "Welcome", trigger_kind="event", trigger_config={"event": "Signed Up"},
                         definition={"steps": [
                             {"id": "status", "kind": "set_lead_status", "value": "not_contacted", "next": "mail"},
                             {"id": "mail", "kind": "send_email", "template": welcome.pk}]}),
        "abandoned": _flow(personas, "Abandoned", trigger_kind="event", trigger_config={"event": "Purchase Abandoned"},
                           reentry="always", definition={"steps": [
                               {"id": "wait", "kind": "wait_event", "event": "Purchase Completed",
                                "timeout": {"minutes": 30}, "next": None, "timeout_next": "sms"},
                               {"id": "sms", "kind": "send_sms", "template": nudge.pk}]}),
        "thanks": _flow(personas, "Thanks", trigger_kind="event", trigger_config={"event": "Purchase Completed"},
                        reentry="always", definition={"steps": [
                            {"id": "mail", "kind": "send_email", "template": thanks.pk, "next": "converted"},
                            {"id": "converted", "kind": "set_lead_status", "value": "converted"}]}),
        "clicked": _flow(personas, "Clicked", trigger_kind="email_clicked", trigger_config={"template": welcome.pk},
                         entry_condition={"field": "lead_status", "op": "eq", "value": "not_contacted"},
                         definition={"steps": [{"id": "contacted", "kind": "set_lead_status",
                                                "value": "contacted"}]}),
    }
    key = event_write_key_create(workspace=acme, actor=alice)[1]
    return {"templates": {"welcome": welcome, "thanks": thanks, "nudge": nudge}, "flows": flows, "key": key}


def _post(store: dict[str, Any], path: str, body: dict[str, Any]) -> None:
    auth = "Basic " + base64.b64encode(f"{store['key']}:".encode()).decode()
    response = Client().post(path, json.dumps(body), content_type="application/json", HTTP_AUTHORIZATION=auth)
    assert response.status_code == 200, response.content


def _ring(task: Any, **kwargs: Any) -> None:
    with transaction.atomic():
        enqueue_on_commit(task, **kwargs)


def _sent(template: Any, channel: str = Channel.EMAIL) -> Any:
    return Message.objects.filter(source_type=SourceType.WORKFLOW_STEP, channel=channel,
                                  template_version__template=template)


def _signed_up(store: dict[str, Any], log: Path) -> Contact:
    _post(store, "/v1/identify", {"userId": "u-1", "messageId": "i-1",
                                  "traits": {"email": "dana@example.com", "phone": "+14155550123"}})
    _post(store, "/v1/track", {"userId": "u-1", "event": "Signed Up", "messageId": "s-1"})
    wait_for(lambda: _sent(store["templates"]["welcome"]).filter(status="sent").count() == 1, timeout=60,
             what="the welcome mail to be sent", log=log)
    return Contact.objects.get(external_id="u-1")


def test_1_a_sign_up_gets_the_welcome_mail_and_becomes_not_contacted(personas, store, worker):
    contact = _signed_up(store, worker)
    [mail] = _sent(store["templates"]["welcome"])
    assert mail.to_address == "dana@example.com"
    wait_for(lambda: Run.objects.filter(workflow=store["flows"]["welcome"], state=RunState.COMPLETED).exists(),
             timeout=30, what="the welcome run to complete", log=worker)
    contact.refresh_from_db()
    assert contact.lead_status == "not_contacted"


def test_2_an_abandoned_purchase_gets_the_sms_thirty_minutes_later(personas, store, worker):
    contact = _signed_up(store, worker)
    _post(store, "/v1/track", {"userId": "u-1", "event": "Purchase Abandoned", "messageId": "pa-1"})
    chase = store["flows"]["abandoned"]
    wait_for(lambda: Run.objects.filter(workflow=chase, state=RunState.WAITING, current_step="wait").exists(),
             timeout=60, what="the chase to wait", log=worker)
    run = Run.objects.get(workflow=chase)
    assert dt.timedelta(minutes=29) < run.wake_at - clock.now() <= dt.timedelta(minutes=30)
    assert not _sent(store["templates"]["nudge"], Channel.SMS).exists()

    # Thirty minutes pass, and the sweep rings.
    Run.objects.filter(pk=run.pk).update(wake_at=clock.now() - dt.timedelta(seconds=1))
    _ring(workflow_runs_wake, workspace_id=personas.acme.pk)
    wait_for(lambda: Run.objects.filter(pk=run.pk, state=RunState.COMPLETED).exists(), timeout=60,
             what="the chase to complete", log=worker)
    [sms] = _sent(store["templates"]["nudge"], Channel.SMS)
    assert sms.contact_id == contact.pk and sms.to_address == "+14155550123"


def test_3_and_5_a_completed_purchase_cancels_the_sms_thanks_the_buyer_and_converts_the_lead(personas, store,
                                                                                             worker):
    contact = _signed_up(store, worker)
    _post(store, "/v1/track", {"userId": "u-1", "event": "Purchase Abandoned", "messageId": "pa-1"})
    chase = store["flows"]["abandoned"]
    wait_for(lambda: Run.objects.filter(workflow=chase, state=RunState.WAITING).exists(), timeout=60,
             what="the chase to wait", log=worker)
    _post(store, "/v1/track", {"userId": "u-1", "event": "Purchase Completed", "messageId": "pc-1"})

    wait_for(lambda: _sent(store["templates"]["thanks"]).filter(status="sent").count() == 1, timeout=60,
             what="the thank-you mail", log=worker)
    wait_for(lambda: Contact.objects.filter(pk=contact.pk, lead_status="converted").exists(), timeout=60,
             what="the lead to be converted", log=worker)
    wait_for(lambda: Run.objects.filter(workflow=chase, state=RunState.COMPLETED).exists(), timeout=60,
             what="the chase to end on the purchase", log=worker)
    assert Run.objects.get(workflow=chase).steps.order_by("seq").last().result == {"outcome": "event"}
    # Long past the timeout, the sweep finds nothing: no SMS.
    _ring(workflow_runs_wake, workspace_id=personas.acme.pk)
    time.sleep(1)
    assert not _sent(store["templates"]["nudge"], Channel.SMS).exists()


def test_4_clicking_the_welcome_link_makes_the_lead_contacted(personas, store, worker):
    contact = _signed_up(store, worker)
    [mail] = _sent(store["templates"]["welcome"])
    # The recipient clicks a minute after the mail arrived (not a link scanner's instant click).
    Message.objects.filter(pk=mail.pk).update(sent_at=clock.now() - dt.timedelta(minutes=5))
    link = click_base(message_id=mail.pk).split("://", 1)[1].split("/", 1)[1]
    response = Client(HTTP_USER_AGENT=IPHONE).get(f"/{link}0/", REMOTE_ADDR="203.0.113.9")
    assert response.status_code == 302 and response["Location"] == "https://kars.example/cars"

    # The fold's settle window passes; beat rings the fold, then the trigger scan.
    Hit.objects.update(occurred_at=clock.now() - dt.timedelta(minutes=2))
    _ring(tracking_aggregate)
    wait_for(lambda: _clicked(contact), timeout=60,
             what="the click to reach the timeline", log=worker)
    time.sleep(5.5)  # the trigger scan leaves rows younger than 5 s (wall clock) for its next pass
    _ring(workflow_triggers_scan)
    wait_for(lambda: Contact.objects.filter(pk=contact.pk, lead_status="contacted").exists(), timeout=60,
             what="the lead to become contacted", log=worker)
    assert Run.objects.filter(workflow=store["flows"]["clicked"], contact=contact).count() == 1

    # And the purchase then converts it.
    _post(store, "/v1/track", {"userId": "u-1", "event": "Purchase Completed", "messageId": "pc-2"})
    wait_for(lambda: Contact.objects.filter(pk=contact.pk, lead_status="converted").exists(), timeout=60,
             what="the lead to be converted", log=worker)


def _clicked(contact: Contact) -> bool:
    return Activity.objects.filter(contact=contact, kind=ActivityKind.EMAIL_CLICKED).exists()
