"""An in-process outbox: messages are kept in ``outbox`` (for tests and for a console-less development setup).

Like the development SMTP sink, it honours two test addresses so bounce handling can be exercised without a
provider: a recipient whose local part starts with ``reject`` is refused permanently, ``defer`` transiently.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

from kith.messaging.backends.base import (
    BaseEmailBackend,
    OutgoingEmail,
    ResultKind,
    SendResult,
)

outbox: list[OutgoingEmail] = []
_lock = threading.Lock()


def test_address_result(recipient: str) -> SendResult | None:
    """The outcome a development sink gives the ``reject…``/``defer…`` test addresses, None for any other."""
    local = recipient.partition("@")[0].lower()
    if local.startswith("reject"):
        return SendResult(kind=ResultKind.PERMANENT, error="550 5.1.1 Recipient rejected (test address)")
    if local.startswith("defer"):
        return SendResult(kind=ResultKind.TRANSIENT, error="451 4.3.0 Try again later (test address)")
    return None


class MemoryBackend(BaseEmailBackend):
    alias = "memory"

    def send_many(self, messages: Sequence[OutgoingEmail]) -> list[SendResult]:
        results = []
        for message in messages:
            refused = next(filter(None, map(test_address_result, message.recipients)), None)
            if refused is not None:
                results.append(refused)
                continue
            with _lock:
                outbox.append(message)
                number = len(outbox)
            results.append(SendResult(kind=ResultKind.SENT, provider_message_id=f"memory-{number}"))
        return results
