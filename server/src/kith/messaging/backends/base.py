"""The backend contract; see ``kith.messaging.backends`` for the rules."""

from __future__ import annotations

import abc
import enum
from collections.abc import Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Self


class ResultKind(enum.StrEnum):
    SENT = "sent"
    TRANSIENT = "transient"
    PERMANENT = "permanent"


@dataclass(frozen=True)
class OutgoingEmail:
    message_id: int
    envelope_from: str
    recipients: tuple[str, ...]
    wire: bytes


@dataclass(frozen=True)
class SendResult:
    kind: ResultKind
    provider_message_id: str = ""
    error: str = ""
    retry_after: float | None = None


class BaseEmailBackend(abc.ABC):
    """See the module docstring for what subclasses must do."""

    alias = ""

    def reuse_key(self) -> tuple[object, ...] | None:
        """What identifies this backend's connection, so the sender can keep it open and reuse it for the next
        message with the same key (see ``kith.messaging.sending``); None (the default) never reuses."""
        return None

    def alive(self) -> bool:
        """Whether a kept connection still works; checked before a kept backend is used again."""
        return True

    def open(self) -> None:
        """Acquire whatever connection the backend needs; called before the first ``send_many``."""

    def close(self) -> None:
        """Release the connection; safe to call twice."""

    @abc.abstractmethod
    def send_many(self, messages: Sequence[OutgoingEmail]) -> list[SendResult]:
        """Send each message; one result per message, in order."""

    def __enter__(self) -> Self:
        self.open()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
