"""Starting and sending a campaign: the snapshot at start, then batches shared by every worker that runs.

``campaign_start`` (scheduled → sending) pins the template version, snapshots the audience into the ledger
(``kith.campaigns.audience``) and cuts it into ``CampaignBatch`` rows, all in one transaction; then it rings
``KITH_CAMPAIGN_SENDERS`` send jobs. Each send job claims a batch with one conditional UPDATE (a lease), and works
through it in chunks of ``CHUNK`` messages:

1. claim the chunk: one ``UPDATE … SET status='sending' WHERE id IN (next CHUNK queued ids) AND status='queued'
   RETURNING id`` — a row is claimed by exactly one worker, whatever happens to leases;
2. re-check the chunk's recipients against suppressions and topic opt-outs (one query) — someone may have
   unsubscribed since the snapshot;
3. render each message with the fast path (``messaging.preparation``: the version is prepared once per process)
   and hand the chunk to the backend over the connection this job keeps open;
4. write the outcomes with one UPDATE (sent) and, for refusals, the retry schedule; renew the lease.

Between chunks the worker re-reads the campaign's state (at most every ``STATE_CHECK_SECONDS``), so pause and
cancel take effect within about a second; a paused worker gives its batch back and resume continues from the rows
still queued. A throttled campaign reserves send slots on the campaign row (``_throttle_reserve``), so the limit
holds across all workers together.

The crash window: messages claimed (``sending``) and handed to the provider whose outcome was not yet written when
the worker died. They are never sent again — a missing message is better than a duplicate — and
``messaging.sending.message_sending_sweep`` resolves them as "outcome unknown" after its lease. The window is at
most one chunk per worker (``CHUNK``); the Celery crash test measures it.
"""

from __future__ import annotations

import datetime as dt
import os
import socket
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Case, CharField, F, Q, Value, When

from kith.campaigns import audience
from kith.campaigns.models import (
    BatchStatus,
    Campaign,
    CampaignBatch,
    CampaignStatus,
    CampaignVariant,
)
from kith.core import clock
from kith.core.jobs import enqueue_on_commit, job
from kith.messaging import selectors as messaging_selectors
from kith.messaging.backends import (
    BaseEmailBackend,
    OutgoingEmail,
    ResultKind,
    SendResult,
    backend_get,
)
from kith.messaging.models import Message, MessageStatus, TemplateVersion
from kith.messaging.preparation import PreparedVersion, message_build, version_prepare
from kith.messaging.rendering import TemplateRenderError
from kith.messaging.sending import (
    BACKOFF_SECONDS,
    FALLBACK_SENDER,
    MAX_SEND_ATTEMPTS,
    VERP_BACKENDS,
)
from kith.messaging.verp import verp_address
from kith.preferences.selectors import marketing_recipients
from kith.timeline.models import Activity, ActivityKind
from kith.tracking.selectors import tracking_settings_get

# Messages claimed and sent together: the unit of the crash window (see the module docstring) and of the round
# trips per message (five queries per chunk).
CHUNK = 25
# A batch's lease; renewed after every chunk, so only a dead (or stalled) worker's batch is taken over.
BATCH_LEASE = dt.timedelta(seconds=30)
# Pause and cancel are noticed within this long.
STATE_CHECK_SECONDS = 0.5
# A send job works this long, then gives its batch back and rings a successor: jobs stay short (their lease is
# DEFAULT), and a deploy's new code takes over a running campaign within a minute.
SLICE_SECONDS = 60.0


def _worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"[:100]


def _db_now() -> Any:
    return connection.ops.adapt_datetimefield_value(clock.now())


def senders_ring(*, campaign: Campaign, run_at: dt.datetime | None = None) -> None:
    """Start ``KITH_CAMPAIGN_SENDERS`` send jobs for ``campaign`` after commit. Each loops over batches until none
    is left, so as many workers as run share the campaign; a job with nothing to do ends at once."""
    for _ in range(settings.KITH_CAMPAIGN_SENDERS):
        enqueue_on_commit(campaign_send_task, campaign_id=campaign.pk, run_at=run_at)


# --- the send loop -------------------------------------------------------------------------------------------

@dataclass
class _Sender:
    """What one send job keeps across chunks: its id, the backend connection and prepared versions."""

    worker: str
    campaign: Campaign
    backend: BaseEmailBackend
    alias: str
    opens: bool
    clicks: bool
    prepared: dict[int | None, tuple[PreparedVersion, int, str]]
    checked_at: float = 0.0


def _prepared_for(sender: _Sender, variant_id: int | None) -> tuple[PreparedVersion, int, str]:
    """The prepared version of a variant (or of the campaign), with the campaign's sender and the variant's subject
    applied to an unsaved copy of the pinned version; built once per send job."""
    found = sender.prepared.get(variant_id)
    if found is not None:
        return found
    campaign = sender.campaign
    variant = CampaignVariant.objects.filter(pk=variant_id).first() if variant_id else None
    version_id = (variant.template_version_id if variant and variant.template_version_id
                  else campaign.template_version_id)
    version = TemplateVersion.objects.get(pk=version_id)
    if variant is not None and variant.subject:
        version.subject = variant.subject
    if campaign.from_email:
        version.from_email, version.from_name = campaign.from_email, campaign.from_name or version.from_name
    if campaign.reply_to:
        version.reply_to = campaign.reply_to
    found = (version_prepare(version, track_clicks=sender.clicks), version.pk, version.from_email or FALLBACK_SENDER)
    sender.prepared[variant_id] = found
    return found


def campaign_send(*, campaign_id: int, slice_seconds: float = SLICE_SECONDS) -> str:
    """Work on ``campaign`` until no batch is left, it stops sending, or ``slice_seconds`` passed (then a
    successor job is rung). Returns why it stopped: "done", "waiting", "stopped" or "slice"."""
    campaign = Campaign.objects.select_related("workspace", "topic").filter(pk=campaign_id).first()
    if campaign is None or campaign.status != CampaignStatus.SENDING:
        return "stopped"
    delivery = messaging_selectors.delivery_settings_get(workspace=campaign.workspace)
    alias = delivery.email_backend or settings.KITH_MESSAGING_EMAIL_BACKEND
    tracking = tracking_settings_get(workspace=campaign.workspace)
    sender = _Sender(worker=_worker_id(), campaign=campaign, backend=backend_get(alias), alias=alias,
                     opens=campaign.track_opens and tracking.track_opens,
                     clicks=campaign.track_clicks and tracking.track_clicks, prepared={})
    until = time.monotonic() + slice_seconds
    try:
        while True:
            if not _still_sending(sender, force=True):
                return "stopped"
            batch = _batch_claim(campaign, sender.worker)
            if batch is None:
                return _finish_or_wait(campaign)
            outcome = _batch_send(sender, batch, until=until)
            if outcome == "slice":
                enqueue_on_commit(campaign_send_task, campaign_id=campaign.pk)
                return "slice"
            if outcome == "stopped":
                return "stopped"
    finally:
        sender.backend.close()


def _still_sending(sender: _Sender, *, force: bool = False) -> bool:
    now = time.monotonic()
    if not force and now - sender.checked_at < STATE_CHECK_SECONDS:
        return True
    sender.checked_at = now
    status = Campaign.objects.filter(pk=sender.campaign.pk).values_list("status", flat=True).first()
    return status == CampaignStatus.SENDING


def _batch_claim(campaign: Campaign, worker: str) -> CampaignBatch | None:
    """Take the lowest due batch that is pending or whose lease expired, with one conditional UPDATE per try (two
    workers that pick the same row: one wins, the other tries the next)."""
    now = clock.now()
    claimable = Q(status=BatchStatus.PENDING) | Q(status=BatchStatus.RUNNING, lease_until__lt=now)
    candidates = list(CampaignBatch.objects.filter(claimable, campaign=campaign, not_before__lte=now)
                      .order_by("pk").values_list("pk", flat=True)[:8])
    for pk in candidates:
        if CampaignBatch.objects.filter(claimable, pk=pk).update(
                status=BatchStatus.RUNNING, claimed_by=worker, lease_until=now + BATCH_LEASE) == 1:
            return CampaignBatch.objects.get(pk=pk)
    return None


def _batch_release(batch: CampaignBatch, worker: str) -> None:
    CampaignBatch.objects.filter(pk=batch.pk, claimed_by=worker, status=BatchStatus.RUNNING).update(
        status=BatchStatus.PENDING, claimed_by="", lease_until=None)


def _batch_send(sender: _Sender, batch: CampaignBatch, *, until: float) -> str:
    after_id = batch.first_id - 1
    chunk = _chunk_size(sender.campaign)
    while True:
        if not _still_sending(sender):
            _batch_release(batch, sender.worker)
            return "stopped"
        if time.monotonic() > until:
            _batch_release(batch, sender.worker)
            return "slice"
        if sender.campaign.throttle_per_minute and not _throttle_wait(sender, batch, chunk):
            _batch_release(batch, sender.worker)
            return "stopped"
        claimed = _chunk_claim(sender.campaign, batch, after_id=after_id, size=chunk)
        if not claimed:
            CampaignBatch.objects.filter(pk=batch.pk, claimed_by=sender.worker).update(
                status=BatchStatus.DONE, lease_until=None)
            return "done"
        after_id = max(claimed)
        chunk_send(sender, claimed, variant_id=batch.variant_id)
        renewed = CampaignBatch.objects.filter(pk=batch.pk, claimed_by=sender.worker,
                                               status=BatchStatus.RUNNING).update(
            lease_until=clock.now() + BATCH_LEASE)
        if not renewed:  # our lease lapsed and another worker took the batch over: it continues from here
            return "done"


def _chunk_size(campaign: Campaign) -> int:
    # A throttled campaign sends in chunks of about one second's allowance, so its rate is smooth.
    if campaign.throttle_per_minute:
        return max(1, min(CHUNK, campaign.throttle_per_minute // 60))
    return CHUNK


def _throttle_reserve(campaign_id: int, count: int, per_minute: int) -> dt.datetime:
    """Reserve ``count`` send slots on the campaign row; returns when they start. All workers reserve on the same
    row (locked for a moment), so together they keep to ``per_minute``."""
    with transaction.atomic():
        row = Campaign.objects.select_for_update().only("throttle_next_at").get(pk=campaign_id)
        now = clock.now()
        start = max(row.throttle_next_at or now, now)
        row.throttle_next_at = start + dt.timedelta(seconds=60 * count / per_minute)
        row.save(update_fields=["throttle_next_at"])
    return start


def _throttle_wait(sender: _Sender, batch: CampaignBatch, count: int) -> bool:
    start = _throttle_reserve(sender.campaign.pk, count, sender.campaign.throttle_per_minute)
    while (wait := (start - clock.now()).total_seconds()) > 0:
        time.sleep(min(wait, STATE_CHECK_SECONDS))
        if not _still_sending(sender):
            return False
        CampaignBatch.objects.filter(pk=batch.pk, claimed_by=sender.worker).update(
            lease_until=clock.now() + BATCH_LEASE)
    return True


def _chunk_claim(campaign: Campaign, batch: CampaignBatch, *, after_id: int, size: int) -> list[int]:
    """queued → sending for the next ``size`` rows of the batch, in one UPDATE … RETURNING; the ids claimed."""
    rows = audience.ledger(campaign).filter(status=MessageStatus.QUEUED, pk__gt=after_id, pk__lte=batch.last_id)
    if batch.timezones is not None:
        rows = rows.filter(contact__timezone__in=batch.timezones)
    sub_sql, sub_params = rows.order_by("pk").values("id")[:size].query.get_compiler(
        connection=connection).as_sql()
    table = connection.ops.quote_name(Message._meta.db_table)
    now = _db_now()
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET status = %s, attempts = attempts + 1, claimed_at = %s, updated_at = %s "
            f"WHERE id IN (SELECT c.id FROM ({sub_sql}) c) AND status = %s RETURNING id",
            [MessageStatus.SENDING, now, now, *sub_params, MessageStatus.QUEUED])
        return sorted(row[0] for row in cursor.fetchall())


def chunk_send(sender: _Sender, claimed: Sequence[int], *, variant_id: int | None) -> None:
    """Send the claimed (``sending``) messages: re-check opt-outs, render, hand over, record."""
    campaign = sender.campaign
    messages = list(Message.objects.filter(pk__in=claimed).select_related("contact__company").order_by("pk"))
    allowed = set(marketing_recipients(workspace=campaign.workspace, topic=campaign.topic)
                  .filter(pk__in=[m.contact_id for m in messages]).values_list("pk", flat=True))
    prepared, version_id, from_email = _prepared_for(sender, variant_id)
    outgoing: list[OutgoingEmail] = []
    built: list[tuple[Message, str]] = []
    suppressed: list[int] = []
    failed: dict[int, str] = {}
    for message in messages:
        message.workspace = campaign.workspace
        if message.contact_id not in allowed:
            suppressed.append(message.pk)
            continue
        try:
            result = message_build(prepared, message_id=message.pk, to_name=message.contact.full_name,
                                   to_address=message.to_address,
                                   context=messaging_selectors.message_context(message=message), marketing=True,
                                   track_opens=sender.opens)
        except (TemplateRenderError, ValueError) as exc:
            failed[message.pk] = f"Rendering failed: {exc}"
            continue
        outgoing.append(OutgoingEmail(message_id=message.pk, envelope_from=_envelope_from(sender, from_email, message),
                                      recipients=(message.to_address,), wire=result.wire))
        built.append((message, result.subject))
    results = sender.backend.send_many(outgoing) if outgoing else []
    _record(sender, built, results, suppressed=suppressed, failed=failed, version_id=version_id,
            variant_id=variant_id)


def _envelope_from(sender: _Sender, from_email: str, message: Message) -> str:
    if settings.KITH_BOUNCE_DOMAIN and sender.alias in VERP_BACKENDS:
        return verp_address(message_id=message.pk, domain=settings.KITH_BOUNCE_DOMAIN)
    return from_email


def _record(sender: _Sender, built: list[tuple[Message, str]], results: list[SendResult], *,
            suppressed: list[int], failed: dict[int, str], version_id: int, variant_id: int | None) -> None:
    now = clock.now()
    sent = [(message, subject, result) for (message, subject), result in zip(built, results, strict=True)
            if result.kind == ResultKind.SENT]
    with transaction.atomic():
        mine = Message.objects.filter(status=MessageStatus.SENDING)
        if sent:
            subjects = {subject for _, subject, _ in sent}
            subject_value: Any = Value(next(iter(subjects))) if len(subjects) == 1 else Case(
                *[When(pk=m.pk, then=Value(subject[:998])) for m, subject, _ in sent], output_field=CharField())
            mine.filter(pk__in=[m.pk for m, _, _ in sent]).update(
                status=MessageStatus.SENT, sent_at=now, finished_at=now, provider=sender.alias,
                subject=subject_value, template_version_id=version_id,
                provider_message_id=Case(*[When(pk=m.pk, then=Value(r.provider_message_id[:255]))
                                           for m, _, r in sent], output_field=CharField()))
            Activity.objects.bulk_create([
                Activity(workspace=sender.campaign.workspace, kind=ActivityKind.EMAIL_SENT,
                         title=f"E-mail sent: {subject}"[:255], contact_id=m.contact_id, occurred_at=now,
                         data={"message_id": m.pk, "source_type": m.source_type, "campaign_id": sender.campaign.pk})
                for m, subject, _ in sent])
        if suppressed:
            mine.filter(pk__in=suppressed).update(status=MessageStatus.SUPPRESSED, finished_at=now)
        for pk, error in failed.items():
            mine.filter(pk=pk).update(status=MessageStatus.FAILED, error=error[:2000], finished_at=now)
        for (message, subject), result in zip(built, results, strict=True):
            if result.kind != ResultKind.SENT:
                _record_refusal(sender, message, subject, result, variant_id=variant_id)


def _record_refusal(sender: _Sender, message: Message, subject: str, result: SendResult, *,
                    variant_id: int | None) -> None:
    """A permanent refusal (or the last attempt) fails the message; a transient one defers it to a retry job of
    this campaign, so the retry keeps the campaign's sender and the variant's subject."""
    attempts = message.attempts  # loaded after the claim, so it counts this attempt
    fields = {"error": result.error[:2000], "subject": subject[:998], "provider": sender.alias}
    if result.kind == ResultKind.PERMANENT or attempts >= MAX_SEND_ATTEMPTS:
        Message.objects.filter(pk=message.pk, status=MessageStatus.SENDING).update(
            status=MessageStatus.FAILED, finished_at=clock.now(), **fields)
        return
    delay = max(result.retry_after or 0, BACKOFF_SECONDS[min(attempts, len(BACKOFF_SECONDS)) - 1])
    retry_at = clock.now() + dt.timedelta(seconds=delay)
    Message.objects.filter(pk=message.pk, status=MessageStatus.SENDING).update(
        status=MessageStatus.DEFERRED, next_attempt_at=retry_at, **fields)
    enqueue_on_commit(campaign_retry_task, run_at=retry_at, campaign_id=sender.campaign.pk,
                      message_id=message.pk, variant_id=variant_id)


def _finish_or_wait(campaign: Campaign) -> str:
    """No batch to claim now: batches due later (local time) are rung by the sweep; an undecided A/B test waits
    for its decision; rows still queued but in no batch (a contact changed timezone) get a catch-all batch;
    otherwise the campaign is sent."""
    batches = CampaignBatch.objects.filter(campaign=campaign)
    open_batches = batches.exclude(status=BatchStatus.DONE)
    if open_batches.exists():
        # Batches due later (local time) or leased by a live worker: ``campaigns_sweep`` rings the campaign again
        # once a batch is due or a lease lapsed, so nothing waits longer than its cadence after that.
        return "waiting"
    fresh = Campaign.objects.get(pk=campaign.pk)
    if fresh.ab_enabled and fresh.ab_winner_id is None:
        return "waiting"
    if audience.ledger(campaign).filter(status=MessageStatus.QUEUED).exists():
        audience.batches_create(campaign=campaign, by_timezone=False,
                                variant=fresh.ab_winner if fresh.ab_enabled else None)
        enqueue_on_commit(campaign_send_task, campaign_id=campaign.pk)
        return "waiting"
    Campaign.objects.filter(pk=campaign.pk, status=CampaignStatus.SENDING).update(
        status=CampaignStatus.SENT, finished_at=clock.now(), updated_at=clock.now())
    return "done"


@job(lease_seconds=int(SLICE_SECONDS) + 240, max_attempts=10)
def campaign_send_task(*, campaign_id: int) -> None:
    campaign_send(campaign_id=campaign_id)


def campaign_retry(*, campaign_id: int, message_id: int, variant_id: int | None) -> None:
    """Try a deferred message of the campaign again (deferred and due → sending, the same claim as a chunk)."""
    campaign = Campaign.objects.select_related("workspace", "topic").filter(pk=campaign_id).first()
    if campaign is None or campaign.status in (CampaignStatus.CANCELLED,):
        return
    now = clock.now()
    if Message.objects.filter(pk=message_id, status=MessageStatus.DEFERRED, next_attempt_at__lte=now).update(
            status=MessageStatus.SENDING, claimed_at=now, attempts=F("attempts") + 1) != 1:
        return
    delivery = messaging_selectors.delivery_settings_get(workspace=campaign.workspace)
    alias = delivery.email_backend or settings.KITH_MESSAGING_EMAIL_BACKEND
    tracking = tracking_settings_get(workspace=campaign.workspace)
    sender = _Sender(worker=_worker_id(), campaign=campaign, backend=backend_get(alias), alias=alias,
                     opens=campaign.track_opens and tracking.track_opens,
                     clicks=campaign.track_clicks and tracking.track_clicks, prepared={})
    try:
        chunk_send(sender, [message_id], variant_id=variant_id)
    finally:
        sender.backend.close()


@job(max_attempts=3)
def campaign_retry_task(*, campaign_id: int, message_id: int, variant_id: int | None = None) -> None:
    campaign_retry(campaign_id=campaign_id, message_id=message_id, variant_id=variant_id)
