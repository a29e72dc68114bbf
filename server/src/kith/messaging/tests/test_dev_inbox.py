"""The dev inbox: sink files tied to the ledger, a workspace sees only its own, message HTML sandboxed."""

from __future__ import annotations

import pytest
from django.test import Client

from kith.contacts.services import contact_create
from kith.messaging.models import MessageStatus, SourceType
from kith.messaging.services import message_queue, message_send
from kith.messaging.tests.factories import template_make
from kith.messaging.ui import devinbox

pytestmark = pytest.mark.django_db

EVIL_HTML = ("<html><body><p>Hello {{ contact.first_name }}</p>"
             "<script>parent.document.title='pwned'</script><img src=x onerror=alert(1)></body></html>")


@pytest.fixture
def sink(settings, tmp_path):
    """The development sink backend writing .eml files under a private data dir."""
    settings.KITH_DATA_DIR = tmp_path
    settings.KITH_MESSAGING_EMAIL_BACKEND = "sink"
    return tmp_path / "mailsink"


def _send(workspace, actor, email: str, first: str, source_id: str):
    contact = contact_create(workspace=workspace, actor=actor, data={"email": email, "first_name": first})
    template = template_make(workspace=workspace, name=f"T {source_id}", html=EVIL_HTML,
                             subject=f"Subject for {first}")
    message = message_queue(workspace=workspace, template=template, contact=contact,
                            source_type=SourceType.TRANSACTIONAL, source_id=source_id)
    assert message_send(message_id=message.pk) == MessageStatus.SENT
    return message


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_each_workspace_sees_only_its_own_captured_messages(personas, sink):
    ours = _send(personas.acme, personas.alice, "ada@example.com", "Ada", "a1")
    theirs = _send(personas.mallory_inc, personas.mallory, "eve@example.com", "Eve", "m1")
    assert len(list(sink.glob("*.eml"))) == 2
    alice, mallory = _client(personas.alice), _client(personas.mallory)
    page = alice.get("/dev/inbox/").content.decode()
    assert "Subject for Ada" in page and "Subject for Eve" not in page
    rows = mallory.get("/dev/inbox/", HTTP_HX_REQUEST="true").content.decode()
    assert "Subject for Eve" in rows and "Subject for Ada" not in rows and "<html" not in rows
    for path in (f"/dev/inbox/{ours.pk}/", f"/dev/inbox/{ours.pk}/html/"):
        assert mallory.get(path).status_code == 404
        assert Client().get(path).status_code == 404
    assert alice.get(f"/dev/inbox/{theirs.pk}/").status_code == 404
    detail = alice.get(f"/dev/inbox/{ours.pk}/").content.decode()
    assert "ada@example.com" in detail and "Message-ID" in detail and "Hello Ada" in detail


def test_a_sink_file_claiming_another_workspaces_message_is_not_shown(personas, sink):
    ours = _send(personas.acme, personas.alice, "ada@example.com", "Ada", "a1")
    # Anyone can drop mail into the sink: a file with Acme's ledger id but another recipient is not Acme's.
    forged = (f"To: eve@evil.test\r\nSubject: Forged\r\nMessage-ID: <{ours.pk}.abcdef@evil.test>\r\n"
              "Content-Type: text/plain\r\n\r\nforged\r\n")
    (sink / "ffffffffffffffff.1.eml").write_bytes(forged.encode())
    page = _client(personas.alice).get("/dev/inbox/").content.decode()
    assert "Forged" not in page and "Subject for Ada" in page


def test_message_html_is_served_only_under_a_sandbox(personas, sink):
    ours = _send(personas.acme, personas.alice, "ada@example.com", "Ada", "a1")
    alice = _client(personas.alice)
    response = alice.get(f"/dev/inbox/{ours.pk}/html/")
    assert response.status_code == 200
    csp = response["Content-Security-Policy"]
    assert csp.split(";")[0].strip() == "sandbox" and "allow-scripts" not in csp and "allow-same-origin" not in csp
    assert "script-src 'none'" in csp
    assert response["X-Frame-Options"] == "SAMEORIGIN"  # framable by the message page only
    assert b"Hello Ada" in response.content
    page = alice.get(f"/dev/inbox/{ours.pk}/").content.decode()
    # The message page embeds it in an <iframe sandbox> and never inlines the message's markup.
    assert f'sandbox="" referrerpolicy="no-referrer" src="/dev/inbox/{ours.pk}/html/"' in page
    assert "<script>parent.document" not in page and "&lt;script&gt;parent.document" in page  # raw source, escaped


def test_the_dev_inbox_does_not_exist_in_production(personas, sink, settings):
    ours = _send(personas.acme, personas.alice, "ada@example.com", "Ada", "a1")
    settings.PRODUCTION = False
    alice = _client(personas.alice)
    assert b"Dev inbox" in alice.get("/contacts/").content  # linked in the sidebar in development
    settings.PRODUCTION = True
    for path in ("/dev/inbox/", f"/dev/inbox/{ours.pk}/", f"/dev/inbox/{ours.pk}/html/"):
        assert alice.get(path).status_code == 404
    assert b"Dev inbox" not in alice.get("/contacts/").content
    assert not devinbox.dev_inbox_enabled()
