"""Provider events after the send: what a provider tells us about a message it accepted.

Every source — anymail's tracking webhooks (SES, SendGrid, Mailgun, Postmark), Twilio status callbacks and DSNs
from the SMTP bounce mailbox — is normalized into a ``ProviderEvent`` and recorded by ``message_event_record``:

- the ledger row moves forward (sent → deferred → delivered → bounced/complained; never back, and a
  complaint is final), with ``delivered_at``/``opened_at``/``clicked_at``/``event_at``;
- hard bounces and complaints put the address on the workspace's suppression list, which every later send checks
  (marketing and transactional alike);
- delivered, bounced and complained write a timeline entry on the contact.

Providers deliver events at least once and out of order: a repeated or late event changes nothing, because every
status write is a conditional UPDATE from the statuses the event may follow.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from django.db import transaction

from kith.core import clock
from kith.messaging.models import Channel, Message, MessageStatus, SuppressionReason
from kith.messaging.services import message_unsubscribe, suppression_add
from kith.timeline.models import ActivityKind
from kith.timeline.services import activity_record

logger = logging.getLogger("kith.messaging")


class EventKind:
    DELIVERED = "delivered"
    DEFERRED = "deferred"
    BOUNCED = "bounced"
    COMPLAINED = "complained"
    FAILED = "failed"
    OPENED = "opened"
    CLICKED = "clicked"
    UNSUBSCRIBED = "unsubscribed"


# Which statuses an event may move a message from. Sending is absent: its provider id is not recorded yet.
_FROM: dict[str, tuple[str, ...]] = {
    EventKind.DEFERRED: (MessageStatus.SENT,),
    EventKind.DELIVERED: (MessageStatus.SENT, MessageStatus.DEFERRED),
    EventKind.BOUNCED: (MessageStatus.SENT, MessageStatus.DEFERRED, MessageStatus.DELIVERED),
    EventKind.FAILED: (MessageStatus.SENT, MessageStatus.DEFERRED),
    EventKind.COMPLAINED: (MessageStatus.SENT, MessageStatus.DEFERRED, MessageStatus.DELIVERED,
                           MessageStatus.BOUNCED),
}
_STATUS = {EventKind.DEFERRED: MessageStatus.DEFERRED, EventKind.DELIVERED: MessageStatus.DELIVERED,
           EventKind.BOUNCED: MessageStatus.BOUNCED, EventKind.FAILED: MessageStatus.FAILED,
           EventKind.COMPLAINED: MessageStatus.COMPLAINED}
_TIMELINE = {EventKind.DELIVERED: (ActivityKind.EMAIL_DELIVERED, "delivered"),
             EventKind.BOUNCED: (ActivityKind.EMAIL_BOUNCED, "bounced"),
             EventKind.COMPLAINED: (ActivityKind.EMAIL_BOUNCED, "marked as spam")}


@dataclass(frozen=True)
class ProviderEvent:
    kind: str
    provider: str  # backend alias: ses, sendgrid, mailgun, postmark, smtp, twilio, http
    provider_message_id: str = ""
    message_id: int | None = None  # our own id, when the event carries it (a VERP bounce)
    hard: bool = True  # for bounces: the address itself is bad, so it is suppressed
    description: str = ""
    occurred_at: dt.datetime | None = None


def _find(event: ProviderEvent) -> Message | None:
    queryset = Message.objects.select_related("workspace", "contact")
    if event.message_id is not None:
        return queryset.filter(pk=event.message_id).first()
    if not event.provider_message_id:
        return None
    return queryset.filter(provider=event.provider, provider_message_id=event.provider_message_id).first()


def message_event_record(*, event: ProviderEvent) -> Message | None:
    """Apply one provider event; the message it concerned, or None when no message matches (logged, not raised:
    providers also report mail Kith did not send, such as a test message from their dashboard)."""
    message = _find(event)
    if message is None:
        logger.info("provider event for an unknown message", extra={"provider": event.provider,
                                                                    "provider_message_id": event.provider_message_id})
        return None
    now = clock.now()
    at = event.occurred_at or now
    with transaction.atomic():
        if event.kind == EventKind.OPENED:
            Message.objects.filter(pk=message.pk, opened_at__isnull=True).update(opened_at=at, event_at=now)
        elif event.kind == EventKind.CLICKED:
            Message.objects.filter(pk=message.pk, clicked_at__isnull=True).update(clicked_at=at, event_at=now)
        elif event.kind == EventKind.UNSUBSCRIBED:
            message_unsubscribe(message=message)
        elif event.kind in _FROM:
            _transition(message, event, at=at, now=now)
    message.refresh_from_db()
    return message


def _transition(message: Message, event: ProviderEvent, *, at: dt.datetime, now: dt.datetime) -> None:
    fields: dict[str, object] = {"status": _STATUS[event.kind], "event_at": now}
    if event.kind == EventKind.DELIVERED:
        fields["delivered_at"] = at
    if event.kind in (EventKind.BOUNCED, EventKind.FAILED, EventKind.COMPLAINED, EventKind.DEFERRED):
        fields["error"] = event.description[:2000]
    moved = Message.objects.filter(pk=message.pk, status__in=_FROM[event.kind]).update(**fields)
    # Suppression does not depend on the move: a complaint about a message already marked bounced still counts.
    if event.kind == EventKind.COMPLAINED:
        suppression_add(workspace=message.workspace, address=message.to_address, reason=SuppressionReason.COMPLAINT)
    elif event.kind == EventKind.BOUNCED and event.hard:
        suppression_add(workspace=message.workspace, address=message.to_address,
                        reason=SuppressionReason.HARD_BOUNCE)
    if moved and event.kind in _TIMELINE:
        kind, verb = _TIMELINE[event.kind]
        noun = "SMS" if message.channel == Channel.SMS else "E-mail"
        subject = f": {message.subject}" if message.subject else ""
        activity_record(workspace=message.workspace, kind=kind, title=f"{noun} {verb}{subject}"[:255],
                        contact=message.contact, occurred_at=at,
                        data={"message_id": message.pk, "provider": event.provider, "event": event.kind,
                              "description": event.description[:500]})
