"""One contract, every backend: ``BackendContract`` runs against each e-mail backend Kith ships.

A backend class under test provides ``backend`` (an open instance) and ``delivered()`` (the wire bytes the far
side received, oldest first). The development sinks refuse ``reject…`` addresses permanently and ``defer…``
transiently, which is how the contract exercises both failure kinds without a real provider.
"""

from __future__ import annotations

import email
import email.policy
from collections.abc import Iterator
from pathlib import Path

import pytest

from kith.messaging import mime
from kith.messaging.backends import (
    BACKENDS,
    BaseEmailBackend,
    OutgoingEmail,
    ResultKind,
    memory,
)
from kith.messaging.backends.smtp import SmtpBackend
from kith.messaging.mailsink import MailSink, mailsink_start


def _outgoing(message_id: int, recipient: str) -> OutgoingEmail:
    skeleton = mime.skeleton_build(from_name="Acme", from_email="team@acme.test")
    wire = mime.message_bytes(skeleton, to=recipient, subject=f"Message {message_id} — ünïcode",
                              message_id=f"<{message_id}@acme.test>", date="Sun, 22 Nov 2026 01:00:00 GMT",
                              text=f"Body {message_id}\n.\n.leading dot", html=f"<p>Body {message_id}</p>")
    return OutgoingEmail(message_id=message_id, envelope_from="team@acme.test", recipients=(recipient,), wire=wire)


class BackendContract:
    backend: BaseEmailBackend

    def delivered(self) -> list[bytes]:
        raise AssertionError("backend test classes define delivered()")

    def test_each_message_is_delivered_intact_with_a_provider_id(self):
        batch = [_outgoing(1, "a@example.com"), _outgoing(2, "b@example.com")]
        results = self.backend.send_many(batch)
        assert [r.kind for r in results] == [ResultKind.SENT, ResultKind.SENT]
        assert all(r.provider_message_id for r in results)
        assert len({r.provider_message_id for r in results}) == 2
        received = [email.message_from_bytes(raw, policy=email.policy.default) for raw in self.delivered()]
        assert [m["Message-ID"] for m in received] == ["<1@acme.test>", "<2@acme.test>"]
        assert received[0]["Subject"] == "Message 1 — ünïcode"
        text = received[0].get_body(("plain",)).get_content().replace("\r\n", "\n")
        assert text == "Body 1\n.\n.leading dot\n"  # dot-stuffing undone by the far side

    def test_a_permanent_refusal_is_reported_per_message_and_the_rest_still_go(self):
        results = self.backend.send_many([_outgoing(1, "reject@example.com"), _outgoing(2, "ok@example.com")])
        assert results[0].kind == ResultKind.PERMANENT and results[0].error.startswith("550")
        assert results[1].kind == ResultKind.SENT
        assert len(self.delivered()) == 1

    def test_a_temporary_refusal_is_reported_as_transient(self):
        [result] = self.backend.send_many([_outgoing(1, "defer@example.com")])
        assert result.kind == ResultKind.TRANSIENT and result.error.startswith("451")
        assert self.delivered() == []

    def test_the_backend_is_registered_under_its_alias(self):
        assert BACKENDS[self.backend.alias] is type(self.backend)


class TestMemoryBackend(BackendContract):
    @pytest.fixture(autouse=True)
    def _backend(self) -> Iterator[None]:
        memory.outbox.clear()
        with memory.MemoryBackend() as backend:
            self.backend = backend
            yield
        memory.outbox.clear()

    def delivered(self) -> list[bytes]:
        return [message.wire for message in memory.outbox]


class TestSmtpBackend(BackendContract):
    @pytest.fixture(autouse=True)
    def _backend(self, tmp_path: Path) -> Iterator[None]:
        self.sink: MailSink = mailsink_start(directory=tmp_path / "sink", port=0)
        try:
            with SmtpBackend(host="127.0.0.1", port=self.sink.port, username="", password="", starttls=False,
                             tls=False) as backend:
                self.backend = backend
                yield
        finally:
            self.sink.stop()

    def delivered(self) -> list[bytes]:
        return self.sink.messages()

    def test_one_connection_serves_a_whole_batch(self):
        connection = self.backend.connection
        self.backend.send_many([_outgoing(n, f"r{n}@example.com") for n in range(5)])
        assert self.backend.connection is connection and connection is not None

    def test_a_dead_server_is_a_transient_failure_not_an_exception(self):
        self.backend.close()
        self.sink.stop()
        [result] = self.backend.send_many([_outgoing(1, "a@example.com")])
        assert result.kind == ResultKind.TRANSIENT
        self.sink = mailsink_start(directory=self.sink.directory, port=0)  # for the fixture's stop()
