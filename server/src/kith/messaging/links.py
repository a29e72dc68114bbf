"""Signed links carried by messages: unsubscribe (RFC 8058 one-click), click tracking and the open pixel.

One signature per message, not per link: every link of a message shares the message's token and adds the link's
index in its template version, so a message with 20 links costs one HMAC. The targets come from the version, never
from the URL, so a click link cannot be turned into an open redirect. The open pixel carries the same token.
"""

from __future__ import annotations

from django.conf import settings
from django.core import signing

_UNSUBSCRIBE = signing.Signer(salt="kith.messaging.unsubscribe")
_CLICK = signing.Signer(salt="kith.messaging.click")


def unsubscribe_url(*, message_id: int) -> str:
    return f"{settings.KITH_BASE_URL}/u/{_UNSUBSCRIBE.sign(str(message_id))}/"


def unsubscribe_headers(url: str) -> list[tuple[str, str]]:
    """RFC 8058: the HTTPS URL takes a POST with ``List-Unsubscribe=One-Click`` and unsubscribes at once."""
    return [("List-Unsubscribe", f"<{url}>"), ("List-Unsubscribe-Post", "List-Unsubscribe=One-Click")]


def unsubscribe_message_id(token: str) -> int | None:
    """The message id a token was signed for, or None when the token is not ours."""
    try:
        value = _UNSUBSCRIBE.unsign(token)
    except signing.BadSignature:
        return None
    return int(value) if value.isdigit() else None


def tracking_token(*, message_id: int) -> str:
    """The one signed token of a message's tracking URLs: its click links and its open pixel share it."""
    return _CLICK.sign(str(message_id))


def click_base(*, message_id: int, token: str = "") -> str:
    """The prefix of every tracked link of one message; the link index and a slash follow."""
    return f"{settings.KITH_BASE_URL}/t/{token or tracking_token(message_id=message_id)}/"


def open_url(*, message_id: int, token: str = "") -> str:
    """The open pixel of one message."""
    return f"{settings.KITH_BASE_URL}/o/{token or tracking_token(message_id=message_id)}/"


def click_message_id(token: str) -> int | None:
    try:
        value = _CLICK.unsign(token)
    except signing.BadSignature:
        return None
    return int(value) if value.isdigit() else None
