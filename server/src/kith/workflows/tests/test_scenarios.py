"""The seed scenarios (seeds/000: the car store), end to end: the store only sends Segment calls to /v1/identify and
/v1/track with its write key; Kith's workflows do the rest. SQLite or PostgreSQL, immediate runner, a clock the test
moves. Periodic jobs (the runner's sweep, the tracking fold, the trigger scan) are called as their schedule would.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from django.test import Client

from kith.contacts.models import Contact
from kith.messaging.models import Channel, Message, SourceType
from kith.messaging.services import template_create
from kith.tracking.aggregation import tracking_aggregate
from kith.workflows.models import Run, RunState, RunStep
from kith.workflows.runner import workflow_runs_due
from kith.workflows.services import workflow_activate, workflow_create
from kith.workflows.triggers import triggers_scan

pytestmark = pytest.mark.django_db

IPHONE = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148"


def workflow(personas: Any, name: str, **data: Any) -> Any:
    created = workflow_create(workspace=personas.acme, actor=personas.alice, data={"name": name, **data})
    return workflow_activate(workflow=created, actor=personas.alice)


@pytest.fixture
def store(personas: Any) -> dict[str, Any]:
    """The car store's automation, built once in Kith: four workflows and their templates."""
    acme, alice = personas.acme, personas.alice
    welcome = template_create(workspace=acme, actor=alice, name="Welcome", content={
        "subject": "Welcome to Kars, {{ contact.first_name }}",
        "html": '<p>Welcome!</p><p><a href="https://kars.example/cars">See our cars</a></p>'})
    thanks = template_create(workspace=acme, actor=alice, name="Thank you", content={
        "subject": "Thank you for your purchase",
        "html": "<p>Enjoy your {{ event.car }}! Share it with a friend: https://kars.example/share</p>"})
    nudge = template_create(workspace=acme, actor=alice, name="Still thinking?", channel=Channel.SMS,
                            content={"text": "Your {{ event.car }} is waiting for you at Kars."})
    flows = {
        "welcome": workflow(personas, "Welcome", trigger_kind="event", trigger_config={"event": "Signed Up"},
                            definition={"steps": [
                                {"id": "status", "kind": "set_lead_status", "value": "not_contacted",
                                 "next": "mail"},
                                {"id": "mail", "kind": "send_email", "template": welcome.pk}]}),
        "abandoned": workflow(personas, "Abandoned purchase", trigger_kind="event",
                              trigger_config={"event": "Purchase Abandoned",
                                              "filters": [{"property": "total", "op": "gt", "value": 1000}]},
                              reentry="always", definition={"steps": [
                                  {"id": "wait", "kind": "wait_event", "event": "Purchase Completed",
                                   "timeout": {"minutes": 30}, "next": None, "timeout_next": "sms"},
                                  {"id": "sms", "kind": "send_sms", "template": nudge.pk}]}),
        "thanks": workflow(personas, "Thank you", trigger_kind="event", trigger_config={"event": "Purchase Completed"},
                           reentry="always", definition={"steps": [
                               {"id": "mail", "kind": "send_email", "template": thanks.pk, "next": "converted"},
                               {"id": "converted", "kind": "set_lead_status", "value": "converted"}]}),
        "clicked": workflow(personas, "Clicked the welcome", trigger_kind="email_clicked",
                            trigger_config={"template": welcome.pk}, entry_condition={
                                "field": "lead_status", "op": "eq", "value": "not_contacted"},
                            definition={"steps": [{"id": "contacted", "kind": "set_lead_status",
                                                   "value": "contacted"}]}),
    }
    return {"templates": {"welcome": welcome, "thanks": thanks, "nudge": nudge}, "flows": flows}


def signed_up(send: Any, user_id: str = "u-1", email: str = "dana@example.com") -> Contact:
    send("/v1/identify", {"userId": user_id, "messageId": f"id-{user_id}",
                          "traits": {"email": email, "firstName": "Dana", "phone": "+14155550123"}})
    send("/v1/track", {"userId": user_id, "event": "Signed Up", "messageId": f"su-{user_id}"})
    return Contact.objects.get(external_id=user_id)


def ledger(contact: Contact, template: Any) -> list[Message]:
    return list(Message.objects.filter(contact=contact, source_type=SourceType.WORKFLOW_STEP,
                                       template_version__template=template))


def test_a_sign_up_gets_the_welcome_mail_once_and_becomes_not_contacted(store, send, outbox, frozen_clock):
    contact = signed_up(send)

    [message] = ledger(contact, store["templates"]["welcome"])
    assert message.status == "sent" and message.to_address == "dana@example.com", message.error
    assert [m.recipients for m in outbox] == [("dana@example.com",)]
    assert b"Welcome to Kars, Dana" in outbox[0].wire
    contact.refresh_from_db()
    assert contact.lead_status == "not_contacted"
    run = Run.objects.get(workflow=store["flows"]["welcome"])
    assert run.state == RunState.COMPLETED
    assert [(s.step_id, s.state) for s in run.steps.order_by("seq")] == [("status", "done"), ("mail", "done")]

    # A retried identical request (same messageId) changes nothing.
    send("/v1/track", {"userId": "u-1", "event": "Signed Up", "messageId": "su-u-1"})
    assert len(ledger(contact, store["templates"]["welcome"])) == 1 and len(outbox) == 1


def test_an_abandoned_purchase_gets_the_sms_thirty_minutes_later(store, send, outbox, frozen_clock, run_jobs):
    contact = signed_up(send)
    abandoned_at = frozen_clock.advance(minutes=1)
    send("/v1/track", {"userId": "u-1", "event": "Purchase Abandoned", "messageId": "pa-1",
                       "properties": {"total": 24990, "car": "Volvo XC60"}})
    run = Run.objects.get(workflow=store["flows"]["abandoned"])
    assert (run.state, run.current_step, run.waiting_for_event) == (RunState.WAITING, "wait", "Purchase Completed")
    assert run.wake_at == abandoned_at + dt.timedelta(minutes=30)

    # 29 minutes later the sweep finds nothing due.
    frozen_clock.advance(minutes=29)
    run_jobs(workflow_runs_due)
    assert ledger(contact, store["templates"]["nudge"]) == []

    # At 30 minutes the timeout branch sends the SMS (a ledger row from this step, with the event's properties).
    frozen_clock.advance(minutes=1, seconds=1)
    run_jobs(workflow_runs_due)
    [sms] = ledger(contact, store["templates"]["nudge"])
    assert sms.channel == Channel.SMS and sms.to_address == "+14155550123"
    assert sms.merge_data == {"event": {"total": 24990, "car": "Volvo XC60"}}
    run.refresh_from_db()
    assert run.state == RunState.COMPLETED
    assert [(s.step_id, s.result.get("outcome")) for s in run.steps.order_by("seq")] == [
        ("wait", None), ("wait", "timeout"), ("sms", None)]
    # No thank-you mail: nothing was bought.
    assert ledger(contact, store["templates"]["thanks"]) == []


def test_a_purchase_completed_within_thirty_minutes_cancels_the_sms_and_thanks_the_buyer(
        store, send, outbox, frozen_clock, run_jobs):
    contact = signed_up(send)
    frozen_clock.advance(minutes=1)
    send("/v1/track", {"userId": "u-1", "event": "Purchase Abandoned", "messageId": "pa-1",
                       "properties": {"total": 24990, "car": "Volvo XC60"}})
    frozen_clock.advance(minutes=10)
    send("/v1/track", {"userId": "u-1", "event": "Purchase Completed", "messageId": "pc-1",
                       "properties": {"total": 24990, "car": "Volvo XC60"}})

    chase = Run.objects.get(workflow=store["flows"]["abandoned"])
    assert chase.state == RunState.COMPLETED
    assert chase.steps.order_by("seq").last().result == {"outcome": "event"}
    [thanks] = ledger(contact, store["templates"]["thanks"])
    assert thanks.status == "sent"
    assert any(b"Enjoy your Volvo XC60" in m.wire for m in outbox)
    contact.refresh_from_db()
    assert contact.lead_status == "converted"

    # Long past the timeout: still no SMS.
    frozen_clock.advance(hours=2)
    run_jobs(workflow_runs_due)
    assert ledger(contact, store["templates"]["nudge"]) == []


def test_a_small_abandoned_cart_does_not_start_the_chase(store, send, frozen_clock):
    signed_up(send)
    send("/v1/track", {"userId": "u-1", "event": "Purchase Abandoned", "messageId": "pa-small",
                       "properties": {"total": 800}})
    assert not Run.objects.filter(workflow=store["flows"]["abandoned"]).exists()


def test_abandoned_and_completed_in_one_batch_sends_no_sms(store, send, frozen_clock, run_jobs):
    contact = signed_up(send)
    send("/v1/batch", {"batch": [
        {"type": "track", "userId": "u-1", "event": "Purchase Abandoned", "messageId": "b-pa",
         "properties": {"total": 5000}},
        {"type": "track", "userId": "u-1", "event": "Purchase Completed", "messageId": "b-pc",
         "properties": {"total": 5000}},
    ]})
    frozen_clock.advance(hours=1)
    run_jobs(workflow_runs_due)
    assert ledger(contact, store["templates"]["nudge"]) == []
    assert Run.objects.get(workflow=store["flows"]["abandoned"]).state == RunState.COMPLETED


def test_clicking_the_welcome_link_makes_the_lead_contacted(store, send, outbox, frozen_clock, run_jobs):
    contact = signed_up(send)
    [message] = ledger(contact, store["templates"]["welcome"])
    # The tracked link as the recipient's mail client shows it.
    link = re.search(rb"https?://[^/\s]+(/t/[^\s\"]+?/0/)", outbox[0].wire.replace(b"=\r\n", b"")).group(1)

    frozen_clock.advance(minutes=5)
    response = Client(HTTP_USER_AGENT=IPHONE).get(link.decode().replace("=3D", "="), REMOTE_ADDR="203.0.113.9")
    assert response.status_code == 302 and response["Location"] == "https://kars.example/cars"
    frozen_clock.advance(minutes=5)
    run_jobs(tracking_aggregate)
    run_jobs(triggers_scan, settle=dt.timedelta(0))

    contact.refresh_from_db()
    assert contact.lead_status == "contacted"
    run = Run.objects.get(workflow=store["flows"]["clicked"])
    assert run.state == RunState.COMPLETED and run.contact_id == message.contact_id
    # Scanning again enrolls nobody twice.
    run_jobs(triggers_scan, settle=dt.timedelta(0))
    assert Run.objects.filter(workflow=store["flows"]["clicked"]).count() == 1

    # Then the purchase converts the lead.
    send("/v1/track", {"userId": "u-1", "event": "Purchase Completed", "messageId": "pc-2"})
    contact.refresh_from_db()
    assert contact.lead_status == "converted"


def test_every_step_row_is_unique_per_run_and_visit(store, send, frozen_clock):
    signed_up(send)
    rows = list(RunStep.objects.values_list("run_id", "step_id", "seq"))
    assert len(rows) == len(set(rows)) > 0
