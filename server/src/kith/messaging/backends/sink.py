"""The development sink: each message is written as a ``.eml`` file under ``KITH_DATA_DIR/mailsink`` (the folder
the development SMTP sink also fills), so a workspace can send without any server running.

Like the SMTP sink it refuses ``reject…`` recipients permanently and ``defer…`` transiently.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Sequence
from pathlib import Path

from django.conf import settings

from kith.messaging.backends.base import (
    BaseEmailBackend,
    OutgoingEmail,
    ResultKind,
    SendResult,
)
from kith.messaging.backends.memory import test_address_result

_counter = itertools.count(1)


class SinkBackend(BaseEmailBackend):
    alias = "sink"

    def __init__(self, *, directory: Path | None = None) -> None:
        self.directory = directory or Path(settings.KITH_DATA_DIR) / "mailsink"

    def send_many(self, messages: Sequence[OutgoingEmail]) -> list[SendResult]:
        self.directory.mkdir(parents=True, exist_ok=True)
        results = []
        for message in messages:
            refused = next(filter(None, map(test_address_result, message.recipients)), None)
            if refused is not None:
                results.append(refused)
                continue
            name = f"{time.time_ns():x}.{next(_counter)}"
            # Written under a temporary name and renamed, so a reader never sees half a message.
            partial = self.directory / f".{name}.tmp"
            partial.write_bytes(message.wire)
            partial.rename(self.directory / f"{name}.eml")
            results.append(SendResult(kind=ResultKind.SENT, provider_message_id=f"sink-{name}"))
        return results
