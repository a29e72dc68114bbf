"""Reading the local mail sink for the dev inbox.

The SMTP sink (``kith.messaging.mailsink``) and the ``sink`` backend write one ``.eml`` file per message under
``KITH_DATA_DIR/mailsink``. The files belong to no workspace, so each is tied to the ledger through its
``Message-ID`` (``<{ledger id}.{random}@domain>``, see ``preparation.message_build``) and shown only when that
ledger row belongs to the viewer's workspace, is visible to the viewer (a rep limited to their own contacts sees
their messages), and was addressed to the file's ``To``. Mail that is not in the ledger (sign-up confirmations,
invitations) belongs to no workspace and is never shown.

Only in development: in production there is no sink, and the page is a 404.
"""

from __future__ import annotations

import email
import email.policy
import re
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.parser import BytesHeaderParser
from email.utils import getaddresses
from pathlib import Path

from django.conf import settings
from django.db.models import QuerySet

from kith.messaging.models import Message

# The sink grows without bound in a long development session; the page reads the newest files only.
SCAN_LIMIT = 500
LIST_LIMIT = 100
_LEDGER_ID = re.compile(r"<(\d{1,18})\.[0-9a-f]+@")
_HEADERS = BytesHeaderParser(policy=email.policy.default)


def dev_inbox_enabled() -> bool:
    return not settings.PRODUCTION


def sink_directory() -> Path:
    return Path(settings.KITH_DATA_DIR) / "mailsink"


@dataclass(frozen=True)
class Captured:
    message: Message
    path: Path
    subject: str
    to: str
    date: str


@dataclass
class CapturedDetail:
    headers: list[tuple[str, str]] = field(default_factory=list)
    html: str = ""
    text: str = ""
    raw: str = ""


def _newest_files() -> list[Path]:
    directory = sink_directory()
    if not directory.is_dir():
        return []
    files = [(path.stat().st_mtime_ns, path) for path in directory.glob("*.eml")]
    files.sort(key=lambda item: (item[0], item[1].name), reverse=True)
    return [path for _, path in files[:SCAN_LIMIT]]


def _head(path: Path) -> tuple[int | None, str, str, str]:
    with path.open("rb") as handle:
        headers = _HEADERS.parse(handle)
    found = _LEDGER_ID.search(str(headers.get("Message-ID", "")))
    to = ", ".join(address for _, address in getaddresses([str(headers.get("To", ""))]))
    return (int(found.group(1)) if found else None), to, str(headers.get("Subject", "")), str(headers.get("Date", ""))


def _addressed_to(message: Message, to: str) -> bool:
    return message.to_address.lower() in to.lower().split(", ")


def captured_list(*, messages: QuerySet[Message], limit: int = LIST_LIMIT) -> list[Captured]:
    """The newest captured messages among ``messages`` (the viewer's visible ledger rows), newest first."""
    heads = []
    for path in _newest_files():
        try:
            ledger_id, to, subject, date = _head(path)
        except OSError:
            continue  # removed while listing
        if ledger_id is not None:
            heads.append((ledger_id, path, to, subject, date))
    rows = messages.filter(pk__in={head[0] for head in heads}).select_related("contact", "template_version__template")
    found = {row.pk: row for row in rows}
    result = []
    for ledger_id, path, to, subject, date in heads:
        row = found.get(ledger_id)
        if row is not None and _addressed_to(row, to):
            result.append(Captured(message=row, path=path, subject=subject, to=to, date=date))
        if len(result) >= limit:
            break
    return result


def captured_detail(*, message: Message) -> CapturedDetail | None:
    """The newest sink file of ``message`` (a ledger row the caller already checked access to), parsed; None when
    the sink holds none (sent through another backend, or the folder was cleared)."""
    for path in _newest_files():
        try:
            ledger_id, to, _, _ = _head(path)
            if ledger_id != message.pk or not _addressed_to(message, to):
                continue
            raw = path.read_bytes()
        except OSError:
            continue
        return _parse(raw)
    return None


def _parse(raw: bytes) -> CapturedDetail:
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    detail = CapturedDetail(headers=[(name, str(value)) for name, value in parsed.items()],
                            raw=raw.decode("utf-8", errors="replace"))
    for kind in ("html", "plain"):
        part = parsed.get_body(preferencelist=(kind,))
        if part is not None and part.get_content_type() == f"text/{kind}":
            content = part.get_content()
            if kind == "html":
                detail.html = content
            else:
                detail.text = content
    return detail
