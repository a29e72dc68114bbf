"""The tracking card on the workspace settings page, driven in headless Chromium (screenshots under
``server/var/screenshots``)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect, sync_playwright

from kith.accounts.tests.factories import PASSWORD
from kith.tracking.models import TrackingSettings

# Playwright's sync API runs an event loop in this thread; Django would otherwise refuse ORM calls made from it.
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


def test_an_owner_switches_click_tracking_off_on_the_settings_page(live_server, browser, personas):
    context = browser.new_context(viewport={"width": 1280, "height": 1000}, reduced_motion="reduce")
    context.set_default_timeout(10_000)
    page = context.new_page()
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Email").fill(personas.alice.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign In").click()
    page.wait_for_url(f"{live_server.url}/")
    page.goto(f"{live_server.url}/settings/")
    opens, clicks = page.get_by_label("Track opens"), page.get_by_label("Track link clicks")
    expect(opens).to_be_checked()
    expect(clicks).to_be_checked()
    clicks.uncheck()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "tracking_settings.png"), full_page=True)
    page.get_by_role("button", name="Save tracking settings").click()
    expect(page.get_by_text("Tracking settings saved.")).to_be_visible()
    expect(page.get_by_label("Track link clicks")).not_to_be_checked()
    expect(page.get_by_label("Track opens")).to_be_checked()
    page.screenshot(path=str(SCREENSHOTS / "tracking_settings_saved.png"), full_page=True)
    row = TrackingSettings.objects.get(workspace=personas.acme)
    assert (row.track_opens, row.track_clicks) == (True, False)
    context.close()
