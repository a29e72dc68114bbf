"""Settings → Webhooks in headless Chromium: add an endpoint with event checkboxes, copy its secret, send a test
event to a real local receiver, and replay a failed delivery from the log (HTMX). Screenshots go to
``server/var/screenshots/webhooks-*.png``."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from kith.web.tests.test_browser import browser, log_in, new_page, shot  # noqa: F401  (fixtures by name)
from kith.webhooks.models import WebhookDelivery

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_alice_adds_an_endpoint_tests_it_and_replays_a_delivery(live_server, personas, receiver, new_page):  # noqa: F811
    page = new_page()
    log_in(page, live_server.url, personas.alice.email)
    page.goto(f"{live_server.url}/settings/webhooks/")
    page.get_by_role("link", name="Add endpoint").first.click()
    page.get_by_label("Endpoint URL").fill(receiver.url("/fail"))
    page.get_by_label("Description").fill("ERP sync")
    page.get_by_label("contact.created").check()
    page.get_by_label("deal.stage_changed").check()
    shot(page, "webhooks-form")
    page.get_by_role("button", name="Add endpoint").click()
    page.get_by_role("heading", name="Webhook endpoint created").wait_for()
    secret = page.locator("#kith-webhook-secret").input_value()
    assert secret.startswith("whsec_")
    shot(page, "webhooks-secret")

    page.get_by_role("link", name="Done — back to webhooks").click()
    page.get_by_role("link", name="Send test").click()
    page.locator("#kith-modal-content").get_by_role("button", name="Send test event").click()
    log = page.locator("#kith-delivery-rows")
    expect(log).to_contain_text("webhook.test")
    expect(log).to_contain_text("500")
    expect(log).to_contain_text("Retrying")

    page.get_by_role("button", name="Replay").first.click()
    expect(log.locator("tr")).to_have_count(2)
    expect(log).to_contain_text("(replay)")
    shot(page, "webhooks-log")
    assert WebhookDelivery.objects.filter(replay_of__isnull=False).count() == 1
    assert len(receiver.to("/fail")) == 2
