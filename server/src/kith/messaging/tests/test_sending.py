"""Templates → ledger → send: versions, at-most-once, suppression, retries and permanent failures."""

from __future__ import annotations

import datetime as dt
import email
import email.policy

import pytest

from kith.contacts.models import ConsentState
from kith.contacts.services import contact_create
from kith.core import clock
from kith.messaging.backends import memory
from kith.messaging.models import (
    Message,
    MessageStatus,
    SourceType,
    Suppression,
    SuppressionReason,
)
from kith.messaging.rendering import TemplateRenderError
from kith.messaging.sending import _claim
from kith.messaging.services import (
    message_queue,
    message_send,
    message_unsubscribe,
    suppression_add,
    template_version_create,
)
from kith.messaging.tests.factories import template_make
from kith.timeline.models import Activity, ActivityKind

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def memory_backend(settings):
    settings.KITH_MESSAGING_EMAIL_BACKEND = "memory"
    memory.outbox.clear()
    yield
    memory.outbox.clear()


@pytest.fixture
def ada(personas):
    return contact_create(workspace=personas.acme, actor=personas.alice,
                          data={"email": "ada@example.com", "first_name": "Ada", "last_name": "Lovelace"})


def _queue(personas, contact, *, source_type=SourceType.CAMPAIGN, source_id="c1", template=None):
    template = template or template_make(workspace=personas.acme, actor=personas.alice)
    return message_queue(workspace=personas.acme, template=template, contact=contact, source_type=source_type,
                         source_id=source_id)


def test_a_template_that_does_not_render_cannot_be_saved(personas):
    with pytest.raises(TemplateRenderError) as caught:
        template_make(workspace=personas.acme, html="<p>ok</p>\n<p>{{ contact.first_name</p>")
    assert caught.value.field == "html" and caught.value.line == 2


def test_versions_are_numbered_and_store_inlined_css_and_generated_text(personas):
    template = template_make(workspace=personas.acme, actor=personas.alice)
    first = template.current_version
    second = template_version_create(template=template, actor=personas.alice,
                                     content={"subject": "v2", "html": "<p>Second</p>", "from_email": "a@acme.test"})
    assert (first.number, second.number) == (1, 2)
    assert 'style="color: #333' in first.html_inlined
    assert first.text_generated and "Hello" in first.text
    template.refresh_from_db()
    assert template.current_version_id == second.pk


def test_a_queued_marketing_message_is_sent_once_with_unsubscribe_headers_and_recorded(personas, ada):
    message = _queue(personas, ada)
    assert message_send(message_id=message.pk) == MessageStatus.SENT
    message.refresh_from_db()
    assert message.status == MessageStatus.SENT and message.provider_message_id.startswith("memory-")
    assert message.subject == "Welcome, Ada" and message.sent_at is not None
    assert message.template_version.number == 1
    [sent] = memory.outbox
    parsed = email.message_from_bytes(sent.wire, policy=email.policy.default)
    assert parsed["To"] == "Ada Lovelace <ada@example.com>"
    assert parsed["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert f"/u/{message.pk}:" in parsed["List-Unsubscribe"]
    html = parsed.get_body(("html",)).get_content()
    assert f"/u/{message.pk}:" in html and "https://shop.example.com/new" not in html and "/t/" in html
    activity = Activity.objects.get(contact=ada, kind=ActivityKind.EMAIL_SENT)
    assert activity.data["message_id"] == message.pk


def test_the_same_source_and_contact_queue_one_message(personas, ada):
    template = template_make(workspace=personas.acme)
    first = _queue(personas, ada, template=template)
    again = _queue(personas, ada, template=template)
    assert first.pk == again.pk
    assert Message.objects.count() == 1


def test_a_crash_between_claim_and_send_never_sends_twice(personas, ada):
    message = _queue(personas, ada)
    # Given a worker that claimed the row and died before the provider call (or before recording its answer) …
    assert _claim(message.pk)
    # … a rerun of the job, a duplicate doorbell or a second worker finds the row taken and sends nothing.
    assert message_send(message_id=message.pk) == MessageStatus.SENDING
    assert message_send(message_id=message.pk) == MessageStatus.SENDING
    assert memory.outbox == []


def test_a_sent_message_is_not_sent_again_on_rerun(personas, ada):
    message = _queue(personas, ada)
    message_send(message_id=message.pk)
    assert message_send(message_id=message.pk) == MessageStatus.SENT
    assert len(memory.outbox) == 1


def test_a_suppressed_address_gets_no_marketing_message(personas, ada):
    suppression_add(workspace=personas.acme, address=" ADA@example.com ", reason=SuppressionReason.MANUAL)
    message = _queue(personas, ada)
    assert message_send(message_id=message.pk) == MessageStatus.SUPPRESSED
    assert memory.outbox == []


def test_an_opted_out_contact_gets_no_marketing_message(personas):
    contact = contact_create(workspace=personas.acme, actor=personas.alice,
                             data={"email": "out@example.com", "email_consent": ConsentState.OPTED_OUT})
    message = _queue(personas, contact)
    assert message_send(message_id=message.pk) == MessageStatus.SUPPRESSED


def test_transactional_messages_ignore_the_marketing_suppression_list(personas, ada):
    suppression_add(workspace=personas.acme, address="ada@example.com", reason=SuppressionReason.UNSUBSCRIBE)
    message = _queue(personas, ada, source_type=SourceType.TRANSACTIONAL)
    assert message_send(message_id=message.pk) == MessageStatus.SENT
    parsed = email.message_from_bytes(memory.outbox[0].wire, policy=email.policy.default)
    assert parsed["List-Unsubscribe"] is None


def test_a_permanent_refusal_is_recorded_and_not_retried(personas):
    contact = contact_create(workspace=personas.acme, actor=personas.alice, data={"email": "reject@example.com"})
    message = _queue(personas, contact)
    assert message_send(message_id=message.pk) == MessageStatus.FAILED
    message.refresh_from_db()
    assert message.error.startswith("550") and message.attempts == 1
    assert message_send(message_id=message.pk) == MessageStatus.FAILED


def test_throttling_defers_with_backoff_then_fails_after_the_last_attempt(personas):
    contact = contact_create(workspace=personas.acme, actor=personas.alice, data={"email": "defer@example.com"})
    message = _queue(personas, contact)
    assert message_send(message_id=message.pk) == MessageStatus.DEFERRED
    message.refresh_from_db()
    assert message.error.startswith("451")
    assert message.next_attempt_at > clock.now() + dt.timedelta(seconds=50)
    # Not due yet: a doorbell now does nothing.
    assert message_send(message_id=message.pk) == MessageStatus.DEFERRED
    assert Message.objects.get(pk=message.pk).attempts == 1
    status = MessageStatus.DEFERRED
    for _ in range(10):
        Message.objects.filter(pk=message.pk).update(next_attempt_at=clock.now())
        status = message_send(message_id=message.pk)
        if status != MessageStatus.DEFERRED:
            break
    assert status == MessageStatus.FAILED
    assert Message.objects.get(pk=message.pk).attempts == 5


def test_unsubscribing_suppresses_the_address_and_opts_the_contact_out(personas, ada):
    message = _queue(personas, ada)
    message_unsubscribe(message=message)
    message_unsubscribe(message=message)
    ada.refresh_from_db()
    assert ada.email_consent == ConsentState.OPTED_OUT
    assert Suppression.objects.get(workspace=personas.acme).reason == SuppressionReason.UNSUBSCRIBE
    assert Activity.objects.filter(contact=ada, kind=ActivityKind.UNSUBSCRIBED).count() == 1


def test_an_unreachable_smtp_server_defers_the_message_instead_of_leaving_it_claimed(personas, ada, settings):
    settings.KITH_MESSAGING_EMAIL_BACKEND = "smtp"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", 9  # discard port: nothing listens
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    message = _queue(personas, ada)
    assert message_send(message_id=message.pk) == MessageStatus.DEFERRED
    assert "SMTP error" in Message.objects.get(pk=message.pk).error
