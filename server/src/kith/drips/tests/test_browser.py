"""The sequence pages in headless Chromium: create a sequence, add two steps, switch it on, and see it in the list
with its per-step table. Screenshots go to ``server/var/screenshots`` (drips-*.png)."""

from __future__ import annotations

import os

import pytest
from playwright.sync_api import expect

from kith.drips.models import Sequence
from kith.messaging.tests.factories import template_make
from kith.web.tests.test_browser import browser, log_in, new_page, shot  # noqa: F401  (fixtures by name)

os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_alice_creates_a_sequence_with_two_steps_and_switches_it_on(personas, live_server, new_page):  # noqa: F811
    template_make(workspace=personas.acme, name="Welcome e-mail")
    template_make(workspace=personas.acme, name="Tips e-mail")
    page = new_page()
    log_in(page, live_server.url, "alice@acme.test")

    with page.expect_navigation():
        page.get_by_role("link", name="Drip sequences").click()
    expect(page.get_by_text("No sequences yet")).to_be_visible()
    with page.expect_navigation():
        page.get_by_role("link", name="New sequence").first.click()
    page.get_by_label("Name").fill("Onboarding")
    page.get_by_label("Enrolling event").fill("Signed Up")
    page.get_by_label("Send time").fill("08:30")
    page.get_by_label("Exit events").fill("Subscription Started")
    shot(page, "drips-new")
    with page.expect_navigation():
        page.get_by_role("button", name="Create sequence").click()
    expect(page.get_by_text("Sequence “Onboarding” created. Add its steps.")).to_be_visible()

    add = page.get_by_role("form", name="Add a step")
    add.get_by_label("Template").select_option(label="Welcome e-mail")
    add.get_by_label("Day").fill("0")
    with page.expect_navigation():
        add.get_by_role("button", name="Add step").click()
    add = page.get_by_role("form", name="Add a step")
    add.get_by_label("Template").select_option(label="Tips e-mail")
    add.get_by_label("Day").fill("2")
    with page.expect_navigation():
        add.get_by_role("button", name="Add step").click()
    expect(page.locator("#steps tbody tr")).to_have_count(2)

    with page.expect_navigation():
        page.get_by_role("button", name="Switch on").click()
    expect(page.get_by_text("Sequence switched on.")).to_be_visible()
    expect(page.get_by_role("button", name="Switch off")).to_be_visible()
    shot(page, "drips-edit")

    sequence = Sequence.objects.get(name="Onboarding")
    assert sequence.is_active and sequence.enroll_event == "Signed Up"
    assert [(s.day_offset, s.template.name) for s in sequence.steps.order_by("position")] == [
        (0, "Welcome e-mail"), (2, "Tips e-mail")]

    with page.expect_navigation():
        page.get_by_role("link", name="Drip sequences").click()
    expect(page.get_by_role("link", name="Onboarding")).to_be_visible()
    expect(page.get_by_text("Active", exact=True)).to_be_visible()
    shot(page, "drips-list")
