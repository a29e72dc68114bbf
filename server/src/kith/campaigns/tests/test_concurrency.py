"""Several senders on one campaign at once (threads, each with its own database connection, on PostgreSQL): every
recipient gets exactly one message, and the senders really did share the work."""

from __future__ import annotations

import threading
from collections import Counter

import pytest
from django.db import connection, connections

from kith.campaigns import audience, sending, services
from kith.campaigns.models import BatchStatus, CampaignBatch, CampaignStatus
from kith.campaigns.starting import campaign_start
from kith.campaigns.tests.support import campaign_make, contacts_make
from kith.messaging.backends import memory
from kith.messaging.models import Message, MessageStatus

pytestmark = pytest.mark.django_db(transaction=True)

SENDERS = 4
RECIPIENTS = 600


def test_concurrent_senders_never_send_a_recipient_twice(personas, settings, monkeypatch):
    if connection.vendor != "postgresql":
        pytest.skip("needs row locking between connections (PostgreSQL); SQLite serialises writers")
    settings.KITH_MESSAGING_EMAIL_BACKEND = "memory"
    settings.KITH_CAMPAIGN_SENDERS = 0
    memory.outbox.clear()
    monkeypatch.setattr(audience, "BATCH_SIZE", 40)
    monkeypatch.setattr(sending, "CHUNK", 7)
    contacts_make(workspace=personas.acme, count=RECIPIENTS)
    campaign = campaign_make(workspace=personas.acme)
    services.campaign_schedule(campaign=campaign, actor=personas.alice)
    campaign_start(campaign_id=campaign.pk)  # already started by its job on commit; a rerun is a no-op

    workers_seen: Counter[str] = Counter()
    real_claim = sending._batch_claim

    def counting_claim(campaign_, worker):
        batch = real_claim(campaign_, worker)
        if batch is not None:
            workers_seen[worker] += 1
        return batch

    monkeypatch.setattr(sending, "_batch_claim", counting_claim)
    barrier = threading.Barrier(SENDERS)
    errors: list[BaseException] = []

    def run() -> None:
        try:
            barrier.wait()
            sending.campaign_send(campaign_id=campaign.pk)
        except BaseException as exc:  # noqa: BLE001 — reported below, so a failing thread fails the test
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run) for _ in range(SENDERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert errors == []
    recipients = Counter(message.recipients[0] for message in memory.outbox)
    assert len(recipients) == RECIPIENTS
    assert max(recipients.values()) == 1
    assert set(Message.objects.filter(source_id=str(campaign.pk)).values_list("status", flat=True)) == {
        MessageStatus.SENT}
    assert len(workers_seen) >= 2, workers_seen  # the batches were shared, not taken by one thread
    assert not CampaignBatch.objects.filter(campaign=campaign).exclude(status=BatchStatus.DONE).exists()
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.SENT
    memory.outbox.clear()


def test_a_batch_whose_lease_expired_is_taken_over_and_finished_once(personas, settings, jobs):
    settings.KITH_MESSAGING_EMAIL_BACKEND = "memory"
    settings.KITH_CAMPAIGN_SENDERS = 0
    memory.outbox.clear()
    contacts_make(workspace=personas.acme, count=30)
    campaign = campaign_make(workspace=personas.acme)
    services.campaign_schedule(campaign=campaign, actor=personas.alice)
    campaign_start(campaign_id=campaign.pk)  # already started by its job on commit; a rerun is a no-op

    # given a worker that claimed the batch and sent one chunk, then died (its lease lapses)
    batch = sending._batch_claim(campaign, "dead-worker")
    claimed = sending._chunk_claim(campaign, batch, after_id=0, size=10)
    assert len(claimed) == 10
    CampaignBatch.objects.filter(pk=batch.pk).update(lease_until=batch.lease_until.replace(year=2000))

    # when another worker runs
    sending.campaign_send(campaign_id=campaign.pk)

    # then it sends the 20 rows still queued, never the 10 the dead worker had claimed (the crash window)
    assert len(memory.outbox) == 20
    assert Message.objects.filter(source_id=str(campaign.pk), status=MessageStatus.SENDING).count() == 10
    memory.outbox.clear()
