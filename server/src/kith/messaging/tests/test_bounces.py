"""SMTP bounces end to end: a message leaves through the real SMTP sink with a VERP return path, the remote MTA's
RFC 3464 DSN lands in the bounce Maildir, and ``manage.py kith_bounces`` records it and suppresses the address.
Also the sweeper that resolves rows stuck in ``sending``."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.smtp import SMTP, Envelope, Session
from django.core.management import call_command

from kith.contacts.models import Contact
from kith.contacts.services import contact_create
from kith.core import clock
from kith.messaging.bounces import bounce_mailbox_process, dsn_parse
from kith.messaging.mailsink import SinkHandler, mailsink_start
from kith.messaging.models import (
    DeliverySettings,
    Message,
    MessageStatus,
    SourceType,
    Suppression,
    SuppressionReason,
)
from kith.messaging.sending import SENDING_LEASE, message_send, message_sending_sweep
from kith.messaging.services import message_queue
from kith.messaging.tests.factories import template_make
from kith.messaging.verp import verp_address, verp_message_id

pytestmark = pytest.mark.django_db

DSN = """Return-Path: <>
Delivered-To: {return_path}
Received: by mx.acme.test (Postfix) id 4Bx2; Sun, 22 Nov 2026 03:10:00 +0000 (UTC)
Date: Sun, 22 Nov 2026 03:10:00 +0000 (UTC)
From: MAILER-DAEMON@mx.example.com (Mail Delivery System)
Subject: Undelivered Mail Returned to Sender
To: {return_path}
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status;
\tboundary="4Bx2.1795000000/mx.example.com"
Message-Id: <20261122031000.4Bx2@mx.example.com>

This is a MIME-encapsulated message.

--4Bx2.1795000000/mx.example.com
Content-Description: Notification
Content-Type: text/plain; charset=us-ascii

I'm sorry to have to inform you that your message could not
be delivered to one or more recipients.

<ada@example.com>: host mail.example.com[203.0.113.5] said: 550 5.1.1
    <ada@example.com>: Recipient address rejected: User unknown

--4Bx2.1795000000/mx.example.com
Content-Description: Delivery report
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.com
X-Postfix-Queue-ID: 4Bx2
X-Postfix-Sender: rfc822; {return_path}
Arrival-Date: Sun, 22 Nov 2026 03:09:58 +0000 (UTC)

Final-Recipient: rfc822; ada@example.com
Original-Recipient: rfc822;ada@example.com
Action: {action}
Status: {status}
Remote-MTA: dns; mail.example.com
Diagnostic-Code: smtp; 550 5.1.1 <ada@example.com>: Recipient address rejected:
    User unknown

--4Bx2.1795000000/mx.example.com
Content-Description: Undelivered Message Headers
Content-Type: text/rfc822-headers

Return-Path: <{return_path}>
From: Acme Team <team@acme.test>
To: ada@example.com
Subject: Welcome, friend

--4Bx2.1795000000/mx.example.com--
"""


class EnvelopeSink(SinkHandler):
    """The sink, remembering each envelope sender (the return path bounces go to)."""

    senders: list[str] = []  # noqa: RUF012 — reset per test

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        EnvelopeSink.senders.append(str(envelope.mail_from))
        return await super().handle_DATA(server, session, envelope)


@pytest.fixture
def smtp_workspace(personas: Any, settings: Any, tmp_path: Path) -> Iterator[Any]:
    sink = mailsink_start(directory=tmp_path / "sink", port=0, handler_class=EnvelopeSink)
    EnvelopeSink.senders = []
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", sink.port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = ""
    settings.KITH_BOUNCE_DOMAIN = "bounces.acme.test"
    DeliverySettings.objects.create(workspace=personas.acme, email_backend="smtp")
    yield personas
    sink.stop()


def _queue(personas: Any, source_id: str) -> Message:
    contact = Contact.objects.filter(workspace=personas.acme, email="ada@example.com").first() \
        or contact_create(workspace=personas.acme, actor=None, data={"email": "ada@example.com"})
    return message_queue(workspace=personas.acme, template=template_make(workspace=personas.acme, name=source_id),
                         contact=contact, source_type=SourceType.CAMPAIGN, source_id=source_id)


def _deliver_dsn(maildir: Path, return_path: str, *, action: str = "failed", status: str = "5.1.1") -> None:
    (maildir / "new").mkdir(parents=True, exist_ok=True)
    raw = DSN.format(return_path=return_path, action=action, status=status).replace("\n", "\r\n")
    (maildir / "new" / "1795000000.V1I2.mx").write_bytes(raw.encode())


def test_a_dsn_to_the_verp_return_path_bounces_the_message_and_suppresses_the_address(smtp_workspace, tmp_path):
    personas = smtp_workspace
    message = _queue(personas, "spring")
    assert message_send(message_id=message.pk) == MessageStatus.SENT
    [return_path] = EnvelopeSink.senders
    assert return_path.startswith(f"bounce+{message.pk}.") and return_path.endswith("@bounces.acme.test")

    maildir = tmp_path / "bounces"
    _deliver_dsn(maildir, return_path)
    call_command("kith_bounces", maildir=str(maildir))

    message.refresh_from_db()
    assert message.status == MessageStatus.BOUNCED and "5.1.1" in message.error
    assert Suppression.objects.get(workspace=personas.acme, address="ada@example.com").reason == \
        SuppressionReason.HARD_BOUNCE
    assert list((maildir / "new").iterdir()) == [] and len(list((maildir / "cur").iterdir())) == 1
    # and the next campaign to that address is not sent
    later = _queue(personas, "summer")
    assert message_send(message_id=later.pk) == MessageStatus.SUPPRESSED
    assert len(EnvelopeSink.senders) == 1


def test_a_delayed_dsn_defers_without_suppressing(smtp_workspace, tmp_path):
    message = _queue(smtp_workspace, "spring")
    message_send(message_id=message.pk)
    maildir = tmp_path / "bounces"
    _deliver_dsn(maildir, EnvelopeSink.senders[0], action="delayed", status="4.4.1")
    bounce_mailbox_process(maildir=maildir)
    message.refresh_from_db()
    assert message.status == MessageStatus.DEFERRED and not Suppression.objects.exists()


def test_a_policy_rejection_bounces_without_suppressing_the_address(smtp_workspace, tmp_path):
    message = _queue(smtp_workspace, "spring")
    message_send(message_id=message.pk)
    maildir = tmp_path / "bounces"
    _deliver_dsn(maildir, EnvelopeSink.senders[0], status="5.7.1")
    bounce_mailbox_process(maildir=maildir)
    message.refresh_from_db()
    assert message.status == MessageStatus.BOUNCED and not Suppression.objects.exists()


def test_a_forged_verp_address_is_set_aside_and_changes_nothing(smtp_workspace, tmp_path):
    message = _queue(smtp_workspace, "spring")
    message_send(message_id=message.pk)
    maildir = tmp_path / "bounces"
    _deliver_dsn(maildir, f"bounce+{message.pk}.0123456789abcdef@bounces.acme.test")
    report = bounce_mailbox_process(maildir=maildir)
    assert report.junk == 1 and report.processed == 0
    message.refresh_from_db()
    assert message.status == MessageStatus.SENT and not Suppression.objects.exists()


def test_verp_tokens_survive_lower_casing_and_reject_other_ids():
    address = verp_address(message_id=42, domain="b.test")
    assert verp_message_id(address.upper().replace("BOUNCE", "bounce")) == 42
    assert verp_message_id(address.replace("+42.", "+43.")) is None


def test_a_message_that_is_not_a_dsn_is_not_parsed():
    assert dsn_parse(b"From: a@b\r\nTo: c@d\r\nSubject: hi\r\n\r\nhello\r\n") is None


def test_the_sweeper_resolves_rows_stuck_in_sending_without_resending(personas, settings):
    settings.KITH_MESSAGING_EMAIL_BACKEND = "memory"
    contact = contact_create(workspace=personas.acme, actor=None, data={"email": "ada@example.com"})
    message = message_queue(workspace=personas.acme, template=template_make(workspace=personas.acme),
                            contact=contact, source_type=SourceType.CAMPAIGN, source_id="spring")
    fresh = clock.now()
    Message.objects.filter(pk=message.pk).update(status=MessageStatus.SENDING, claimed_at=fresh)
    assert message_sending_sweep(now=fresh + SENDING_LEASE - dt.timedelta(seconds=1)) == 0
    assert message_sending_sweep(now=fresh + SENDING_LEASE + dt.timedelta(seconds=1)) == 1
    message.refresh_from_db()
    assert message.status == MessageStatus.FAILED and message.error.startswith("Outcome unknown")
    assert message_send(message_id=message.pk) == MessageStatus.FAILED
