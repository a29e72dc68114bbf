"""The segment editor in headless Chromium: typing a definition updates the live count, a bad condition shows its
path, and saving keeps the segment. Screenshots go to ``server/var/screenshots`` (segments-*.png)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect, sync_playwright

from kith.accounts.tests.factories import PASSWORD
from kith.contacts.models import Contact
from kith.segments.models import Segment

os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SCREENSHOTS = Path(__file__).resolve().parents[4] / "var" / "screenshots"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def test_the_editor_shows_a_live_count_and_errors(personas, live_server, browser):
    for n, stage in enumerate(["customer", "customer", "lead"]):
        Contact.objects.create(workspace=personas.acme, email=f"c{n}@example.test", first_name=f"Contact {n}",
                               lifecycle_stage=stage)
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(10_000)
    page = context.new_page()
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Email").fill("alice@acme.test")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign In").click()
    page.wait_for_url(f"{live_server.url}/")

    page.goto(f"{live_server.url}/segments/new/")
    page.get_by_label("Name").fill("Customers")
    definition = page.get_by_label("Definition")
    definition.fill('{"all": [{"field": "lifecycle_stage", "op": "eq", "value": "customer"}]}')
    expect(page.get_by_test_id("segment-count")).to_have_text("2")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "segments-editor.png"), full_page=True)

    definition.fill('{"all": [{"field": "lifecycle_stage", "op": "eq", "value": "customer"}, {"field": "lang"}]}')
    expect(page.get_by_role("alert")).to_contain_text("all[1]: unknown field 'lang'")
    page.screenshot(path=str(SCREENSHOTS / "segments-editor-error.png"), full_page=True)

    definition.fill("lifecycle_stage=lead")
    expect(page.get_by_test_id("segment-count")).to_have_text("1")
    page.get_by_role("button", name="Create segment").click()
    expect(page.get_by_text("Segment “Customers” saved.")).to_be_visible()
    assert Segment.objects.get().definition == {"all": [{"field": "lifecycle_stage", "op": "eq", "value": "lead"}]}
    page.goto(f"{live_server.url}/segments/")
    expect(page.get_by_role("link", name="Customers")).to_be_visible()
    page.screenshot(path=str(SCREENSHOTS / "segments-list.png"), full_page=True)
    context.close()
