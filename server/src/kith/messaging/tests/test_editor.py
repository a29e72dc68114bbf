"""The template editor: live preview against a real contact, errors with the author's line, versions on save,
"send test to me" through the normal send path, and no sending of a template that does not render."""

from __future__ import annotations

import pytest
from django.test import Client

from kith.contacts.services import contact_create
from kith.core.models import AuditEntry
from kith.messaging.backends import memory
from kith.messaging.links import unsubscribe_url
from kith.messaging.models import (
    TEST_SOURCE_PREFIX,
    Channel,
    Message,
    MessageStatus,
    SourceType,
    Suppression,
    Template,
    TemplateVersion,
)
from kith.messaging.services import message_queue, message_send
from kith.messaging.tests.factories import template_make
from kith.messaging.ui.preview import template_preview
from kith.timeline.models import Activity, ActivityKind

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def memory_backend(settings):
    settings.KITH_MESSAGING_EMAIL_BACKEND = "memory"
    memory.outbox.clear()


@pytest.fixture
def alice(personas) -> Client:
    client = Client()
    client.force_login(personas.alice)
    return client


@pytest.fixture
def ada(personas):
    return contact_create(workspace=personas.acme, actor=personas.alice,
                          data={"email": "ada@example.com", "first_name": "Ada", "attributes": {}})


FORM = {"name": "Welcome", "subject": "Hi {{ contact.first_name | default('there') }}", "preheader": "",
        "html": "<p>Hello {{ contact.first_name }}</p>", "text": "", "from_name": "Acme",
        "from_email": "team@acme.test", "reply_to": "", "channel": "email"}


def test_the_live_preview_renders_against_the_chosen_contact(personas, alice, ada):
    response = alice.post("/messaging/templates/preview/", {**FORM, "preview_contact": str(ada.pk)})
    body = response.content.decode()
    assert response.status_code == 200
    assert "Hi Ada" in body and "Hello Ada" in body
    # The HTML is shown only in a sandboxed srcdoc iframe, escaped into the attribute.
    assert 'sandbox=""' in body and "srcdoc=\"&lt;p&gt;Hello Ada&lt;/p&gt;" in body
    # The text part is generated from the HTML when left empty, and says so.
    assert "generated from the HTML" in body
    # A contact of another workspace is never rendered: the sample contact is used instead.
    eve = contact_create(workspace=personas.mallory_inc, actor=personas.mallory,
                         data={"email": "eve@evil.test", "first_name": "Eve"})
    body = alice.post("/messaging/templates/preview/", {**FORM, "preview_contact": str(eve.pk)}).content.decode()
    assert "Eve" not in body and "Hi Sample" in body


def test_template_errors_show_the_authors_line(personas, alice, ada):
    syntax = {**FORM, "html": "<p>one</p>\n<p>two</p>\n<p>{{ contact.first_name }</p>\n"}
    body = alice.post("/messaging/templates/preview/", syntax).content.decode()
    assert 'data-field="html" data-line="3"' in body and "HTML part, line 3" in body
    runtime = {**FORM, "subject": "Hi", "html": "<p>a</p>\n\n\n\n<p>{{ contact.no_such_field }}</p>"}
    body = alice.post("/messaging/templates/preview/", {**runtime, "preview_contact": str(ada.pk)}).content.decode()
    assert 'data-line="5"' in body and "no_such_field" in body
    # Long lines are reflowed for sending; the editor still reports the line the author wrote.
    long_line = "<p>" + " ".join(f'<span class="c{i}">x</span>' for i in range(40)) + "</p>\n{{ oops( }}"
    preview = template_preview(workspace=personas.acme, content={**FORM, "html": long_line}, contact=ada)
    assert [(e.field, e.line) for e in preview.errors] == [("html", 2)]
    # Saving refuses the content, shows the line on the field and creates nothing.
    response = alice.post("/messaging/templates/new/", syntax)
    assert response.status_code == 400 and b"line 3" in response.content
    assert not Template.objects.exists()


def test_saving_creates_a_new_version_each_time_with_history(personas, alice, ada):
    response = alice.post("/messaging/templates/new/", {**FORM, "preview_contact": str(ada.pk)})
    assert response.status_code == 302
    template = Template.objects.get(workspace=personas.acme)
    assert template.current_version.number == 1 and template.current_version.text_generated
    assert "Hello" in template.current_version.text
    edited = {**FORM, "subject": "Welcome aboard, {{ contact.first_name }}", "text": "Plain {{ contact.email }}"}
    alice.post(f"/messaging/templates/{template.pk}/", edited)
    template.refresh_from_db()
    assert template.current_version.number == 2
    assert template.current_version.text == "Plain {{ contact.email }}" and not template.current_version.text_generated
    page = alice.get(f"/messaging/templates/{template.pk}/?contact={ada.pk}").content.decode()
    assert "Version history" in page and "v1" in page and "v2" in page and "Welcome aboard, Ada" in page
    assert AuditEntry.objects.filter(action="template.version_created", target_id=str(template.pk)).count() == 2


def test_viewers_and_outsiders_cannot_save(personas, ada):
    template = template_make(workspace=personas.acme)
    mallory = Client()
    mallory.force_login(personas.mallory)
    assert mallory.post(f"/messaging/templates/{template.pk}/", FORM).status_code == 404
    assert mallory.post(f"/messaging/templates/{template.pk}/test/", {"preview_contact": ada.pk}).status_code == 404
    assert template.versions.count() == 1 and not Message.objects.exists()


def test_an_sms_template_is_created_and_previewed(personas, alice, ada):
    sms = {"name": "Reminder", "text": "Hi {{ contact.first_name }}, see you tomorrow", "channel": "sms"}
    body = alice.post("/messaging/templates/preview/", {**sms, "preview_contact": ada.pk}).content.decode()
    assert "Hi Ada, see you tomorrow" in body
    assert alice.post("/messaging/templates/new/?channel=sms", sms).status_code == 302
    template = Template.objects.get(name="Reminder")
    assert template.channel == Channel.SMS and template.current_version.text == sms["text"]


def test_send_test_to_me_goes_through_the_send_path_to_my_address(personas, alice, ada,
                                                                  django_capture_on_commit_callbacks):
    template = template_make(workspace=personas.acme)
    assert alice.get(f"/messaging/templates/{template.pk}/test/?contact={ada.pk}").status_code == 200
    assert not Message.objects.exists()  # GET only confirms
    with django_capture_on_commit_callbacks(execute=True):
        response = alice.post(f"/messaging/templates/{template.pk}/test/", {"preview_contact": str(ada.pk)},
                              HTTP_HX_REQUEST="true")
    assert response.status_code == 200 and b"Test sent to alice@acme.test" in response.content
    message = Message.objects.get()
    assert message.source_type == SourceType.TRANSACTIONAL and message.source_id.startswith(TEST_SOURCE_PREFIX)
    assert message.to_address == "alice@acme.test" and message.template_version == template.current_version
    assert message.status == MessageStatus.SENT
    assert memory.outbox[0].recipients == ("alice@acme.test",)
    assert b"Hello Ada!" in memory.outbox[0].wire
    # The test went to Alice, not to Ada: Ada's timeline must not say she was e-mailed.
    assert not Activity.objects.filter(contact=ada, kind=ActivityKind.EMAIL_SENT).exists()


def test_a_template_whose_current_version_fails_to_render_is_never_sent(personas, alice, ada):
    template = template_make(workspace=personas.acme)
    # A version that renders for the sample contact but not for Ada (she has no `plan` attribute); written
    # directly, as an older release or a data import could have left it.
    broken = TemplateVersion.objects.create(template=template, number=2, subject="Hi", html="<p>{{ contact.plan }}</p>",
                                            html_inlined="<p>{{ contact.plan }}</p>", text="x")
    template.current_version = broken
    template.save(update_fields=["current_version"])
    response = alice.post(f"/messaging/templates/{template.pk}/test/", {"preview_contact": str(ada.pk)})
    assert response.status_code == 302
    assert not Message.objects.exists()
    follow = alice.get(response["Location"]).content.decode()
    assert "plan" in follow
    # The send path refuses it too: the ledger row fails without anything leaving.
    message = message_queue(workspace=personas.acme, template=template, contact=ada,
                            source_type=SourceType.CAMPAIGN, source_id="c-broken")
    assert message_send(message_id=message.pk) == MessageStatus.FAILED
    message.refresh_from_db()
    assert "Rendering failed" in message.error and memory.outbox == []


def test_unsubscribing_from_a_test_message_never_opts_out_the_contact_it_was_rendered_for(
        personas, alice, ada, django_capture_on_commit_callbacks):
    template = template_make(workspace=personas.acme)
    with django_capture_on_commit_callbacks(execute=True):
        alice.post(f"/messaging/templates/{template.pk}/test/", {"preview_contact": str(ada.pk)})
    message = Message.objects.get()
    path = unsubscribe_url(message_id=message.pk).split("://", 1)[1].split("/", 1)[1]
    assert Client().post(f"/{path}").status_code == 200
    ada.refresh_from_db()
    assert ada.email_consent != "opted_out"
    assert Suppression.objects.filter(workspace=personas.acme, address="alice@acme.test").exists()
    assert not Suppression.objects.filter(address="ada@example.com").exists()
