"""The delivery section of the workspace settings: owners and admins choose providers; nobody else can; the choice
changes where messages go; and it works in a real browser."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.test import Client
from playwright.sync_api import Browser, expect, sync_playwright

from kith.accounts.tests.factories import PASSWORD
from kith.contacts.services import contact_create
from kith.core.models import AuditEntry
from kith.messaging.models import DeliverySettings, MessageStatus, SourceType
from kith.messaging.sending import message_send
from kith.messaging.services import message_queue
from kith.messaging.tests.factories import template_make

os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"  # Playwright's sync API runs an event loop in this thread

URL = "/settings/delivery/"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SCREENSHOTS = Path(__file__).resolve().parents[4] / "var" / "screenshots"
VALID = {"email_backend": "sink", "from_name": "Acme Team", "from_email": "team@acme.test", "reply_to": "",
         "sms_backend": "twilio", "sms_from": "+14155238886"}


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.mark.django_db
def test_an_owner_saves_delivery_settings_and_the_change_is_audited(personas):
    response = _client(personas.alice).post(URL, VALID)
    assert response.status_code == 302
    row = DeliverySettings.objects.get(workspace=personas.acme)
    assert (row.email_backend, row.from_email, row.sms_backend, row.sms_from) == \
        ("sink", "team@acme.test", "twilio", "+14155238886")
    assert AuditEntry.objects.filter(workspace=personas.acme, action="delivery_settings.updated").exists()


@pytest.mark.django_db
def test_the_htmx_section_answers_a_fragment(personas):
    response = _client(personas.alice).get(URL, HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert response.status_code == 200 and 'id="kith-delivery"' in body and "<html" not in body
    assert _client(personas.alice).get("/settings/").content.decode().count('hx-get="/settings/delivery/"') == 1


@pytest.mark.django_db
def test_a_rep_cannot_open_or_change_delivery_settings(personas):
    client = _client(personas.bob)
    assert client.get(URL).status_code == 403
    assert client.post(URL, VALID).status_code == 403
    assert not DeliverySettings.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(("data", "field"), [
    ({**VALID, "email_backend": "carrier-pigeon"}, "email_backend"),
    ({**VALID, "sms_from": ""}, "sms_from"),
    ({**VALID, "from_email": "not an address"}, "from_email"),
])
def test_bad_input_is_shown_on_its_field(personas, data, field):
    response = _client(personas.alice).post(URL, data)
    assert response.status_code == 400
    assert response.context["delivery_form"].errors[field]
    assert not DeliverySettings.objects.exists()


@pytest.mark.django_db
def test_the_form_needs_a_csrf_token(personas):
    client = Client(enforce_csrf_checks=True)
    client.force_login(personas.alice)
    assert client.post(URL, VALID).status_code == 403


@pytest.mark.django_db
def test_the_chosen_backend_and_sender_defaults_are_used_for_the_next_message(personas, settings, tmp_path):
    settings.KITH_DATA_DIR = tmp_path
    _client(personas.alice).post(URL, VALID)
    template = template_make(workspace=personas.acme, from_email="", from_name="")
    assert template.current_version.from_email == "team@acme.test"
    contact = contact_create(workspace=personas.acme, actor=None, data={"email": "ada@example.com"})
    message = message_queue(workspace=personas.acme, template=template, contact=contact,
                            source_type=SourceType.CAMPAIGN, source_id="spring")
    assert message_send(message_id=message.pk) == MessageStatus.SENT
    [written] = list((tmp_path / "mailsink").glob("*.eml"))
    assert b"From: Acme Team <team@acme.test>" in written.read_bytes()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_an_owner_picks_providers_on_the_settings_page(live_server, browser, personas):
    context = browser.new_context(viewport={"width": 1280, "height": 1400}, reduced_motion="reduce")
    context.set_default_timeout(10_000)
    page = context.new_page()
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Email").fill(personas.alice.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign In").click()
    page.wait_for_url(f"{live_server.url}/")
    page.goto(f"{live_server.url}/settings/")
    page.get_by_label("E-mail provider").select_option("postmark")
    page.get_by_label("Default sender address").fill("team@acme.test")
    page.get_by_label("SMS provider").select_option("twilio")
    page.get_by_role("button", name="Save delivery settings").click()
    expect(page.get_by_text("Give the number or sender id messages come from.")).to_be_visible()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "delivery_settings_error.png"), full_page=True)
    page.get_by_label("SMS sender").fill("+14155238886")
    page.get_by_role("button", name="Save delivery settings").click()
    expect(page.get_by_text("Delivery settings saved.")).to_be_visible()
    page.screenshot(path=str(SCREENSHOTS / "delivery_settings.png"), full_page=True)
    row = DeliverySettings.objects.get(workspace=personas.acme)
    assert (row.email_backend, row.sms_backend, row.sms_from) == ("postmark", "twilio", "+14155238886")
    context.close()
