"""SMTP delivery with connection reuse: one connection serves every ``send_many`` between ``open`` and ``close``.

Configured from the environment (``KITH_SMTP_HOST``, ``KITH_SMTP_PORT``, ``KITH_SMTP_USER``,
``KITH_SMTP_PASSWORD``, ``KITH_SMTP_STARTTLS``, ``KITH_SMTP_TLS``), and DKIM-signed when ``KITH_DKIM_*`` is set
(see ``dkim.py``). Replies map onto the contract: 2xx sent, 4xx and connection trouble transient, 5xx permanent. The provider id is the server's reply to DATA (it names the
queue id, e.g. ``2.0.0 Ok: queued as 4Bx…``), which is what a postmaster greps their logs for.
"""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Sequence

from django.conf import settings

from kith.messaging.backends.base import (
    BaseEmailBackend,
    OutgoingEmail,
    ResultKind,
    SendResult,
)
from kith.messaging.backends.dkim import DkimSigner, dkim_signer_from_settings

# Long enough for a slow relay under load, short enough that a dead one does not hold a worker for minutes.
TIMEOUT_SECONDS = 30


class SmtpBackend(BaseEmailBackend):
    alias = "smtp"

    def __init__(self, *, host: str | None = None, port: int | None = None, username: str | None = None,
                 password: str | None = None, starttls: bool | None = None, tls: bool | None = None,
                 dkim: DkimSigner | None = None) -> None:
        self.host = host if host is not None else settings.EMAIL_HOST
        self.port = port if port is not None else settings.EMAIL_PORT
        self.username = username if username is not None else settings.EMAIL_HOST_USER
        self.password = password if password is not None else settings.EMAIL_HOST_PASSWORD
        self.starttls = starttls if starttls is not None else settings.EMAIL_USE_TLS
        self.tls = tls if tls is not None else settings.EMAIL_USE_SSL
        self.dkim = dkim if dkim is not None else dkim_signer_from_settings()
        self.connection: smtplib.SMTP | None = None

    def reuse_key(self) -> tuple[object, ...] | None:
        return (self.alias, self.host, self.port, self.username, self.starttls, self.tls, self.dkim)

    def alive(self) -> bool:
        """NOOP on the kept connection; a server that dropped it while idle answers with an error or not at all."""
        if self.connection is None:
            return True
        try:
            return self.connection.noop()[0] == 250
        except (smtplib.SMTPException, OSError):
            self.close()
            return False

    def open(self) -> None:
        if self.connection is not None:
            return
        context = ssl.create_default_context()
        if self.tls:
            connection: smtplib.SMTP = smtplib.SMTP_SSL(self.host, self.port, timeout=TIMEOUT_SECONDS,
                                                         context=context)
        else:
            connection = smtplib.SMTP(self.host, self.port, timeout=TIMEOUT_SECONDS)
        try:
            connection.ehlo()
            if self.starttls:
                connection.starttls(context=context)
                connection.ehlo()
            if self.username:
                connection.login(self.username, self.password)
        except BaseException:
            connection.close()
            raise
        self.connection = connection

    def close(self) -> None:
        connection, self.connection = self.connection, None
        if connection is None:
            return
        try:
            connection.quit()
        except (smtplib.SMTPException, OSError):
            connection.close()  # the server went away first; nothing left to say to it

    def send_many(self, messages: Sequence[OutgoingEmail]) -> list[SendResult]:
        return [self._send_one(message) for message in messages]

    def _send_one(self, message: OutgoingEmail) -> SendResult:
        try:
            if self.connection is None:
                self.open()
            assert self.connection is not None
            return self._transaction(self.connection, message)
        except smtplib.SMTPServerDisconnected as exc:
            # A reused connection may have been closed by the server while idle: drop it, the next message opens a
            # new one. This message was not accepted, so it is safe to retry.
            self.connection = None
            return SendResult(kind=ResultKind.TRANSIENT, error=f"SMTP server disconnected: {exc}")
        except smtplib.SMTPResponseException as exc:
            self.close()
            return _from_reply(exc.smtp_code, exc.smtp_error)
        except (smtplib.SMTPException, OSError) as exc:
            self.close()
            return SendResult(kind=ResultKind.TRANSIENT, error=f"SMTP error: {exc}")

    def _transaction(self, connection: smtplib.SMTP, message: OutgoingEmail) -> SendResult:
        code, reply = connection.mail(message.envelope_from)
        if code != 250:
            connection.rset()
            return _from_reply(code, reply)
        accepted = 0
        last: tuple[int, bytes] = (0, b"")
        for recipient in message.recipients:
            code, reply = connection.rcpt(recipient)
            if code in (250, 251):
                accepted += 1
            else:
                last = (code, reply)
        if not accepted:
            connection.rset()
            return _from_reply(*last)
        code, reply = connection.data(self.dkim.sign(message.wire) if self.dkim is not None else message.wire)
        if code != 250:
            return _from_reply(code, reply)
        return SendResult(kind=ResultKind.SENT, provider_message_id=reply.decode(errors="replace")[:255])


def _from_reply(code: int, reply: bytes | str) -> SendResult:
    text = reply.decode(errors="replace") if isinstance(reply, bytes) else str(reply)
    kind = ResultKind.PERMANENT if 500 <= code < 600 else ResultKind.TRANSIENT
    return SendResult(kind=kind, error=f"{code} {text}"[:1000])
