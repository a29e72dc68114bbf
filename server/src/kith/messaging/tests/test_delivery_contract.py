"""One delivery contract, every backend: ``DeliveryContract`` runs the ledger's guarantees through each provider.

SMTP talks to the real local sink, the ESPs (through anymail) and the SMS providers to local stand-ins of their
HTTP APIs (``standins``). Each class sets the workspace's delivery settings to its backend, points the backend at
its far side and says what the far side received. Recipients pick the outcome: ``reject…`` (``…0001``) is refused
permanently, ``defer…`` (``…0429``) throttled.
"""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kith.contacts.services import contact_create
from kith.core import clock
from kith.messaging import sending
from kith.messaging.backends import memory
from kith.messaging.backends.sink import SinkBackend
from kith.messaging.mailsink import SinkHandler, mailsink_start
from kith.messaging.models import (
    Channel,
    DeliverySettings,
    Message,
    MessageStatus,
    SourceType,
)
from kith.messaging.sending import MAX_SEND_ATTEMPTS, message_send
from kith.messaging.services import message_queue, template_create
from kith.messaging.tests.factories import template_make
from kith.messaging.tests.standins import StandIn, standin_start

pytestmark = pytest.mark.django_db


class DeliveryContract:
    channel = Channel.EMAIL
    ok, reject, throttle = "ada@example.com", "reject@example.com", "defer@example.com"

    def delivered(self) -> list[str]:
        """The recipients the far side accepted, oldest first."""
        raise AssertionError("contract classes define delivered()")

    def attempts_seen(self) -> int:
        """How many send attempts reached the far side (accepted or not)."""
        raise AssertionError("contract classes define attempts_seen()")

    @pytest.fixture(autouse=True)
    def _workspace(self, personas: Any) -> None:
        self.personas = personas
        if self.channel == Channel.SMS:
            self.template = template_create(workspace=personas.acme, actor=None, name="Text", channel=Channel.SMS,
                                            content={"text": "Hi {{ contact.first_name | default('there') }}!"})
        else:
            self.template = template_make(workspace=personas.acme)

    def queue(self, address: str, source_id: str = "spring") -> Message:
        data = {"phone": address, "sms_consent": "opted_in"} if self.channel == Channel.SMS else {"email": address}
        contact = contact_create(workspace=self.personas.acme, actor=None, data={"first_name": "Ada", **data})
        return message_queue(workspace=self.personas.acme, template=self.template, contact=contact,
                             source_type=SourceType.CAMPAIGN, source_id=source_id)

    def test_a_message_is_sent_and_the_provider_id_recorded(self):
        message = self.queue(self.ok)
        assert message_send(message_id=message.pk) == MessageStatus.SENT
        message.refresh_from_db()
        assert message.provider_message_id and message.sent_at is not None
        assert message.provider == self.alias  # type: ignore[attr-defined]
        assert self.delivered() == [self.ok]

    def test_throttling_backs_off_and_gives_up_after_a_bounded_number_of_tries(self):
        message = self.queue(self.throttle)
        before = clock.now()
        assert message_send(message_id=message.pk) == MessageStatus.DEFERRED
        message.refresh_from_db()
        assert message.next_attempt_at is not None and message.next_attempt_at >= before + dt.timedelta(seconds=60)
        # Not due yet: a doorbell rung early sends nothing.
        assert message_send(message_id=message.pk) == MessageStatus.DEFERRED
        assert self.attempts_seen() == 1
        for _ in range(MAX_SEND_ATTEMPTS * 2):
            Message.objects.filter(pk=message.pk).update(next_attempt_at=clock.now() - dt.timedelta(seconds=1))
            message_send(message_id=message.pk)
        message.refresh_from_db()
        assert message.status == MessageStatus.FAILED and message.attempts == MAX_SEND_ATTEMPTS
        assert self.attempts_seen() == MAX_SEND_ATTEMPTS
        assert self.delivered() == []

    def test_a_permanent_refusal_is_recorded_as_failed_and_not_retried(self):
        message = self.queue(self.reject)
        assert message_send(message_id=message.pk) == MessageStatus.FAILED
        message.refresh_from_db()
        assert message.error and message.attempts == 1 and message.next_attempt_at is None
        assert message_send(message_id=message.pk) == MessageStatus.FAILED
        assert self.attempts_seen() == 1 and self.delivered() == []

    def test_the_same_source_and_contact_is_sent_once_however_often_it_is_retried(self):
        message = self.queue(self.ok)
        again = message_queue(workspace=self.personas.acme, template=self.template, contact=message.contact,
                              source_type=SourceType.CAMPAIGN, source_id="spring")
        assert again.pk == message.pk
        for _ in range(3):
            message_send(message_id=message.pk)
        assert self.delivered() == [self.ok]


@pytest.fixture
def counted_calls() -> Iterator[list[int]]:
    """Counts the messages handed to in-process backends (they have no far side to ask)."""
    calls: list[int] = []
    originals = {cls: cls.send_many for cls in (memory.MemoryBackend, SinkBackend)}

    def counting(original: Any) -> Any:
        def send_many(backend: Any, messages: Any) -> Any:
            calls.append(len(messages))
            return original(backend, messages)
        return send_many

    for cls, original in originals.items():
        cls.send_many = counting(original)  # type: ignore[method-assign]
    yield calls
    for cls, original in originals.items():
        cls.send_many = original  # type: ignore[method-assign]


class TestMemory(DeliveryContract):
    alias = "memory"

    @pytest.fixture(autouse=True)
    def _backend(self, settings: Any, counted_calls: list[int]) -> Iterator[None]:
        settings.KITH_MESSAGING_EMAIL_BACKEND = "memory"
        memory.outbox.clear()
        self.calls = counted_calls
        yield
        memory.outbox.clear()

    def delivered(self) -> list[str]:
        return [message.recipients[0] for message in memory.outbox]

    def attempts_seen(self) -> int:
        return sum(self.calls)


class CountingSink(SinkHandler):
    """The sink, counting RCPT commands: one per attempt, accepted or refused."""

    rcpts = 0
    ehlos = 0

    async def handle_EHLO(self, server: Any, session: Any, envelope: Any, hostname: str,
                          responses: list[str]) -> list[str]:
        CountingSink.ehlos += 1
        session.host_name = hostname  # aiosmtpd leaves this to a handler that implements the EHLO hook
        return responses

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str,
                          rcpt_options: list[str]) -> str:
        CountingSink.rcpts += 1
        return await super().handle_RCPT(server, session, envelope, address, rcpt_options)


class TestSmtp(DeliveryContract):
    """The real local SMTP sink (aiosmtpd); the workspace chose ``smtp`` in its delivery settings."""

    alias = "smtp"

    @pytest.fixture(autouse=True)
    def _backend(self, settings: Any, tmp_path: Path, personas: Any) -> Iterator[None]:
        self.sink = mailsink_start(directory=tmp_path / "sink", port=0, handler_class=CountingSink)
        CountingSink.rcpts = CountingSink.ehlos = 0
        settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", self.sink.port
        settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
        settings.EMAIL_HOST_USER = ""
        DeliverySettings.objects.create(workspace=personas.acme, email_backend="smtp")
        yield
        self.sink.stop()

    def delivered(self) -> list[str]:
        return [str(email.message_from_bytes(raw, policy=email.policy.default)["To"]).split("<")[-1].strip(">")
                for raw in self.sink.messages()]

    def attempts_seen(self) -> int:
        return CountingSink.rcpts

    def test_consecutive_messages_reuse_one_connection(self):
        for n in range(3):
            assert message_send(message_id=self.queue(f"r{n}@example.com", source_id=f"s{n}").pk) == MessageStatus.SENT
        assert CountingSink.ehlos == 1 and len(self.delivered()) == 3

    def test_a_kept_connection_the_server_dropped_is_replaced_before_sending(self):
        message_send(message_id=self.queue("r1@example.com", source_id="s1").pk)
        backend, _ = sending._kept.__dict__["smtp"]
        backend.connection.sock.shutdown(socket.SHUT_RDWR)  # the connection died while idle
        assert message_send(message_id=self.queue("r2@example.com", source_id="s2").pk) == MessageStatus.SENT
        assert CountingSink.ehlos == 2 and len(self.delivered()) == 2


class TestSink(DeliveryContract):
    alias = "sink"

    @pytest.fixture(autouse=True)
    def _backend(self, settings: Any, tmp_path: Path, personas: Any, counted_calls: list[int]) -> None:
        settings.KITH_DATA_DIR = tmp_path
        DeliverySettings.objects.create(workspace=personas.acme, email_backend="sink")
        self.directory = tmp_path / "mailsink"
        self.calls = counted_calls

    def delivered(self) -> list[str]:
        files = sorted(self.directory.glob("*.eml")) if self.directory.exists() else []
        return [str(email.message_from_bytes(p.read_bytes(), policy=email.policy.default)["To"]).split("<")[-1]
                .strip(">") for p in files]

    def attempts_seen(self) -> int:
        return sum(self.calls)


class StandInContract(DeliveryContract):
    """Backends that talk HTTP to a stand-in of their vendor's API."""

    standin_name = ""

    def point_at(self, settings: Any, url: str) -> None:
        raise AssertionError("define point_at()")

    @pytest.fixture(autouse=True)
    def _backend(self, settings: Any, personas: Any) -> Iterator[None]:
        self.standin: StandIn = standin_start(self.standin_name)
        self.point_at(settings, self.standin.url)
        if self.channel == Channel.SMS:
            DeliverySettings.objects.create(workspace=personas.acme, sms_backend=self.alias, sms_from="+14155238886")
        else:
            DeliverySettings.objects.create(workspace=personas.acme, email_backend=self.alias)
        yield
        self.standin.stop()

    def delivered(self) -> list[str]:
        return [recipient for recipient, _ in self.standin.accepted]

    def attempts_seen(self) -> int:
        return len(self.standin.requests)


class TestSendGrid(StandInContract):
    alias = standin_name = "sendgrid"

    def point_at(self, settings: Any, url: str) -> None:
        settings.KITH_SENDGRID_API_KEY, settings.KITH_SENDGRID_API_URL = "SG.test-key", f"{url}/v3/"

    def test_the_message_keeps_its_unsubscribe_headers_and_parts(self):
        message = self.queue(self.ok)
        message_send(message_id=message.pk)
        [(_, payload)] = self.standin.accepted
        assert payload["headers"]["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert {c["type"] for c in payload["content"]} == {"text/plain", "text/html"}
        assert payload["subject"] == "Welcome, Ada"


class TestMailgun(StandInContract):
    alias = standin_name = "mailgun"

    def point_at(self, settings: Any, url: str) -> None:
        settings.KITH_MAILGUN_API_KEY, settings.KITH_MAILGUN_DOMAIN = "mg-test-key", "mg.acme.test"
        settings.KITH_MAILGUN_API_URL = f"{url}/v3"


class TestPostmark(StandInContract):
    alias = standin_name = "postmark"

    def point_at(self, settings: Any, url: str) -> None:
        settings.KITH_POSTMARK_SERVER_TOKEN, settings.KITH_POSTMARK_API_URL = "pm-test-token", f"{url}/"


class TestSes(StandInContract):
    alias = standin_name = "ses"

    def point_at(self, settings: Any, url: str) -> None:
        settings.KITH_SES_ACCESS_KEY_ID, settings.KITH_SES_SECRET_ACCESS_KEY = "AKIATESTKEY", "secret"
        settings.KITH_SES_ENDPOINT_URL, settings.KITH_SES_REGION = url, "eu-west-1"

    def test_ses_receives_the_raw_message_kith_built(self):
        message = self.queue(self.ok)
        message_send(message_id=message.pk)
        [(_, raw)] = self.standin.accepted
        parsed = email.message_from_bytes(raw, policy=email.policy.default)
        assert parsed["List-Unsubscribe"].strip().startswith("<http") and parsed["Subject"] == "Welcome, Ada"


class TestTwilio(StandInContract):
    alias = standin_name = "twilio"
    channel = Channel.SMS
    ok, reject, throttle = "+14155238800", "+14155230001", "+14155230429"

    def point_at(self, settings: Any, url: str) -> None:
        settings.KITH_TWILIO_ACCOUNT_SID, settings.KITH_TWILIO_AUTH_TOKEN = "ACtest", "twilio-token"
        settings.KITH_TWILIO_API_URL = url

    def test_the_text_is_rendered_and_asks_for_status_callbacks(self, settings):
        message = self.queue(self.ok)
        message_send(message_id=message.pk)
        [(_, fields)] = self.standin.accepted
        assert fields["Body"] == "Hi Ada!" and fields["From"] == "+14155238886"
        assert fields["StatusCallback"] == f"{settings.KITH_BASE_URL}/webhooks/sms/twilio/status/"


class TestHttpSms(StandInContract):
    alias = standin_name = "http"
    channel = Channel.SMS
    ok, reject, throttle = "+14155238800", "+14155230001", "+14155230429"

    def point_at(self, settings: Any, url: str) -> None:
        settings.KITH_SMS_HTTP_URL, settings.KITH_SMS_HTTP_AUTH_HEADER = f"{url}/sms", "Authorization: Bearer sms-test-key"

    def test_the_ledger_id_travels_as_idempotency_key(self):
        message = self.queue(self.ok)
        message_send(message_id=message.pk)
        assert self.standin.requests[0].headers["idempotency-key"] == f"kith-message-{message.pk}"


# --- real vendors: only with credentials ----------------------------------------------------------------------------

@pytest.mark.vendor
def test_sendgrid_accepts_a_message_with_real_credentials(personas, settings):
    key, to = os.environ.get("KITH_TEST_SENDGRID_API_KEY"), os.environ.get("KITH_TEST_SENDGRID_TO")
    if not (key and to):
        pytest.skip("set KITH_TEST_SENDGRID_API_KEY and KITH_TEST_SENDGRID_TO to run against SendGrid")
    settings.KITH_SENDGRID_API_KEY, settings.KITH_SENDGRID_API_URL = key, ""
    DeliverySettings.objects.create(workspace=personas.acme, email_backend="sendgrid")
    contact = contact_create(workspace=personas.acme, actor=None, data={"email": to})
    message = message_queue(workspace=personas.acme, template=template_make(workspace=personas.acme),
                            contact=contact, source_type=SourceType.TRANSACTIONAL)
    assert message_send(message_id=message.pk) == MessageStatus.SENT


@pytest.mark.parametrize(("channel", "alias"), [(Channel.EMAIL, "postmark"), (Channel.SMS, "twilio"),
                                                (Channel.SMS, "http")])
def test_a_provider_without_credentials_fails_the_message_at_once(personas, settings, channel, alias):
    settings.KITH_POSTMARK_SERVER_TOKEN = settings.KITH_TWILIO_AUTH_TOKEN = settings.KITH_SMS_HTTP_URL = ""
    if channel == Channel.SMS:
        DeliverySettings.objects.create(workspace=personas.acme, sms_backend=alias, sms_from="+14155238886")
        template = template_create(workspace=personas.acme, actor=None, name="T", channel=Channel.SMS,
                                   content={"text": "Hi"})
        contact = contact_create(workspace=personas.acme, actor=None, data={"phone": "+14155238800"})
    else:
        DeliverySettings.objects.create(workspace=personas.acme, email_backend=alias)
        template = template_make(workspace=personas.acme)
        contact = contact_create(workspace=personas.acme, actor=None, data={"email": "ada@example.com"})
    message = message_queue(workspace=personas.acme, template=template, contact=contact,
                            source_type=SourceType.TRANSACTIONAL)
    assert message_send(message_id=message.pk) == MessageStatus.FAILED
    message.refresh_from_db()
    assert "not configured" in message.error and message.attempts == 1
