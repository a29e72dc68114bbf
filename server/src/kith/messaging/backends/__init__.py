"""E-mail delivery backends: one contract, several implementations.

A backend takes finished wire bytes (built by ``kith.messaging.preparation``) and hands them to a provider. It
reports one ``SendResult`` per message, in order, and never raises for a per-message failure:

- ``SENT`` with the provider's id for the message;
- ``TRANSIENT`` for anything worth retrying later (4xx, 429, connection trouble); ``retry_after`` when the provider
  said how long to wait;
- ``PERMANENT`` for a refusal that will not change (5xx): the ledger records it and does not retry.

Subclasses implement ``send_many`` and, when they hold a connection, ``open``/``close`` (the sender keeps one
backend open across a batch, so connections are reused). ``send_many`` opens the connection itself when it is not
open yet, and reports a connection that cannot be made as ``TRANSIENT`` results rather than raising: the ledger row
is already claimed, and an exception would leave it ``sending`` although nothing left. ``tests/test_backends.py`` holds the contract test mixin
every backend runs.

``KITH_MESSAGING_EMAIL_BACKEND`` picks the backend by alias (``backend_get``); no dotted-path class loading.
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
from kith.messaging.backends.memory import MemoryBackend
from kith.messaging.backends.smtp import SmtpBackend

BACKENDS: dict[str, type[BaseEmailBackend]] = {"smtp": SmtpBackend, "memory": MemoryBackend}

__all__ = ["BACKENDS", "BaseEmailBackend", "OutgoingEmail", "ResultKind", "SendResult", "backend_get"]


def backend_get() -> BaseEmailBackend:
    """A new instance of the configured backend (``settings.KITH_MESSAGING_EMAIL_BACKEND``)."""
    alias = settings.KITH_MESSAGING_EMAIL_BACKEND
    if alias not in BACKENDS:
        raise ImproperlyConfigured(
            f"KITH_MESSAGING_EMAIL_BACKEND must be one of {', '.join(sorted(BACKENDS))}, got {alias!r}.")
    return BACKENDS[alias]()
