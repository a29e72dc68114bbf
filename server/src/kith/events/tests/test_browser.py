"""The event pages in headless Chromium: alice creates a write key, sends an event with it, watches it arrive on
the live debugger (HTMX refresh) and finds it on the contact's timeline. Screenshots go to server/var/screenshots."""

from __future__ import annotations

import base64
import json
import urllib.request

import pytest
from playwright.sync_api import expect

from kith.contacts.models import Contact
from kith.web.tests.test_browser import browser, log_in, new_page, shot  # noqa: F401  (fixtures by name)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _post(url: str, key: str, body: dict) -> int:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST", headers={
        "Content-Type": "application/json",
        "Authorization": "Basic " + base64.b64encode(f"{key}:".encode()).decode()})
    with urllib.request.urlopen(request) as response:
        return response.status


def test_alice_creates_a_write_key_and_watches_her_first_events_arrive(
        live_server, personas, new_page):  # noqa: F811  (the imported fixture, by name)
    page = new_page()
    log_in(page, live_server.url, personas.alice.email)

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Events").click()
    page.get_by_role("heading", name="Events", exact=True).wait_for()
    page.get_by_label("Your mapping").fill("planName = \nmobile = phone")
    page.get_by_role("button", name="Save mapping").click()
    expect(page.get_by_role("cell", name="mobile")).to_be_visible()
    shot(page, "events-settings")

    page.get_by_role("button", name="Create write key").click()
    key = page.locator("#kith-new-key").input_value()
    assert key.startswith("kith_")
    shot(page, "events-write-key")

    page.goto(f"{live_server.url}/settings/events/debugger/")
    expect(page.get_by_text("No events yet")).to_be_visible()
    assert _post(f"{live_server.url}/v1/identify", key, {
        "userId": "user-42", "anonymousId": "visitor-1",
        "traits": {"email": "ada@example.com", "firstName": "Ada", "mobile": "+14155550100"}}) == 200
    assert _post(f"{live_server.url}/v1/track", key, {
        "userId": "user-42", "event": "Purchase Completed", "properties": {"total": 99.5, "currency": "EUR"}}) == 200
    # No reload: the table refreshes itself.
    expect(page.get_by_role("cell", name="Purchase Completed")).to_be_visible(timeout=8000)
    shot(page, "events-debugger")

    contact = Contact.objects.get(workspace=personas.acme, external_id="user-42")
    assert contact.phone == "+14155550100"
    page.goto(f"{live_server.url}/contacts/{contact.pk}/")
    expect(page.get_by_text("Purchase Completed").first).to_be_visible()
    shot(page, "events-contact-timeline")
