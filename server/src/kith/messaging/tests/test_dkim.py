"""DKIM: messages the SMTP backend sends verify against the published key, headers of RFC 8058 included."""

from __future__ import annotations

import base64
from pathlib import Path

import dkim
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.core.exceptions import ImproperlyConfigured

from kith.messaging import links, mime
from kith.messaging.backends import OutgoingEmail, ResultKind
from kith.messaging.backends.dkim import DkimSigner, dkim_signer_from_settings
from kith.messaging.backends.smtp import SmtpBackend
from kith.messaging.mailsink import mailsink_start


@pytest.fixture(scope="module")
def key_pair() -> tuple[bytes, bytes]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    public = key.public_key().public_bytes(serialization.Encoding.DER,
                                           serialization.PublicFormat.SubjectPublicKeyInfo)
    return private, b"v=DKIM1; k=rsa; p=" + base64.b64encode(public)


def _wire() -> bytes:
    skeleton = mime.skeleton_build(from_name="Acme", from_email="team@acme.test")
    return mime.message_bytes(skeleton, to="ada@example.com", subject="Grüße", message_id="<1@acme.test>",
                              date="Sun, 22 Nov 2026 01:00:00 GMT", text="Hi", html="<p>Hi</p>",
                              headers=links.unsubscribe_headers("https://kith.test/u/1:x/"))


def test_a_signed_message_verifies_and_covers_the_one_click_headers(key_pair, settings):
    private, record = key_pair
    signed = DkimSigner(domain="acme.test", selector="kith", private_key=private).sign(_wire())
    assert dkim.verify(signed, dnsfunc=lambda name, timeout=5: record)
    header = signed.split(b"\r\n\r\n", 1)[0].replace(b"\r\n", b"").lower()
    assert b"list-unsubscribe-post" in header and b"d=acme.test" in header
    assert not dkim.verify(signed.replace(b"Hi", b"Ho"), dnsfunc=lambda name, timeout=5: record)


def test_the_smtp_backend_signs_what_it_sends(key_pair, tmp_path: Path):
    private, record = key_pair
    sink = mailsink_start(directory=tmp_path / "sink", port=0)
    try:
        with SmtpBackend(host="127.0.0.1", port=sink.port, username="", starttls=False, tls=False,
                         dkim=DkimSigner(domain="acme.test", selector="kith", private_key=private)) as backend:
            [result] = backend.send_many([OutgoingEmail(message_id=1, envelope_from="team@acme.test",
                                                        recipients=("ada@example.com",), wire=_wire())])
        assert result.kind == ResultKind.SENT
        [received] = sink.messages()
        assert dkim.verify(received, dnsfunc=lambda name, timeout=5: record)
    finally:
        sink.stop()


def test_dkim_settings_are_all_or_nothing(settings, tmp_path: Path):
    settings.KITH_DKIM_DOMAIN = settings.KITH_DKIM_SELECTOR = settings.KITH_DKIM_PRIVATE_KEY_FILE = ""
    assert dkim_signer_from_settings() is None
    settings.KITH_DKIM_DOMAIN = "acme.test"
    with pytest.raises(ImproperlyConfigured, match="all of"):
        dkim_signer_from_settings()
    key_file = tmp_path / "dkim.pem"
    key_file.write_bytes(b"pem")
    settings.KITH_DKIM_SELECTOR, settings.KITH_DKIM_PRIVATE_KEY_FILE = "kith", str(key_file)
    assert dkim_signer_from_settings() == DkimSigner(domain="acme.test", selector="kith", private_key=b"pem")
