"""DKIM signing of finished wire bytes (dkimpy), for backends that talk SMTP themselves.

ESPs sign for you; a self-run SMTP relay usually does not, and unsigned bulk mail fails DMARC at the big mailbox
providers. Configured with ``KITH_DKIM_DOMAIN``, ``KITH_DKIM_SELECTOR`` and ``KITH_DKIM_PRIVATE_KEY_FILE`` (a PEM
RSA or Ed25519 key); publish the public key at ``<selector>._domainkey.<domain>``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import dkim
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

# What a receiver must see unchanged. List-Unsubscribe(-Post) are signed as RFC 8058 §4 requires for one-click.
SIGNED_HEADERS = (b"from", b"to", b"subject", b"date", b"message-id", b"reply-to", b"mime-version", b"content-type",
                  b"list-unsubscribe", b"list-unsubscribe-post")


@dataclass(frozen=True)
class DkimSigner:
    domain: str
    selector: str
    private_key: bytes

    def sign(self, wire: bytes) -> bytes:
        """``wire`` with a DKIM-Signature header in front (relaxed/relaxed canonicalization)."""
        signature = dkim.sign(wire, self.selector.encode(), self.domain.encode(), self.private_key,
                              canonicalize=(b"relaxed", b"relaxed"),
                              include_headers=[name for name in SIGNED_HEADERS if _has_header(wire, name)])
        return signature + wire


def _has_header(wire: bytes, name: bytes) -> bool:
    head = wire.split(b"\r\n\r\n", 1)[0].lower()
    return head.startswith(name + b":") or (b"\r\n" + name + b":") in head


def dkim_signer_from_settings() -> DkimSigner | None:
    """The configured signer, or None when DKIM is not configured (all three settings empty)."""
    domain, selector, key_file = settings.KITH_DKIM_DOMAIN, settings.KITH_DKIM_SELECTOR, \
        settings.KITH_DKIM_PRIVATE_KEY_FILE
    if not (domain or selector or key_file):
        return None
    if not (domain and selector and key_file):
        raise ImproperlyConfigured("Set all of KITH_DKIM_DOMAIN, KITH_DKIM_SELECTOR and KITH_DKIM_PRIVATE_KEY_FILE, "
                                   "or none of them.")
    try:
        key = Path(key_file).read_bytes()
    except OSError as exc:
        raise ImproperlyConfigured(f"KITH_DKIM_PRIVATE_KEY_FILE cannot be read: {exc}") from exc
    return DkimSigner(domain=domain, selector=selector, private_key=key)
