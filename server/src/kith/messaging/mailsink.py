"""The development SMTP sink: accepts every message on a local port and stores it as a ``.eml`` file.

``make run`` starts it (``manage.py kith_mailsink``, or ``mailsink_start`` in a thread); tests use it as a real
SMTP server for the SMTP backend's contract tests. Recipients whose local part starts with ``reject`` get a 550,
``defer`` a 451, so bounce and retry paths can be tried by hand. Never expose it: it accepts mail from anyone.
"""

from __future__ import annotations

import itertools
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from kith.messaging.backends.memory import test_address_result


class SinkHandler:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.directory.mkdir(parents=True, exist_ok=True)
        self._counter = itertools.count(1)

    async def handle_RCPT(self, server: SMTP, session: Session, envelope: Envelope, address: str,
                          rcpt_options: list[str]) -> str:
        refused = test_address_result(address)
        if refused is not None:
            return refused.error
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        queue_id = f"{time.time_ns():x}.{next(self._counter)}"
        content = envelope.original_content or b""
        (self.directory / f"{queue_id}.eml").write_bytes(content)
        return f"250 2.0.0 Ok: queued as {queue_id}"


@dataclass
class MailSink:
    controller: Controller
    directory: Path

    @property
    def port(self) -> int:
        return int(self.controller.port)

    def stop(self) -> None:
        self.controller.stop()

    def messages(self) -> list[bytes]:
        """The stored messages, oldest first."""
        return [path.read_bytes() for path in sorted(self.directory.glob("*.eml"), key=lambda p: p.stat().st_mtime_ns)]


def mailsink_start(*, directory: Path, host: str = "127.0.0.1", port: int = 1025,
                   handler_class: type[SinkHandler] = SinkHandler, **options: Any) -> MailSink:
    """Start the sink in a background thread; ``port=0`` picks a free port (see ``MailSink.port``)."""
    if port == 0:
        # aiosmtpd connects to its own port to check it is up, so it needs the number before it starts.
        with socket.socket() as probe:
            probe.bind((host, 0))
            port = probe.getsockname()[1]
    controller = Controller(handler_class(directory), hostname=host, port=port, **options)
    controller.start()
    return MailSink(controller=controller, directory=directory)
