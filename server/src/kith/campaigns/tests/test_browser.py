"""Create → send → report in headless Chromium. Screenshots go to ``server/var/screenshots`` (campaigns-*.png)."""

from __future__ import annotations

import os

import pytest
from playwright.sync_api import expect

from kith.campaigns.tests.support import contacts_make, segment_make
from kith.messaging.backends import memory
from kith.messaging.tests.factories import template_make
from kith.web.tests.test_browser import browser, log_in, new_page, shot  # noqa: F401 — fixtures

os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_alice_creates_a_campaign_sends_it_and_reads_the_report(live_server, personas, new_page,  # noqa: F811
                                                                 settings):
    settings.KITH_MESSAGING_EMAIL_BACKEND = "memory"
    memory.outbox.clear()
    contacts_make(workspace=personas.acme, count=12)
    template_make(workspace=personas.acme, name="April newsletter")
    segment_make(workspace=personas.acme, name="Everyone")
    page = new_page()
    log_in(page, live_server.url, personas.alice.email)

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Campaigns").click()
    page.get_by_role("heading", name="No campaigns yet").wait_for()
    shot(page, "campaigns-empty")
    page.get_by_role("link", name="New campaign").first.click()
    page.get_by_label("Name", exact=True).fill("April news")
    page.get_by_label("Template", exact=True).select_option(label="April newsletter")
    page.get_by_role("group", name="Segments", exact=True).get_by_label("Everyone").check()
    shot(page, "campaigns-form")
    with page.expect_navigation():
        page.get_by_role("button", name="Create campaign").click()
    page.get_by_role("heading", name="April news").wait_for()
    shot(page, "campaigns-draft")

    with page.expect_navigation():
        page.get_by_test_id("schedule").click()
    expect(page.get_by_test_id("stat-sent")).to_have_text("12")
    expect(page.locator("[data-status]").first).to_have_text("Sent")
    expect(page.get_by_test_id("progress-sent")).to_have_text("12")
    shot(page, "campaigns-report")
    assert len(memory.outbox) == 12

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Campaigns").click()
    expect(page.get_by_role("link", name="April news")).to_be_visible()
    shot(page, "campaigns-list")
    memory.outbox.clear()
