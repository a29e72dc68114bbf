"""The real UI in headless Chromium: sign-up, API keys, the team page, and the phone-sized layout.

Each test saves screenshots to ``server/var/screenshots`` so a person can look at the pages the suite drove.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from django.core import mail
from playwright.sync_api import Browser, Page, expect, sync_playwright

from kith.accounts.models import ApiKey, Invitation, Membership, Role
from kith.accounts.tests.factories import PASSWORD

# Playwright's sync API runs an event loop in this thread; Django would otherwise refuse ORM calls made from it.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = Path(__file__).resolve().parents[4] / "var" / "screenshots"
DESKTOP = {"width": 1280, "height": 860}
PHONE = {"width": 375, "height": 800}


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def new_page(browser: Browser) -> Iterator[Callable[..., Page]]:
    contexts = []

    def make(viewport: dict[str, int] = DESKTOP) -> Page:
        # Reduced motion turns off Bootstrap's fades and slides, so screenshots show finished states.
        context = browser.new_context(viewport=viewport, reduced_motion="reduce")
        context.set_default_timeout(10_000)
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()


def shot(page: Page, name: str, *, full_page: bool = True) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=full_page)


def log_in(page: Page, base_url: str, email: str) -> None:
    page.goto(f"{base_url}/accounts/login/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign In").click()
    page.wait_for_url(f"{base_url}/")


def test_a_new_user_signs_up_verifies_their_address_and_lands_in_their_workspace(live_server, new_page):
    page = new_page()
    page.goto(f"{live_server.url}/accounts/login/")
    shot(page, "login")
    page.get_by_role("link", name="sign up").click()

    page.get_by_label("Email").fill("newbie@example.test")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Password (again)").fill(PASSWORD)
    shot(page, "signup")
    page.get_by_role("button", name="Sign Up").click()
    page.get_by_role("heading", name="Verify Your Email Address").wait_for()

    (message,) = [m for m in mail.outbox if m.to == ["newbie@example.test"]]
    link = re.search(r"https?://\S+/accounts/confirm-email/\S+/", message.body).group(0)
    page.goto(link)
    page.get_by_role("button", name="Confirm").click()

    page.wait_for_url(f"{live_server.url}/")
    page.get_by_role("heading", name="Welcome, newbie").wait_for()
    assert page.title() == "Dashboard · newbie's workspace · Kith"
    assert Membership.objects.get(user__email="newbie@example.test").role == Role.OWNER
    shot(page, "dashboard-new-user")


def test_alice_creates_an_api_key_sees_it_once_and_revokes_it(live_server, personas, new_page):
    page = new_page()
    log_in(page, live_server.url, personas.alice.email)
    shot(page, "dashboard")

    page.get_by_role("navigation", name="Main").get_by_role("link", name="API keys").click()
    page.get_by_role("heading", name="No API keys yet").wait_for()
    page.get_by_role("link", name="Create API key").click()
    page.get_by_label("Name").fill("Storefront")
    page.get_by_label("Write").check()
    page.get_by_role("button", name="Create key").click()

    secret_input = page.get_by_label("API key")
    raw = secret_input.input_value()
    assert raw.startswith("kith_")
    assert page.get_by_text("it will not be shown again").is_visible()
    shot(page, "api-key-shown-once")

    page.get_by_role("link", name="Done — back to API keys").click()
    page.get_by_role("cell", name="Storefront", exact=True).wait_for()
    assert raw.split("_", 2)[2] not in page.content()
    shot(page, "api-keys")

    page.get_by_role("link", name="Revoke Storefront").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_role("heading", name="Revoke this API key?").wait_for()
    expect(dialog.get_by_role("button", name="Revoke key")).to_be_focused()
    shot(page, "api-key-revoke-confirm", full_page=False)
    dialog.get_by_role("button", name="Revoke key").click()

    page.get_by_text("The key “Storefront” was revoked.").wait_for()
    assert ApiKey.objects.get(name="Storefront").revoked_at is not None

    page.get_by_role("link", name="Audit log").click()
    page.get_by_role("heading", name="Audit log").wait_for()
    assert page.locator("td").get_by_text("API key revoked").first.is_visible()
    shot(page, "audit-log")


def test_alice_invites_someone_and_promotes_bob(live_server, personas, new_page):
    page = new_page()
    log_in(page, live_server.url, personas.alice.email)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Team").click()

    page.get_by_label("E-mail address").fill("carol@acme.test")
    page.get_by_label("Role", exact=True).select_option("marketer")
    page.get_by_role("button", name="Send invitation").click()
    page.get_by_text("Invitation sent to carol@acme.test.").wait_for()
    assert Invitation.objects.get(email="carol@acme.test").role == Role.MARKETER
    assert any(m.to == ["carol@acme.test"] for m in mail.outbox)

    role_select = page.get_by_label("Role of bob@acme.test")
    role_select.focus()
    role_select.select_option("manager")
    page.get_by_text("bob@acme.test is now Manager.").wait_for()
    assert Membership.objects.get(user=personas.bob, workspace=personas.acme).role == Role.MANAGER
    # The row was swapped in place and keyboard focus stayed on the (new) select.
    bob_membership = Membership.objects.get(user=personas.bob, workspace=personas.acme)
    assert page.evaluate("document.activeElement.id") == f"role-{bob_membership.pk}"
    shot(page, "members")

    page.get_by_role("button", name="Account menu for alice@acme.test").click()
    page.get_by_role("link", name="Two-factor authentication").click()
    page.get_by_role("heading", name="Two-Factor Authentication").wait_for()
    shot(page, "mfa")


def test_the_dashboard_fits_a_phone_and_the_navigation_slides_in(live_server, personas, new_page):
    page = new_page(PHONE)
    log_in(page, live_server.url, personas.alice.email)
    page.get_by_role("heading", name="Welcome, Alice Owner").wait_for()
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    assert not page.get_by_role("navigation", name="Main").is_visible()
    shot(page, "mobile-dashboard")

    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent.trim()") == "Skip to main content"

    page.get_by_role("button", name="Open navigation").click()
    nav = page.get_by_role("navigation", name="Main")
    nav.get_by_role("link", name="Team").wait_for(state="visible")
    expect(page.locator("#kith-sidebar")).to_have_class(re.compile(r"\bshow\b"))
    shot(page, "mobile-navigation", full_page=False)

    nav.get_by_role("link", name="Team").click()
    page.get_by_role("heading", name="Team", exact=True).wait_for()
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    shot(page, "mobile-members")
