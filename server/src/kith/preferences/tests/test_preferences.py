"""The preference centre: signed page, topic choices, the marketing selector and the transactional rule."""

from __future__ import annotations

import pytest
from django.test import Client

from kith.contacts.models import ConsentState, Contact
from kith.contacts.services import contact_create
from kith.core.models import AuditEntry
from kith.messaging.backends import memory
from kith.messaging.models import (
    MessageStatus,
    SourceType,
    Suppression,
    SuppressionReason,
)
from kith.messaging.services import message_queue, message_send, suppression_add
from kith.messaging.tests.factories import template_make
from kith.preferences.models import TopicSubscription
from kith.preferences.selectors import marketing_recipients, transactional_allowed
from kith.preferences.services import preferences_save, topic_archive, topic_create
from kith.preferences.tokens import preferences_token, preferences_url
from kith.timeline.models import Activity

pytestmark = pytest.mark.django_db


@pytest.fixture
def acme(personas):
    ada = contact_create(workspace=personas.acme, actor=personas.alice, data={"email": "ada@example.com",
                                                                             "first_name": "Ada"})
    ben = contact_create(workspace=personas.acme, actor=personas.alice, data={"email": "ben@example.com"})
    news = topic_create(workspace=personas.acme, actor=personas.alice, data={"name": "Product news"})
    events = topic_create(workspace=personas.acme, actor=personas.alice,
                          data={"name": "Events", "default_subscribed": False})
    return personas, ada, ben, news, events


def _page(contact: Contact) -> str:
    return f"/p/{preferences_token(workspace_id=contact.workspace_id, contact_id=contact.pk)}/"


def test_a_tampered_preference_token_is_a_404(acme):
    _, ada, ben, *_ = acme
    token = preferences_token(workspace_id=ada.workspace_id, contact_id=ada.pk)
    client = Client()
    assert client.get(f"/p/{token}/").status_code == 200
    forged_contact = token.replace(f".{ada.pk}:", f".{ben.pk}:")
    assert forged_contact != token
    for bad in (forged_contact, token[:-2] + "xx", f"{ada.workspace_id}.{ada.pk}", "not-a-token"):
        assert client.get(f"/p/{bad}/").status_code == 404
        assert client.post(f"/p/{bad}/", {"unsubscribe_all": "on"}).status_code == 404
    # A genuine token of a contact that was deleted is a 404 too.
    ben_page = _page(ben)
    ben.delete()
    assert client.get(ben_page).status_code == 404
    assert not Suppression.objects.exists()


def test_a_token_of_one_workspace_never_opens_another_workspaces_contact(acme):
    personas, ada, *_ = acme
    # The token binds workspace and contact: the same contact id under mallory's workspace id is another token.
    token = preferences_token(workspace_id=personas.mallory_inc.pk, contact_id=ada.pk)
    assert Client().get(f"/p/{token}/").status_code == 404


def test_get_on_the_preference_page_never_changes_state(acme):
    _, ada, _, _, events = acme
    client = Client()
    before = (TopicSubscription.objects.count(), Suppression.objects.count(), Activity.objects.count(),
              AuditEntry.objects.count())
    for query in ("", "?unsubscribe_all=on", f"?topics={events.pk}"):
        response = client.get(_page(ada) + query)
        assert response.status_code == 200
    assert b"Product news" in response.content and b"Events" in response.content
    ada.refresh_from_db()
    assert ada.email_consent != ConsentState.OPTED_OUT
    assert (TopicSubscription.objects.count(), Suppression.objects.count(), Activity.objects.count(),
            AuditEntry.objects.count()) == before


def test_posting_the_page_saves_topic_choices_with_timeline_and_audit(acme):
    personas, ada, ben, news, events = acme
    # Ada unticks "Product news" (on by default) and ticks "Events" (off by default); no CSRF cookie needed.
    client = Client(enforce_csrf_checks=True)
    response = client.post(_page(ada), {"topics": [str(events.pk)]})
    assert response.status_code == 200
    assert b"Your preferences are saved" in response.content
    assert dict(TopicSubscription.objects.filter(contact=ada).values_list("topic_id", "subscribed")) == {
        news.pk: False, events.pk: True}
    activity = Activity.objects.get(contact=ada, title="Subscription preferences updated")
    assert "Unsubscribed from Product news" in activity.body and "Subscribed to Events" in activity.body
    assert AuditEntry.objects.filter(action="contact.preferences_updated", target_id=str(ada.pk)).exists()
    assert set(marketing_recipients(workspace=personas.acme, topic=news)) == {ben}
    assert set(marketing_recipients(workspace=personas.acme, topic=events)) == {ada}


def test_unsubscribing_from_all_suppresses_and_resubscribing_lifts_only_that(acme):
    personas, ada, ben, news, _ = acme
    client = Client()
    client.post(_page(ada), {"topics": [str(news.pk)], "unsubscribe_all": "on"})
    ada.refresh_from_db()
    assert ada.email_consent == ConsentState.OPTED_OUT
    assert Suppression.objects.get(address="ada@example.com").reason == SuppressionReason.UNSUBSCRIBE
    assert ada not in marketing_recipients(workspace=personas.acme)
    client.post(_page(ada), {"topics": [str(news.pk)]})
    ada.refresh_from_db()
    assert ada.email_consent == ConsentState.OPTED_IN
    assert not Suppression.objects.filter(address="ada@example.com").exists()
    assert ada in marketing_recipients(workspace=personas.acme, topic=news)
    # A hard bounce is not the contact's to lift.
    suppression_add(workspace=personas.acme, address="ben@example.com", reason=SuppressionReason.HARD_BOUNCE)
    response = client.post(_page(ben), {"topics": [str(news.pk)]})
    assert b"does not send marketing e-mail to this address" in response.content
    assert Suppression.objects.get(address="ben@example.com").reason == SuppressionReason.HARD_BOUNCE


def test_topic_opt_out_excludes_from_marketing_selector_but_not_transactional(acme, settings):
    personas, ada, ben, news, _ = acme
    settings.KITH_MESSAGING_EMAIL_BACKEND = "memory"
    preferences_save(workspace=personas.acme, contact=ada, subscribed_topic_ids=set(), unsubscribe_all=False)
    assert set(marketing_recipients(workspace=personas.acme, topic=news)) == {ben}
    assert set(marketing_recipients(workspace=personas.acme)) == {ada, ben}
    assert transactional_allowed(workspace=personas.acme, address=ada.email)
    # The real send path: a transactional message to Ada goes out despite her topic opt-out.
    memory.outbox.clear()
    template = template_make(workspace=personas.acme)
    message = message_queue(workspace=personas.acme, template=template, contact=ada,
                            source_type=SourceType.TRANSACTIONAL)
    assert message_send(message_id=message.pk) == MessageStatus.SENT


def test_the_marketing_selector_excludes_suppressed_opted_out_and_archived(acme):
    personas, ada, ben, news, _ = acme
    carl = contact_create(workspace=personas.acme, actor=personas.alice, data={"email": "carl@example.com"})
    dora = contact_create(workspace=personas.acme, actor=personas.alice,
                          data={"email": "dora@example.com", "email_consent": ConsentState.OPTED_OUT})
    contact_create(workspace=personas.mallory_inc, actor=personas.mallory, data={"email": "eve@example.com"})
    suppression_add(workspace=personas.acme, address="carl@example.com", reason=SuppressionReason.MANUAL)
    assert set(marketing_recipients(workspace=personas.acme, topic=news)) == {ada, ben}
    assert dora not in marketing_recipients(workspace=personas.acme)
    topic_archive(topic=news, actor=personas.alice)
    assert list(marketing_recipients(workspace=personas.acme, topic=news)) == []
    # A topic of another workspace gives nothing, whatever the contacts.
    foreign = topic_create(workspace=personas.mallory_inc, actor=personas.mallory, data={"name": "Spam"})
    assert list(marketing_recipients(workspace=personas.acme, topic=foreign)) == []
    assert carl not in marketing_recipients(workspace=personas.acme)


@pytest.mark.parametrize("reason,blocked", [
    (SuppressionReason.HARD_BOUNCE, True), (SuppressionReason.COMPLAINT, True),
    (SuppressionReason.UNSUBSCRIBE, False), (SuppressionReason.MANUAL, False), (SuppressionReason.IMPORTED, False),
])
def test_only_hard_bounces_and_complaints_block_transactional_sends(acme, settings, reason, blocked):
    personas, ada, *_ = acme
    settings.KITH_MESSAGING_EMAIL_BACKEND = "memory"
    memory.outbox.clear()
    suppression_add(workspace=personas.acme, address="ADA@example.com ", reason=reason)
    assert transactional_allowed(workspace=personas.acme, address=ada.email) is not blocked
    template = template_make(workspace=personas.acme)
    message = message_queue(workspace=personas.acme, template=template, contact=ada,
                            source_type=SourceType.TRANSACTIONAL)
    assert message_send(message_id=message.pk) == (MessageStatus.SUPPRESSED if blocked else MessageStatus.SENT)
    assert len(memory.outbox) == (0 if blocked else 1)
    # Marketing never goes to any suppressed address.
    campaign = message_queue(workspace=personas.acme, template=template, contact=ada,
                             source_type=SourceType.CAMPAIGN, source_id="c1")
    assert message_send(message_id=campaign.pk) == MessageStatus.SUPPRESSED


def test_preferences_url_is_a_merge_tag_that_opens_the_contacts_page(acme, settings):
    personas, ada, *_ = acme
    settings.KITH_MESSAGING_EMAIL_BACKEND = "memory"
    memory.outbox.clear()
    template = template_make(workspace=personas.acme, name="Prefs",
                             html='<p><a href="{{ preferences_url }}">Manage your e-mail</a></p>')
    message = message_queue(workspace=personas.acme, template=template, contact=ada,
                            source_type=SourceType.CAMPAIGN, source_id="c2")
    assert message_send(message_id=message.pk) == MessageStatus.SENT
    url = preferences_url(workspace_id=ada.workspace_id, contact_id=ada.pk)
    assert url.encode() in memory.outbox[0].wire.replace(b"=\r\n", b"").replace(b"=3D", b"=")
    path = url.removeprefix(settings.KITH_BASE_URL)
    assert b"ada@example.com" in Client().get(path).content
