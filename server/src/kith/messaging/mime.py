"""Wire bytes for one e-mail, fast: the invariant part is built once per template version, per message only the
recipient's headers and the two bodies are encoded and spliced in.

``email.message.EmailMessage`` spends most of its ~3 ms building and walking a policy-driven object tree; Django's
wrapper still ~0.8 ms. Here a message is a handful of ``bytes`` joins plus ``binascii.b2a_qp`` (C) per body.

Correctness rules this module keeps (the tests parse its output back with the stdlib parser):
- CRLF line endings everywhere; every body line ≤ 76 characters (quoted-printable soft breaks);
- the boundary starts with ``=_``, which quoted-printable output can never contain (``=`` is always followed by two
  hex digits or a line break there), so no body can collide with it;
- header values are stripped of CR/LF (merge data must not inject headers), non-ASCII text is encoded per RFC 2047,
  long values are folded;
- non-ASCII domains are IDNA-encoded; a non-ASCII local part is refused (it would need SMTPUTF8).
"""

from __future__ import annotations

import binascii
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from email.header import Header
from email.utils import formataddr
from functools import partial
from itertools import compress
from operator import is_

_PLAIN_VALUE = re.compile(r"^[\x20-\x7e]*$")
_PLAIN_NAME = re.compile(r"^[A-Za-z0-9 !#$%&'*+\-/=?^_`{|}~]*$")
_CRLF = re.compile(r"[\r\n]+")
_NEWLINES = re.compile(r"\r\n|\r|\n")
# RFC 5322's recommended line length; Header folds anything longer.
_MAX_LINE = 78
_HARD_MAX_LINE = 998


def header_line(name: str, value: str) -> bytes:
    """``Name: value\\r\\n`` with CR/LF removed, RFC 2047 encoding for non-ASCII and folding for long values."""
    value = _CRLF.sub(" ", value)
    if _PLAIN_VALUE.match(value) and (len(name) + 2 + len(value) <= _MAX_LINE
                                      or (" " not in value and len(name) + 2 + len(value) <= _HARD_MAX_LINE)):
        # A long value without spaces (a List-Unsubscribe URL) cannot be folded usefully: Header would only move it
        # to a continuation line, and readers then see a leading space in the value. RFC 5322 allows 998.
        return f"{name}: {value}\r\n".encode("ascii")
    charset = "us-ascii" if _PLAIN_VALUE.match(value) else "utf-8"
    encoded = Header(value, charset, maxlinelen=_MAX_LINE - 1, header_name=name).encode(linesep="\r\n")
    return f"{name}: {encoded}\r\n".encode("ascii")


def address(name: str, addr: str) -> str:
    """An address for a header: ``addr``, ``Name <addr>``, quoted or RFC 2047-encoded as the name needs."""
    addr = _CRLF.sub("", addr).strip()
    local, _, domain = addr.rpartition("@")
    if not local.isascii():
        raise ValueError(f"{addr!r}: a non-ASCII local part needs SMTPUTF8, which Kith does not send")
    if not domain.isascii():
        addr = f"{local}@{domain.encode('idna').decode('ascii')}"
    name = _CRLF.sub(" ", name).strip()
    if not name:
        return addr
    if _PLAIN_NAME.match(name):
        return f"{name} <{addr}>"
    return formataddr((name, addr), charset="utf-8")


# Static lines of a template repeat in every message; an encoded line is remembered up to this many per cache.
QP_CACHE_LINES = 1000
_is_none = partial(is_, None)


def qp_body(text: str, cache: dict[str, bytes] | None = None) -> bytes:
    """Quoted-printable UTF-8 with CRLF line endings, encoded line by line.

    ``b2a_qp`` costs ~18 ns per byte, most of a message's budget for a 20 KB body; but most lines of a rendered
    template are the same for every recipient. With a ``cache`` (one per template version part) each distinct line
    is encoded once and only the lines that carry merge values or tracked links are encoded per message. A hard
    line break resets QP's line length, so encoding lines separately gives the same bytes as encoding the whole."""
    if "\r" in text:
        text = _NEWLINES.sub("\n", text)
    text = text.removesuffix("\n")
    lines = text.split("\n")
    # Lookups and the scan for misses run in C (map, compress); Python only touches the lines not seen before.
    out: list[bytes | None] = list(map(cache.get, lines)) if cache is not None else [None] * len(lines)
    for index in compress(range(len(lines)), map(_is_none, out)):
        line = lines[index]
        # One C call per line does escaping, trailing whitespace and soft breaks; checking for a plain short line
        # first (to skip it) costs more Python than it saves.
        encoded = binascii.b2a_qp(line.encode("utf-8"), quotetabs=False, istext=True, header=False)
        if b"=\n" in encoded:
            encoded = encoded.replace(b"=\n", b"=\r\n")  # soft breaks: no newline in the input means LF ones
        if cache is not None and len(cache) < QP_CACHE_LINES:
            cache[line] = encoded
        out[index] = encoded
    out.append(b"")
    return b"\r\n".join(out)


_TEXT_PART = b"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"
_HTML_PART = b"Content-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"


@dataclass(frozen=True)
class MimeSkeleton:
    """The invariant bytes of every message of one template version."""

    fixed_headers: bytes  # From, Reply-To, MIME-Version and the top Content-Type
    text_open: bytes  # boundary + part headers before the text body ("" when there is no text part)
    html_open: bytes
    close: bytes
    has_text: bool
    has_html: bool


def skeleton_build(*, from_name: str, from_email: str, reply_to: str = "", has_text: bool = True,
                   has_html: bool = True, extra_headers: Sequence[tuple[str, str]] = ()) -> MimeSkeleton:
    """Build once per template version (and sender). At least one of the parts must be present."""
    if not (has_text or has_html):
        raise ValueError("a message needs a text or an HTML part")
    fixed = [header_line("From", address(from_name, from_email))]
    if reply_to:
        fixed.append(header_line("Reply-To", address("", reply_to)))
    fixed.extend(header_line(name, value) for name, value in extra_headers)
    fixed.append(b"MIME-Version: 1.0\r\n")
    if has_text and has_html:
        boundary = f"=_kith_{secrets.token_hex(10)}".encode("ascii")
        fixed.append(b'Content-Type: multipart/alternative; boundary="' + boundary + b'"\r\n')
        return MimeSkeleton(
            fixed_headers=b"".join(fixed),
            text_open=b"\r\n--" + boundary + b"\r\n" + _TEXT_PART,
            html_open=b"\r\n--" + boundary + b"\r\n" + _HTML_PART,
            close=b"\r\n--" + boundary + b"--\r\n",
            has_text=True, has_html=True,
        )
    # A single part: its Content-Type headers are the message's own.
    part = _TEXT_PART if has_text else _HTML_PART
    return MimeSkeleton(fixed_headers=b"".join(fixed), text_open=part if has_text else b"",
                        html_open=part if has_html else b"", close=b"", has_text=has_text, has_html=has_html)


def message_bytes(skeleton: MimeSkeleton, *, to: str, subject: str, message_id: str, date: str, text: str = "",
                  html: str = "", headers: Sequence[tuple[str, str]] = (),
                  text_cache: dict[str, bytes] | None = None, html_cache: dict[str, bytes] | None = None) -> bytes:
    """The complete message for one recipient. ``to`` is a formatted address (see ``address``), ``date`` an
    RFC 5322 date (``email.utils.formatdate(usegmt=True)``), ``headers`` per-recipient extras such as
    List-Unsubscribe; the caches are the version's line caches (see ``qp_body``)."""
    out = [header_line("To", to), header_line("Subject", subject), b"Message-ID: " + message_id.encode("ascii")
           + b"\r\nDate: " + date.encode("ascii") + b"\r\n"]
    out.extend(header_line(name, value) for name, value in headers)
    out.append(skeleton.fixed_headers)
    if skeleton.has_text and skeleton.has_html:
        out += [skeleton.text_open, qp_body(text, text_cache), skeleton.html_open, qp_body(html, html_cache),
                skeleton.close]
    elif skeleton.has_text:
        out += [skeleton.text_open, qp_body(text, text_cache)]
    else:
        out += [skeleton.html_open, qp_body(html, html_cache)]
    return b"".join(out)
