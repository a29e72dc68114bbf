"""At most once across a real worker crash: a ``kith_worker`` process is SIGKILLed while the SMTP server holds the
message it has just accepted (the one crash window: provider accepted, ledger not yet updated). Neither a rerun of
the job by a new worker nor a direct retry sends it again."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiosmtpd.smtp import SMTP, Envelope, Session
from django.db import transaction

from kith.contacts.services import contact_create
from kith.core import clock
from kith.core.jobs.models import Job
from kith.core.tests.jobs_processes import Workers, wait_for
from kith.messaging.mailsink import SinkHandler, mailsink_start
from kith.messaging.models import Message, MessageStatus, SourceType
from kith.messaging.services import message_queue, message_send, message_send_task
from kith.messaging.tests.factories import template_make

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


class StallingSink(SinkHandler):
    """Stores the message, then keeps the client waiting for the reply to DATA."""

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        reply = await super().handle_DATA(server, session, envelope)
        await asyncio.sleep(60)
        return reply


class SmtpWorkers(Workers):
    """Worker processes that send through the SMTP sink of this test."""

    smtp_env: dict[str, str] = {}  # noqa: RUF012 — set per test before a worker starts

    def _env(self, **extra: str) -> dict[str, str]:
        return super()._env(**self.smtp_env, **extra)


@pytest.fixture
def workers(tmp_path: Path) -> Iterator[SmtpWorkers]:
    group = SmtpWorkers(tmp_path=tmp_path)
    try:
        yield group
    finally:
        group.stop_all()


def test_a_worker_killed_after_the_provider_accepted_never_sends_twice(personas, settings, tmp_path, workers):
    settings.KITH_JOBS_RUNNER = "embedded"
    sink = mailsink_start(directory=tmp_path / "sink", port=0, handler_class=StallingSink)
    try:
        contact = contact_create(workspace=personas.acme, actor=personas.alice, data={"email": "ada@example.com"})
        template = template_make(workspace=personas.acme)
        with transaction.atomic():
            message = message_queue(workspace=personas.acme, template=template, contact=contact,
                                    source_type=SourceType.CAMPAIGN, source_id="spring")
        workers.smtp_env = {"KITH_MESSAGING_EMAIL_BACKEND": "smtp", "KITH_SMTP_HOST": "127.0.0.1",
                            "KITH_SMTP_PORT": str(sink.port), "KITH_SMTP_STARTTLS": "false", "KITH_SMTP_TLS": "false"}

        # given a worker that sent the message and waits for the server's answer
        first, log = workers.start_embedded()
        wait_for(lambda: len(sink.messages()) == 1, timeout=30, what="the sink to receive the message", log=log)
        # when it is killed before it can record the answer
        workers.kill(first)
        assert Message.objects.get(pk=message.pk).status == MessageStatus.SENDING

        # then a direct retry sends nothing …
        assert message_send(message_id=message.pk) == MessageStatus.SENDING
        # … and neither does a new worker that takes the job over once its lease expired
        Job.objects.filter(name=message_send_task.name).update(lease_until=clock.now() - dt.timedelta(seconds=1))
        _, log2 = workers.start_embedded()
        wait_for(lambda: Job.objects.get(name=message_send_task.name).status == Job.Status.DONE, timeout=30,
                 what="the second worker to finish the job", log=log2)
        assert len(sink.messages()) == 1
        assert Message.objects.get(pk=message.pk).status == MessageStatus.SENDING
    finally:
        sink.stop()

