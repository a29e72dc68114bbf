"""The messaging pages in headless Chromium: edit a template and watch the live preview follow, see an error with
its line, save a version, send a test to yourself and read it in the dev inbox; then topics, the suppression list
and a contact's public preference page. Screenshots go to ``server/var/screenshots/messaging-*.png``."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from kith.contacts.services import contact_create
from kith.messaging.models import Message, SourceType
from kith.messaging.tests.factories import template_make
from kith.preferences.models import TopicSubscription
from kith.preferences.services import topic_create
from kith.preferences.tokens import preferences_token
from kith.web.tests.test_browser import PHONE, browser, log_in, new_page, shot  # noqa: F401  (fixtures by name)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def sink(settings, tmp_path):
    settings.KITH_DATA_DIR = tmp_path
    settings.KITH_MESSAGING_EMAIL_BACKEND = "sink"
    return tmp_path / "mailsink"


def test_alice_edits_a_template_sends_herself_a_test_and_reads_it_in_the_dev_inbox(
        live_server, personas, new_page, sink):  # noqa: F811
    contact_create(workspace=personas.acme, actor=personas.alice,
                   data={"email": "ada@example.com", "first_name": "Ada", "last_name": "Lovelace"})
    template_make(workspace=personas.acme, name="Welcome")
    page = new_page()
    log_in(page, live_server.url, personas.alice.email)

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Templates").click()
    page.get_by_role("heading", name="Templates", exact=True).wait_for()
    shot(page, "messaging-templates")
    # The preview select only works once htmx has processed the page; wait for the new page's load event
    # (a bare click returns as soon as the navigation starts, and a change fired before that is lost).
    with page.expect_navigation():
        page.get_by_role("link", name="Welcome").click()
    page.get_by_label("Preview as").select_option(label="Ada Lovelace <ada@example.com>")
    subject = page.get_by_test_id("preview-subject")
    expect(subject).to_have_text("Welcome, Ada")
    frame = page.frame_locator("iframe.kith-preview-frame")
    expect(frame.locator("body")).to_contain_text("Hello Ada!")

    page.get_by_label("Subject").fill("Big news for {{ contact.first_name }}")
    expect(subject).to_have_text("Big news for Ada")
    page.get_by_text("Mobile").click()
    expect(page.locator("iframe.kith-preview-frame")).to_have_css("width", "375px")
    shot(page, "messaging-template-editor")

    html = page.get_by_label("HTML part")
    good_html = html.input_value()
    html.fill("<p>Hello</p>\n<p>{{ contact.first_name }</p>")
    errors = page.locator(".kith-preview-errors")
    expect(errors).to_contain_text("HTML part, line 2")
    shot(page, "messaging-template-error")
    html.fill(good_html)
    expect(errors).to_have_count(0)

    page.get_by_role("button", name="Save new version").click()
    expect(page.get_by_text("saved as version 2")).to_be_visible()
    expect(page.get_by_test_id("preview-subject")).to_have_text("Big news for Ada")
    page.get_by_role("link", name="Send test to me").click()
    expect(page.locator("#kith-test-status")).to_contain_text("Test sent to alice@acme.test")
    message = Message.objects.get(source_type=SourceType.TRANSACTIONAL)
    assert message.template_version.number == 2 and message.to_address == "alice@acme.test"

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Dev inbox").click()
    row = page.get_by_role("link", name="Big news for Ada")
    expect(row).to_be_visible()
    expect(page.locator("#kith-inbox-rows")).to_contain_text("Test")
    shot(page, "messaging-dev-inbox")
    row.click()
    expect(page.frame_locator("iframe.kith-inbox-frame").locator("body")).to_contain_text("Hello Ada!")
    shot(page, "messaging-dev-inbox-message")
    page.get_by_role("tab", name="Headers").click()
    expect(page.locator("#pane-headers")).to_contain_text("Message-ID")


def test_topics_suppressions_and_a_contacts_preference_page(live_server, personas, new_page):  # noqa: F811
    ada = contact_create(workspace=personas.acme, actor=personas.alice,
                         data={"email": "ada@example.com", "first_name": "Ada"})
    topic_create(workspace=personas.acme, actor=personas.alice,
                 data={"name": "Events", "description": "Meetups near you", "default_subscribed": False})
    page = new_page()
    log_in(page, live_server.url, personas.alice.email)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Topics").click()
    page.get_by_role("link", name="Add topic").click()
    page.get_by_label("Name").fill("Product news")
    page.get_by_label("Description").fill("What we shipped this month")
    page.get_by_role("button", name="Add topic").click()
    expect(page.get_by_text("Topic “Product news” added.")).to_be_visible()
    shot(page, "messaging-topics")

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Suppressions").click()
    page.get_by_label("E-mail address").fill("bounced@example.com")
    page.get_by_role("button", name="Suppress").click()
    expect(page.locator("#kith-suppression-results")).to_contain_text("bounced@example.com")
    shot(page, "messaging-suppressions")

    # The contact's own page, reached from a message: no login.
    visitor = new_page(PHONE)
    token = preferences_token(workspace_id=personas.acme.pk, contact_id=ada.pk)
    visitor.goto(f"{live_server.url}/p/{token}/")
    visitor.get_by_label("Product news").uncheck()
    visitor.get_by_label("Events").check()
    shot(visitor, "messaging-preferences")
    visitor.get_by_role("button", name="Save preferences").click()
    expect(visitor.get_by_text("Your preferences are saved.")).to_be_visible()
    shot(visitor, "messaging-preferences-saved")
    assert set(TopicSubscription.objects.filter(contact=ada).values_list("topic__name", "subscribed")) == {
        ("Product news", False), ("Events", True)}
