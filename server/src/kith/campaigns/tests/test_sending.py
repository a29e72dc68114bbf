"""Sending a campaign: snapshot, batches, the per-chunk claim, pause/resume, cancel, throttle, local time."""

from __future__ import annotations

import datetime as dt
import time

import pytest

from kith.campaigns import audience, sending, services
from kith.campaigns.models import BatchStatus, CampaignBatch, CampaignStatus
from kith.campaigns.starting import campaign_start
from kith.campaigns.tests.support import campaign_make, contacts_make, segment_make
from kith.contacts.models import ConsentState, Contact
from kith.core import clock
from kith.messaging.backends import memory
from kith.messaging.models import Message, MessageStatus, SourceType
from kith.messaging.services import suppression_add
from kith.preferences.models import Topic, TopicSubscription

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _memory_backend(settings):
    settings.KITH_MESSAGING_EMAIL_BACKEND = "memory"
    memory.outbox.clear()
    yield
    memory.outbox.clear()


def sent_to() -> list[str]:
    return sorted(message.recipients[0] for message in memory.outbox)


def test_a_scheduled_now_campaign_sends_one_message_to_each_recipient(personas, jobs):
    contacts_make(workspace=personas.acme, count=30)
    campaign = campaign_make(workspace=personas.acme, actor=personas.alice)

    with jobs():
        services.campaign_schedule(campaign=campaign, actor=personas.alice)

    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.SENT
    assert campaign.template_version_id == campaign.template.current_version_id
    assert sent_to() == sorted(f"person{i}@example.com" for i in range(30))
    rows = Message.objects.filter(source_type=SourceType.CAMPAIGN, source_id=str(campaign.pk))
    assert rows.count() == 30 and set(rows.values_list("status", flat=True)) == {MessageStatus.SENT}
    assert campaign.audience_count == 30
    wire = memory.outbox[0].wire
    assert b"List-Unsubscribe:" in wire and b"List-Unsubscribe-Post:" in wire


def test_snapshot_excludes_suppressed_opted_out_and_topic_unsubscribed_recipients(personas, jobs):
    people = contacts_make(workspace=personas.acme, count=6)
    topic = Topic.objects.create(workspace=personas.acme, name="News")
    suppression_add(workspace=personas.acme, address=people[0].email, reason="hard_bounce")
    Contact.objects.filter(pk=people[1].pk).update(email_consent=ConsentState.OPTED_OUT)
    TopicSubscription.objects.create(workspace=personas.acme, topic=topic, contact=people[2], subscribed=False)
    campaign = campaign_make(workspace=personas.acme, topic=topic.pk)

    with jobs():
        services.campaign_schedule(campaign=campaign, actor=personas.alice)

    statuses = dict(Message.objects.filter(source_id=str(campaign.pk)).values_list("contact_id", "status"))
    assert {statuses[p.pk] for p in people[:3]} == {MessageStatus.SUPPRESSED}
    assert {statuses[p.pk] for p in people[3:]} == {MessageStatus.SENT}
    assert sent_to() == sorted(p.email for p in people[3:])
    campaign.refresh_from_db()
    assert (campaign.audience_count, campaign.suppressed_count) == (3, 3)


def test_snapshot_is_idempotent_and_respects_exclusion_segments(personas, jobs):
    contacts_make(workspace=personas.acme, count=10)
    contacts_make(workspace=personas.acme, count=3, prefix="vip", lifecycle_stage="customer")
    vips = segment_make(workspace=personas.acme, name="Customers",
                        definition={"field": "lifecycle_stage", "op": "eq", "value": "customer"})
    campaign = campaign_make(workspace=personas.acme, exclusion_segments=[vips.pk])
    version = campaign.template.current_version_id

    first = audience.audience_insert(campaign=campaign, version_id=version)
    again = audience.audience_insert(campaign=campaign, version_id=version)

    assert (first, again) == (10, 0)
    assert not Message.objects.filter(source_id=str(campaign.pk), to_address__startswith="vip").exists()


def test_a_contact_in_two_segments_gets_one_message(personas, jobs):
    contacts_make(workspace=personas.acme, count=5)
    one = segment_make(workspace=personas.acme, name="One")
    two = segment_make(workspace=personas.acme, name="Two")
    campaign = campaign_make(workspace=personas.acme, segments=[one, two])

    with jobs():
        services.campaign_schedule(campaign=campaign, actor=personas.alice)

    assert len(sent_to()) == 5


def test_an_unsubscribe_after_the_snapshot_is_honoured_at_send_time(personas, settings, jobs):
    people = contacts_make(workspace=personas.acme, count=4)
    settings.KITH_CAMPAIGN_SENDERS = 0  # start without ringing, so the opt-out lands between snapshot and send
    campaign = campaign_make(workspace=personas.acme)
    with jobs():
        services.campaign_schedule(campaign=campaign, actor=personas.alice)
    suppression_add(workspace=personas.acme, address=people[0].email, reason="unsubscribe")

    sending.campaign_send(campaign_id=campaign.pk)

    assert sent_to() == sorted(p.email for p in people[1:])
    assert Message.objects.get(contact=people[0], source_id=str(campaign.pk)).status == MessageStatus.SUPPRESSED


def test_batches_cover_every_queued_row_once(personas, settings, monkeypatch, jobs):
    monkeypatch.setattr(audience, "BATCH_SIZE", 7)
    settings.KITH_CAMPAIGN_SENDERS = 0
    contacts_make(workspace=personas.acme, count=30)
    campaign = campaign_make(workspace=personas.acme)
    with jobs():
        services.campaign_schedule(campaign=campaign, actor=personas.alice)

    batches = list(CampaignBatch.objects.filter(campaign=campaign).order_by("first_id"))
    ids = list(Message.objects.filter(source_id=str(campaign.pk)).order_by("pk").values_list("pk", flat=True))
    assert len(batches) == 5
    covered = [pk for pk in ids for b in batches if b.first_id <= pk <= b.last_id]
    assert covered == ids


def test_pause_stops_between_chunks_and_resume_continues_where_it_stopped(personas, settings, monkeypatch, jobs):
    settings.KITH_CAMPAIGN_SENDERS = 0
    monkeypatch.setattr(sending, "CHUNK", 5)
    contacts_make(workspace=personas.acme, count=40)
    campaign = campaign_make(workspace=personas.acme)
    with jobs():
        services.campaign_schedule(campaign=campaign, actor=personas.alice)
    sends = {"n": 0}
    real_send = sending.chunk_send

    def pause_after_two_chunks(sender, claimed, *, variant_id):
        real_send(sender, claimed, variant_id=variant_id)
        sends["n"] += 1
        if sends["n"] == 2:
            services.campaign_pause(campaign=campaign, actor=personas.alice)

    monkeypatch.setattr(sending, "chunk_send", pause_after_two_chunks)
    monkeypatch.setattr(sending, "STATE_CHECK_SECONDS", 0)

    # when the campaign is paused while a worker sends
    assert sending.campaign_send(campaign_id=campaign.pk) == "stopped"

    # then nothing more was sent after the chunk in flight, and the batch was given back
    assert len(memory.outbox) == 10
    assert CampaignBatch.objects.filter(campaign=campaign, status=BatchStatus.RUNNING).count() == 0
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.PAUSED

    # and a worker started while paused sends nothing
    assert sending.campaign_send(campaign_id=campaign.pk) == "stopped"
    assert len(memory.outbox) == 10

    # when resumed, the rest goes out, each recipient once
    monkeypatch.setattr(sending, "chunk_send", real_send)
    with jobs():
        services.campaign_resume(campaign=campaign, actor=personas.alice)
    sending.campaign_send(campaign_id=campaign.pk)
    assert sent_to() == sorted(f"person{i}@example.com" for i in range(40))
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.SENT


def test_cancel_stops_sending_and_drops_the_unsent_rows(personas, settings, jobs):
    settings.KITH_CAMPAIGN_SENDERS = 0
    contacts_make(workspace=personas.acme, count=10)
    campaign = campaign_make(workspace=personas.acme)
    with jobs():
        services.campaign_schedule(campaign=campaign, actor=personas.alice)

    services.campaign_cancel(campaign=campaign, actor=personas.alice)

    assert sending.campaign_send(campaign_id=campaign.pk) == "stopped"
    assert memory.outbox == []
    assert not Message.objects.filter(source_id=str(campaign.pk), status=MessageStatus.QUEUED).exists()


def test_throttle_spreads_the_sends_over_time(personas, settings, jobs):
    settings.KITH_CAMPAIGN_SENDERS = 0
    contacts_make(workspace=personas.acme, count=30)
    campaign = campaign_make(workspace=personas.acme, throttle_per_minute=600)  # 10 a second
    with jobs():
        services.campaign_schedule(campaign=campaign, actor=personas.alice)

    started = time.monotonic()
    sending.campaign_send(campaign_id=campaign.pk)
    elapsed = time.monotonic() - started

    assert len(memory.outbox) == 30
    # 3 chunks of 10: the second starts 1 s after the first, the third 2 s after
    assert elapsed >= 1.9


def test_local_time_batches_wait_for_each_recipients_timezone(personas, settings, jobs):
    settings.KITH_CAMPAIGN_SENDERS = 0
    contacts_make(workspace=personas.acme, count=3, prefix="tokyo", timezone="Asia/Tokyo")
    contacts_make(workspace=personas.acme, count=2, prefix="ny", timezone="America/New_York")
    contacts_make(workspace=personas.acme, count=2, prefix="none")  # the workspace's zone (UTC)
    campaign = campaign_make(workspace=personas.acme)
    day = dt.date(2030, 5, 1)
    at = dt.datetime(2030, 4, 30, 12, 0, tzinfo=dt.UTC)
    with clock.frozen(at), jobs():
        services.campaign_schedule(campaign=campaign, actor=personas.alice,
                                   data={"schedule_kind": "local_time", "local_date": day,
                                         "local_time": dt.time(9, 0)})
    campaign.refresh_from_db()
    assert campaign.send_at == dt.datetime(2030, 4, 30, 19, 0, tzinfo=dt.UTC)  # 09:00 in UTC+14

    # when it is 09:00 in Tokyo (00:00 UTC)
    with clock.frozen(dt.datetime(2030, 5, 1, 0, 0, 30, tzinfo=dt.UTC)):
        assert campaign_start(campaign_id=campaign.pk)
        sending.campaign_send(campaign_id=campaign.pk)
    # then only Tokyo has received it
    assert sent_to() == [f"tokyo{i}@example.com" for i in range(3)]

    # and at 09:00 UTC the workspace-zone contacts too, and at 13:00 UTC New York
    with clock.frozen(dt.datetime(2030, 5, 1, 9, 0, 30, tzinfo=dt.UTC)):
        sending.campaign_send(campaign_id=campaign.pk)
    assert len(memory.outbox) == 5
    with clock.frozen(dt.datetime(2030, 5, 1, 13, 0, 30, tzinfo=dt.UTC)):
        assert sending.campaign_send(campaign_id=campaign.pk) == "done"
    assert len(memory.outbox) == 7
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.SENT
