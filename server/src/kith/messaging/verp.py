"""VERP return paths: ``bounce+<message id>.<hmac>@<bounce domain>`` names the message a bounce is about.

The HMAC (hex, so a mail server that lower-cases local parts cannot break it; 64 bits) means nobody can forge a
bounce for a message by writing to the bounce address. See ``kith.messaging.bounces`` for the processor.
"""

from __future__ import annotations

import hmac
import re

from django.utils.crypto import salted_hmac

_SALT = "kith.messaging.bounce"
_MAC_CHARS = 16
_VERP = re.compile(r"bounce\+(\d+)\.([0-9a-f]{16})@", re.IGNORECASE)


def _mac(message_id: int) -> str:
    return salted_hmac(_SALT, str(message_id)).hexdigest()[:_MAC_CHARS]


def verp_address(*, message_id: int, domain: str) -> str:
    return f"bounce+{message_id}.{_mac(message_id)}@{domain}"


def verp_message_id(text: str) -> int | None:
    """The message id of the first valid VERP address in ``text``, or None."""
    for match in _VERP.finditer(text):
        message_id = int(match.group(1))
        if hmac.compare_digest(match.group(2).lower(), _mac(message_id)):
            return message_id
    return None
