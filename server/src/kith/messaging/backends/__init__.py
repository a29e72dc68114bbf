"""E-mail delivery backends: one contract, several implementations.

A backend takes finished wire bytes (built by ``kith.messaging.preparation``) and hands them to a provider. It
reports one ``SendResult`` per message, in order, and never raises for a per-message failure:

- ``SENT`` with the provider's id for the message;
- ``TRANSIENT`` for anything worth retrying later (SMTP 4xx; HTTP 429 and 5xx; connection trouble);
  ``retry_after`` when the provider said how long to wait;
- ``PERMANENT`` for a refusal that will not change (SMTP 5xx; HTTP 4xx other than 429, such as an invalid
  address; missing credentials): the ledger records it and does not retry.

Subclasses implement ``send_many`` and, when they hold a connection, ``open``/``close`` (the sender keeps one
backend open across a batch, so connections are reused). ``send_many`` opens the connection itself when it is not
open yet, and reports a connection that cannot be made as ``TRANSIENT`` results rather than raising: the ledger row
is already claimed, and an exception would leave it ``sending`` although nothing left. ``tests/test_backends.py`` checks the wire contract
of the e-mail backends; ``tests/test_delivery_contract.py`` runs the ledger contract against every backend.

Each workspace picks its backend per channel (``DeliverySettings``); ``KITH_MESSAGING_EMAIL_BACKEND`` is the
default for workspaces that did not choose. Backends are found by alias in ``BACKENDS`` / ``SMS_BACKENDS``; no
dotted-path class loading. SMS backends (``sms.py``) follow the same result contract with ``OutgoingSms``.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from kith.messaging.backends.base import (
    BaseEmailBackend,
    OutgoingEmail,
    ResultKind,
    SendResult,
)
from kith.messaging.backends.esp import (
    MailgunBackend,
    PostmarkBackend,
    SendGridBackend,
    SesBackend,
)
from kith.messaging.backends.memory import MemoryBackend
from kith.messaging.backends.sink import SinkBackend
from kith.messaging.backends.sms import (
    BaseSmsBackend,
    HttpSmsBackend,
    OutgoingSms,
    TwilioBackend,
)
from kith.messaging.backends.smtp import SmtpBackend

BACKENDS: dict[str, type[BaseEmailBackend]] = {
    "smtp": SmtpBackend, "memory": MemoryBackend, "sink": SinkBackend, "ses": SesBackend,
    "sendgrid": SendGridBackend, "mailgun": MailgunBackend, "postmark": PostmarkBackend,
}
SMS_BACKENDS: dict[str, type[BaseSmsBackend]] = {"twilio": TwilioBackend, "http": HttpSmsBackend}

__all__ = ["BACKENDS", "SMS_BACKENDS", "BaseEmailBackend", "BaseSmsBackend", "OutgoingEmail", "OutgoingSms",
           "ResultKind", "SendResult", "backend_get", "sms_backend_get"]


def backend_get(alias: str = "") -> BaseEmailBackend:
    """A new instance of the e-mail backend ``alias`` (default: ``settings.KITH_MESSAGING_EMAIL_BACKEND``)."""
    alias = alias or settings.KITH_MESSAGING_EMAIL_BACKEND
    if alias not in BACKENDS:
        raise ImproperlyConfigured(
            f"KITH_MESSAGING_EMAIL_BACKEND must be one of {', '.join(sorted(BACKENDS))}, got {alias!r}.")
    return BACKENDS[alias]()


def sms_backend_get(alias: str) -> BaseSmsBackend:
    if alias not in SMS_BACKENDS:
        raise ImproperlyConfigured(f"No SMS backend {alias!r}; use one of {', '.join(sorted(SMS_BACKENDS))}.")
    return SMS_BACKENDS[alias]()
