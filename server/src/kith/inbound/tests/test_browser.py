"""Settings → Incoming webhooks in headless Chromium: add a generic endpoint, copy its URL and secret from the page,
send a signed request to that URL over real HTTP, and see it accepted in the log and on the contact. Screenshots go
to ``server/var/screenshots/inbound-*.png``."""

from __future__ import annotations

import json
import time
import urllib.request

import pytest
from playwright.sync_api import expect

from kith.contacts.models import Contact
from kith.inbound.signatures import generic_signature
from kith.web.tests.test_browser import browser, log_in, new_page, shot  # noqa: F401  (fixtures by name)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_alice_adds_an_endpoint_and_a_signed_request_reaches_the_log(
        live_server, personas, new_page, settings):  # noqa: F811
    settings.KITH_BASE_URL = live_server.url
    page = new_page()
    log_in(page, live_server.url, personas.alice.email)
    page.goto(f"{live_server.url}/settings/inbound-webhooks/")
    shot(page, "inbound-empty")
    with page.expect_navigation():
        page.get_by_role("link", name="Add endpoint").first.click()
    page.get_by_label("Generic (HMAC-signed JSON)").check()
    page.get_by_label("Name").fill("Shop")
    shot(page, "inbound-form")
    with page.expect_navigation():
        page.get_by_role("button", name="Add endpoint").click()
    page.get_by_role("heading", name="Incoming webhook endpoint created").wait_for()
    url = page.locator("#kith-inbound-url").input_value()
    secret = page.locator("#kith-inbound-secret").input_value()
    assert url.startswith(f"{live_server.url}/hooks/in/") and secret.startswith("whsec_")
    shot(page, "inbound-created")

    body = json.dumps({"event": "Order Shipped", "email": "fay@shop.test", "properties": {"order": "A-17"}}).encode()
    stamp = int(time.time())
    request = urllib.request.Request(url, data=body, method="POST", headers={
        "Content-Type": "application/json", "X-Kith-Timestamp": str(stamp),
        "X-Kith-Signature": generic_signature(secret=secret, timestamp=stamp, body=body)})
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200 and json.loads(response.read())["status"] == "accepted"

    with page.expect_navigation():
        page.get_by_role("link", name="Done — back to incoming webhooks").click()
    log = page.locator("#kith-inbound-rows")
    expect(log).to_contain_text("Order Shipped")
    expect(log).to_contain_text("Accepted")
    expect(page.get_by_text("1 accepted")).to_be_visible()
    shot(page, "inbound-log")
    fay = Contact.objects.get(email="fay@shop.test")
    assert fay.events.get(name="Order Shipped").properties == {"order": "A-17"}
