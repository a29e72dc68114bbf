"""What a sent e-mail carries: the pixel and tracked links (with the honeypot), or plain links when tracking is off
for the workspace or the message; the output stays valid MIME."""

from __future__ import annotations

import base64
import email
import email.policy
import re

import dkim
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from rest_framework.test import APIClient

from kith.accounts.services import api_key_create
from kith.messaging.backends import memory
from kith.messaging.backends.dkim import DkimSigner
from kith.messaging.models import Message
from kith.messaging.preparation import message_build, prepared_version
from kith.messaging.selectors import message_context
from kith.messaging.tests.factories import template_make
from kith.tracking.models import MessageTrackingOptions
from kith.tracking.selectors import tracking_policy
from kith.tracking.services import tracking_settings_update
from kith.tracking.tests.helpers import HTML, sent_message

pytestmark = pytest.mark.django_db


def _build(message: Message) -> email.message.EmailMessage:
    policy = tracking_policy(workspace=message.workspace, message_id=message.pk)
    built = message_build(prepared_version(message.template_version, track_clicks=policy.clicks),
                          message_id=message.pk, to_name="Ada", to_address=message.to_address,
                          context=message_context(message=message), marketing=True, track_opens=policy.opens)
    parsed = email.message_from_bytes(built.wire, policy=email.policy.default)
    assert parsed["To"] == f"Ada <{message.to_address}>" and parsed["List-Unsubscribe"].startswith("<http")
    assert not parsed.defects
    return parsed


def _html(parsed: email.message.EmailMessage) -> str:
    return parsed.get_body(("html",)).get_content()


def test_a_tracked_message_has_the_pixel_tracked_links_and_a_hidden_honeypot(personas):
    message = sent_message(workspace=personas.acme)
    html = _html(_build(message))
    token = re.search(r'/o/([^/"]+)/"', html).group(1)
    assert f'<img src="http://127.0.0.1:8000/o/{token}/" width="1" height="1"' in html
    hrefs = re.findall(r'href="([^"]+)"', html)
    assert f"http://127.0.0.1:8000/t/{token}/0/" in hrefs and f"http://127.0.0.1:8000/t/{token}/1/" in hrefs
    assert "https://shop.example.com/new" not in html
    honeypot = re.search(rf'<a\s+href="http://127.0.0.1:8000/t/{re.escape(token)}/2/"[^>]*>', html).group(0)
    assert "display:none" in honeypot and 'aria-hidden="true"' in honeypot
    assert html.index(honeypot) < html.index("</body>")


def test_tracking_off_for_the_workspace_means_no_pixel_and_plain_links(personas):
    message = sent_message(workspace=personas.acme)
    tracking_settings_update(workspace=personas.acme, actor=personas.alice, track_opens=False, track_clicks=False)
    html = _html(_build(message))
    assert "/o/" not in html and "/t/" not in html and "<img" not in html
    assert 'href="https://shop.example.com/new"' in html and 'href="https://shop.example.com/sale"' in html


def test_tracking_off_for_one_message_leaves_other_messages_tracked(personas):
    quiet = sent_message(workspace=personas.acme)
    loud = sent_message(workspace=personas.acme, email="grace@example.com")
    MessageTrackingOptions.objects.create(message=quiet, track_opens=False, track_clicks=True)
    quiet_html, loud_html = _html(_build(quiet)), _html(_build(loud))
    assert "/o/" not in quiet_html and "/t/" in quiet_html
    assert "/o/" in loud_html and "/t/" in loud_html


def test_a_text_only_message_gets_no_pixel(personas):
    template = template_make(workspace=personas.acme, name="Plain", html="", text="Hi {{ contact.first_name }}")
    message = sent_message(workspace=personas.acme)
    message.template_version = template.current_version
    built = message_build(prepared_version(template.current_version), message_id=message.pk, to_name="",
                          to_address="ada@example.com", context=message_context(message=message), marketing=False)
    assert b"/o/" not in built.wire


@pytest.mark.django_db(transaction=True)
def test_the_transactional_api_turns_tracking_off_per_message(personas, settings):
    settings.KITH_MESSAGING_EMAIL_BACKEND = "memory"
    memory.outbox.clear()
    _, raw = api_key_create(workspace=personas.acme, actor=personas.alice, name="shop", scopes=["read", "write"])
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    template = template_make(workspace=personas.acme, html=HTML)
    response = client.post("/api/v1/messages/", {"template": template.pk, "email": "ada@example.com",
                                                 "create_contact": True, "track_opens": False, "track_clicks": False},
                           format="json")
    assert response.status_code == 201, response.content
    options = MessageTrackingOptions.objects.get(message_id=response.json()["id"])
    assert (options.track_opens, options.track_clicks) == (False, False)
    sent = memory.outbox[-1].wire
    assert b"/o/" not in sent and b"https://shop.example.com/new" in sent
    response = client.post("/api/v1/messages/", {"template": template.pk, "email": "ada@example.com",
                                                 "track_clicks": "maybe"}, format="json")
    assert response.status_code == 400 and "track_clicks" in response.content.decode()
    memory.outbox.clear()


def test_a_tracked_message_with_its_long_one_click_header_is_dkim_signed_and_verifies(personas):
    message = sent_message(workspace=personas.acme)
    built = message_build(prepared_version(message.template_version), message_id=message.pk, to_name="Ada",
                          to_address=message.to_address, context=message_context(message=message), marketing=True)
    # The List-Unsubscribe URL is one unbreakable token: kept on its line (≤ 998), not folded with a leading space.
    header = next(line for line in built.wire.split(b"\r\n") if line.startswith(b"List-Unsubscribe: "))
    assert header.startswith(b"List-Unsubscribe: <http") and len(header) <= 998
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    public = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    record = b"v=DKIM1; k=rsa; p=" + base64.b64encode(public)
    signed = DkimSigner(domain="acme.test", selector="kith", private_key=private).sign(built.wire)
    assert dkim.verify(signed, dnsfunc=lambda name, timeout=5: record)
    assert not dkim.verify(signed.replace(b"/t/", b"/x/", 1), dnsfunc=lambda name, timeout=5: record)
