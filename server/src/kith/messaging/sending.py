"""The send path: one ledger row in, one provider call out, the outcome written back.

The ``Message`` row is the truth and the job only a doorbell. ``message_send`` renders first, then claims the row
with one conditional UPDATE (queued/due deferred → sending) and calls the provider right after, outside any
transaction; a rerun, a duplicate doorbell or a second worker finds nothing to claim. Rendering before the claim
keeps the claimed stretch as short as the provider call itself.

The one crash window that remains: the provider accepted the message and the worker died before writing ``sent``.
The row stays ``sending``; it is never sent again (for marketing mail a missing message is better than a
duplicate). ``message_sending_sweep`` (schedule.toml) resolves such rows after ``SENDING_LEASE`` as ``failed``
with an error saying the outcome is unknown, so they stop looking in progress; see docs/messaging.md.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q

from kith.contacts.models import ConsentState
from kith.core import clock
from kith.core.jobs import enqueue_on_commit, job
from kith.messaging import selectors
from kith.messaging.backends import (
    BaseEmailBackend,
    OutgoingEmail,
    OutgoingSms,
    ResultKind,
    SendResult,
    backend_get,
    sms_backend_get,
)
from kith.messaging.models import (
    Channel,
    DeliverySettings,
    Message,
    MessageStatus,
    SmsBackendChoice,
    Suppression,
)
from kith.messaging.preparation import message_build, prepared_version
from kith.messaging.rendering import TemplateRenderError, compile_part
from kith.messaging.sms import MAX_SEGMENTS, sms_segments
from kith.messaging.verp import verp_address
from kith.preferences.selectors import transactional_allowed
from kith.timeline.models import ActivityKind
from kith.timeline.services import activity_record
from kith.tracking.selectors import tracking_policy

# Throttling and greylisting usually clear within minutes; five tries over ~1.5 hours, then the message fails.
MAX_SEND_ATTEMPTS = 5
BACKOFF_SECONDS = (60, 300, 900, 3600)
# A provider call takes seconds; a row still ``sending`` after this lost its worker mid-call.
SENDING_LEASE = dt.timedelta(minutes=30)
FALLBACK_SENDER = "no-reply@kith.localhost"
# Backends that talk SMTP themselves and so carry Kith's VERP return path.
VERP_BACKENDS = frozenset({"smtp", "sink", "memory"})
# Kept connections are reused within this many seconds; relays typically drop idle clients after 60-300 s.
KEEP_IDLE_SECONDS = 30
# Per worker thread: alias → (open backend, last use).
_kept = threading.local()
# Twilio posts delivery updates here (``webhooks.twilio_status``).
TWILIO_CALLBACK_URL = "{base}/webhooks/sms/twilio/status/"


def _claim(message_id: int) -> bool:
    """queued (or deferred and due) → sending, in one conditional UPDATE: exactly one caller wins."""
    now = clock.now()
    due = Q(status=MessageStatus.QUEUED) | Q(status=MessageStatus.DEFERRED, next_attempt_at__lte=now)
    return Message.objects.filter(due, pk=message_id).update(
        status=MessageStatus.SENDING, attempts=F("attempts") + 1, claimed_at=now) == 1


def _claimable(message: Message) -> bool:
    if message.status == MessageStatus.QUEUED:
        return True
    return message.status == MessageStatus.DEFERRED and message.next_attempt_at is not None \
        and message.next_attempt_at <= clock.now()


def _finish(message: Message, *, status: str, error: str = "", **fields: Any) -> None:
    """Write the outcome, conditioned on the row still being ours (``sending``)."""
    Message.objects.filter(pk=message.pk, status=MessageStatus.SENDING).update(
        status=status, error=error[:2000], finished_at=clock.now(), **fields)


def _claim_and_finish(message: Message, *, status: str, error: str = "") -> str:
    """End a message without sending it (suppressed, render error), through the same claim as a send."""
    if not _claim(message.pk):
        return Message.objects.values_list("status", flat=True).get(pk=message.pk)
    _finish(message, status=status, error=error)
    return status


def _blocked(message: Message) -> bool:
    """Marketing goes to nobody suppressed or opted out of the channel (SMS marketing needs an opt-in);
    transactional messages skip topic and marketing opt-outs but never go to a hard-bounced or complaining
    address, nor an SMS to a contact who opted out of SMS."""
    contact, workspace, address = message.contact, message.workspace, message.to_address
    if message.channel == Channel.SMS:
        if message.is_marketing:
            return contact.sms_consent != ConsentState.OPTED_IN or \
                Suppression.objects.filter(workspace=workspace, address=address).exists()
        return contact.sms_consent == ConsentState.OPTED_OUT or \
            not transactional_allowed(workspace=workspace, address=address)
    if message.is_marketing:
        return selectors.is_suppressed(workspace=workspace, contact=contact, address=address)
    return not transactional_allowed(workspace=workspace, address=address)


def message_send(*, message_id: int) -> str:
    """Send one queued message; returns the status it ended in (or its current one when there was nothing to do)."""
    message = selectors.message_for_sending(message_id=message_id)
    if not _claimable(message):
        return message.status
    if _blocked(message):
        return _claim_and_finish(message, status=MessageStatus.SUPPRESSED)
    delivery = selectors.delivery_settings_get(workspace=message.workspace)
    if message.channel == Channel.SMS:
        return _send_sms(message, delivery)
    return _send_email(message, delivery)


def _send_email(message: Message, delivery: DeliverySettings) -> str:
    version = message.template_version
    tracking = tracking_policy(workspace=message.workspace, message_id=message.pk)
    try:
        built = message_build(prepared_version(version, track_clicks=tracking.clicks), message_id=message.pk,
                              to_name=message.contact.full_name, to_address=message.to_address,
                              context=selectors.message_context(message=message), marketing=message.is_marketing,
                              track_opens=tracking.opens)
    except (TemplateRenderError, ValueError) as exc:
        return _claim_and_finish(message, status=MessageStatus.FAILED, error=f"Rendering failed: {exc}")
    alias = delivery.email_backend or settings.KITH_MESSAGING_EMAIL_BACKEND
    envelope_from = version.from_email or delivery.from_email or FALLBACK_SENDER
    if settings.KITH_BOUNCE_DOMAIN and alias in VERP_BACKENDS:
        envelope_from = verp_address(message_id=message.pk, domain=settings.KITH_BOUNCE_DOMAIN)
    outgoing = OutgoingEmail(message_id=message.pk, envelope_from=envelope_from, recipients=(message.to_address,),
                             wire=built.wire)
    backend = _kept_backend(alias)
    if not _claim(message.pk):
        return Message.objects.values_list("status", flat=True).get(pk=message.pk)
    message.attempts += 1
    try:  # outside any transaction: the job runs in autocommit mode
        result = backend.send_many([outgoing])[0]
    except BaseException:
        _kept.__dict__.pop(alias, None)
        backend.close()
        raise
    if _kept.__dict__.get(alias, (None,))[0] is not backend:
        backend.close()
    return _record_result(message, result, subject=built.subject, provider=alias)


def _kept_backend(alias: str) -> BaseEmailBackend:
    """The backend for ``alias``, reusing the connection this worker thread kept open for the previous message.

    Each worker thread (and process) keeps its own, so N workers send over N connections in parallel. A kept
    connection idle for longer than ``KEEP_IDLE_SECONDS`` is closed (relays drop idle clients after a minute or
    more), and one that fails its liveness check is replaced before the message is claimed."""
    fresh = backend_get(alias)
    key = fresh.reuse_key()
    kept: tuple[BaseEmailBackend, float] | None = _kept.__dict__.get(alias)
    now = time.monotonic()
    if kept is not None:
        backend, last_used = kept
        if key is not None and backend.reuse_key() == key and now - last_used < KEEP_IDLE_SECONDS \
                and backend.alive():
            _kept.__dict__[alias] = (backend, now)
            return backend
        backend.close()
        _kept.__dict__.pop(alias, None)
    if key is not None:
        _kept.__dict__[alias] = (fresh, now)
    return fresh


def _send_sms(message: Message, delivery: DeliverySettings) -> str:
    if delivery.sms_backend == SmsBackendChoice.NONE:
        return _claim_and_finish(message, status=MessageStatus.FAILED,
                                 error="This workspace has no SMS provider configured.")
    try:
        body = compile_part(message.template_version.text, field="text", html=False).render(
            selectors.message_context(message=message), max_chars=1600).strip()
    except TemplateRenderError as exc:
        return _claim_and_finish(message, status=MessageStatus.FAILED, error=f"Rendering failed: {exc}")
    if not body or sms_segments(body) > MAX_SEGMENTS:
        return _claim_and_finish(message, status=MessageStatus.FAILED,
                                 error=f"The text is empty or longer than {MAX_SEGMENTS} SMS segments.")
    outgoing = OutgoingSms(message_id=message.pk, to=message.to_address, sender=delivery.sms_from, body=body,
                           status_callback=TWILIO_CALLBACK_URL.format(base=settings.KITH_BASE_URL)
                           if delivery.sms_backend == SmsBackendChoice.TWILIO else "")
    backend = sms_backend_get(delivery.sms_backend)
    if not _claim(message.pk):
        return Message.objects.values_list("status", flat=True).get(pk=message.pk)
    message.attempts += 1
    try:
        result = backend.send_many([outgoing])[0]
    finally:
        backend.close()
    return _record_result(message, result, subject="", provider=delivery.sms_backend)


def _record_result(message: Message, result: SendResult, *, subject: str, provider: str) -> str:
    if result.kind == ResultKind.SENT:
        sms = message.channel == Channel.SMS
        with transaction.atomic():
            _finish(message, status=MessageStatus.SENT, subject=subject[:998], provider=provider,
                    provider_message_id=result.provider_message_id[:255], sent_at=clock.now())
            if not message.is_test:  # a test went to the editing member, not to the contact it was rendered for
                activity_record(workspace=message.workspace,
                                kind=ActivityKind.SMS_SENT if sms else ActivityKind.EMAIL_SENT,
                                title=f"SMS sent to {message.to_address}" if sms else f"E-mail sent: {subject}"[:255],
                                contact=message.contact, data={"message_id": message.pk,
                                                               "source_type": message.source_type})
        return MessageStatus.SENT
    attempts = message.attempts  # counts this attempt (the claim incremented it)
    if result.kind == ResultKind.PERMANENT or attempts >= MAX_SEND_ATTEMPTS:
        _finish(message, status=MessageStatus.FAILED, error=result.error, subject=subject[:998], provider=provider)
        return MessageStatus.FAILED
    delay = max(result.retry_after or 0, BACKOFF_SECONDS[min(attempts, len(BACKOFF_SECONDS)) - 1])
    retry_at = clock.now() + dt.timedelta(seconds=delay)
    with transaction.atomic():
        Message.objects.filter(pk=message.pk, status=MessageStatus.SENDING).update(
            status=MessageStatus.DEFERRED, error=result.error[:2000], next_attempt_at=retry_at, subject=subject[:998],
            provider=provider)
        enqueue_on_commit(message_send_task, run_at=retry_at, message_id=message.pk)
    return MessageStatus.DEFERRED


@job(max_attempts=3)
def message_send_task(*, message_id: int) -> None:
    message_send(message_id=message_id)


def message_sending_sweep(*, now: dt.datetime) -> int:
    """Resolve rows left ``sending`` longer than ``SENDING_LEASE`` (their worker died mid-call) as failed with an
    "outcome unknown" error. They are not sent again: the provider may have accepted them (see module docstring)."""
    return Message.objects.filter(status=MessageStatus.SENDING, claimed_at__lt=now - SENDING_LEASE).update(
        status=MessageStatus.FAILED, finished_at=now,
        error="Outcome unknown: the worker stopped while handing the message to the provider. It may have been "
              "delivered; it is not sent again automatically.")


@job
def message_sending_sweep_task() -> None:
    message_sending_sweep(now=clock.now())
