"""SMTP bounces: a VERP return path on every SMTP send, and a processor for the DSNs that come back to it.

With ``KITH_BOUNCE_DOMAIN`` set, the SMTP backend sends with the envelope sender
``bounce+<message id>.<hmac>@<bounce domain>`` (VERP), so a bounce names the exact message even when the remote
server's report is unreadable. The MX of the bounce domain delivers into a Maildir (``KITH_BOUNCE_MAILDIR``, e.g.
Postfix ``home_mailbox = Maildir/`` for a ``bounce`` user with ``recipient_delimiter = +``); the periodic job
``bounce_mailbox_process_task`` (and ``manage.py kith_bounces``) reads new mail from it, parses RFC 3464 delivery
status notifications and records them as provider events:

- ``Action: failed`` with a 5.x.x status is a bounce; 5.1.x (bad address), 5.2.1 (disabled mailbox) and 5.4.4
  (no route to the domain) are *hard* and suppress the address. Other permanent failures (5.7.x policy, 5.3.4
  too big) are recorded as bounced without suppressing: the address is fine, the message was not.
- ``Action: delayed`` (or a 4.x.x status) is a deferral.
- Anything without a valid VERP token is moved to ``.Junk`` untouched: the HMAC means nobody can suppress an
  address by mailing the bounce address.

Each processed file moves from ``new/`` to ``cur/`` only after its event is recorded, so a crash re-reads it and
the event is applied twice, which ``message_event_record`` makes harmless.
"""

from __future__ import annotations

import email
import email.policy
import logging
import re
from dataclasses import dataclass
from email.message import Message as MimeMessage
from pathlib import Path

from django.conf import settings

from kith.core.jobs import job
from kith.messaging.events import EventKind, ProviderEvent, message_event_record
from kith.messaging.verp import verp_message_id

logger = logging.getLogger("kith.messaging")

_HARD = re.compile(r"^5\.(1\.\d+|2\.1|4\.4)$")
# Headers a receiving MTA or the bounce itself puts the envelope recipient (our VERP address) in.
_ADDRESS_HEADERS = ("Delivered-To", "X-Original-To", "Envelope-To", "To")

@dataclass(frozen=True)
class Dsn:
    message_id: int
    action: str  # failed | delayed | delivered | relayed | expanded
    status: str  # e.g. 5.1.1
    diagnostic: str


def dsn_parse(raw: bytes) -> Dsn | None:
    """The first per-recipient report of an RFC 3464 DSN addressed to a VERP address; None when ``raw`` is not one."""
    parsed = email.message_from_bytes(raw, policy=email.policy.compat32)
    message_id = None
    for name in _ADDRESS_HEADERS:
        for value in parsed.get_all(name, []):
            message_id = message_id or verp_message_id(str(value))
    if message_id is None:
        return None
    for part in parsed.walk():
        if part.get_content_type() != "message/delivery-status":
            continue
        blocks = part.get_payload()
        # Block 0 holds the per-message fields, the rest one block per recipient.
        for block in blocks[1:] if isinstance(blocks, list) else []:
            if not isinstance(block, MimeMessage) or not block.get("Action"):
                continue
            return Dsn(message_id=message_id, action=str(block["Action"]).strip().lower(),
                       status=str(block.get("Status", "")).strip(),
                       diagnostic=" ".join(str(block.get("Diagnostic-Code", "")).split()))
    return None


def dsn_event(dsn: Dsn) -> ProviderEvent | None:
    description = f"{dsn.status} {dsn.diagnostic}".strip()
    if dsn.action == "failed" or dsn.status.startswith("5."):
        return ProviderEvent(kind=EventKind.BOUNCED, provider="smtp", message_id=dsn.message_id,
                             hard=bool(_HARD.match(dsn.status)), description=description)
    if dsn.action == "delayed" or dsn.status.startswith("4."):
        return ProviderEvent(kind=EventKind.DEFERRED, provider="smtp", message_id=dsn.message_id,
                             description=description)
    if dsn.action in ("delivered", "relayed"):
        return ProviderEvent(kind=EventKind.DELIVERED, provider="smtp", message_id=dsn.message_id)
    return None


@dataclass(frozen=True)
class BounceReport:
    processed: int
    junk: int


def bounce_mailbox_process(*, maildir: Path) -> BounceReport:
    """Read every new file of ``maildir`` once: record DSNs, file the rest under ``.Junk``."""
    new, cur, junk = maildir / "new", maildir / "cur", maildir / ".Junk" / "cur"
    if not new.is_dir():
        return BounceReport(processed=0, junk=0)
    cur.mkdir(exist_ok=True)
    processed = junked = 0
    for path in sorted(new.iterdir()):
        if not path.is_file():
            continue
        dsn = dsn_parse(path.read_bytes())
        event = dsn_event(dsn) if dsn is not None else None
        if event is None:
            junk.mkdir(parents=True, exist_ok=True)
            path.rename(junk / path.name)
            junked += 1
            continue
        message_event_record(event=event)
        path.rename(cur / f"{path.name}:2,S")  # Maildir "seen" flag
        processed += 1
    if processed or junked:
        logger.info("bounce mailbox: %d DSN(s) recorded, %d other file(s) set aside", processed, junked)
    return BounceReport(processed=processed, junk=junked)


@job
def bounce_mailbox_process_task() -> None:
    bounce_mailbox_process(maildir=Path(settings.KITH_BOUNCE_MAILDIR))
