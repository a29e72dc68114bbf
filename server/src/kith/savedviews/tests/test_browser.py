"""The list layout tools in headless Chromium: choose columns and a custom-attribute sort, save the view, pick it
again, download an export from the Export menu, and edit a contact field inline with the keyboard.

Screenshots go to ``server/var/screenshots`` (savedviews-*.png)."""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from kith.accounts.tests.factories import PASSWORD
from kith.contacts.models import Contact, FieldType
from kith.contacts.tests.factories import (
    CompanyFactory,
    ContactFactory,
    CustomFieldDefinitionFactory,
)
from kith.deals.services import deal_create, pipeline_create
from kith.savedviews.models import SavedView

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


@pytest.fixture
def new_page(browser: Browser) -> Iterator[Callable[[], Page]]:
    contexts = []

    def make() -> Page:
        context = browser.new_context(viewport={"width": 1280, "height": 860}, reduced_motion="reduce",
                                      accept_downloads=True)
        context.set_default_timeout(10_000)
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()


def shot(page: Page, name: str, *, full_page: bool = True) -> None:
    # Open dropdowns are shot without full_page: resizing the viewport for it closes Bootstrap's menus.
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=full_page)


def log_in(page: Page, base_url: str, email: str) -> None:
    page.goto(f"{base_url}/accounts/login/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign In").click()
    page.wait_for_url(f"{base_url}/")


@pytest.fixture
def seats(personas):
    CustomFieldDefinitionFactory(workspace=personas.acme, key="seats", label="Seats", field_type=FieldType.NUMBER)
    for email, seats, stage in [("nine@example.com", 9, "customer"), ("eighty@example.com", 80, "customer"),
                                ("ten@example.com", 10, "customer"), ("lead@example.com", 500, "lead")]:
        ContactFactory(workspace=personas.acme, email=email, lifecycle_stage=stage, attributes={"seats": seats},
                       owner=personas.alice)


def test_choose_columns_sort_save_and_export_a_view(live_server, new_page, personas, seats):
    page = new_page()
    log_in(page, live_server.url, "alice@acme.test")
    page.goto(f"{live_server.url}/contacts/?lifecycle_stage=customer")

    page.get_by_role("button", name="Columns").click()
    form = page.locator(".kith-columns-form")
    for label in ("Name", "Company", "Stage", "Lead status", "Owner", "Tags"):
        form.get_by_label(label, exact=True).uncheck()
    form.get_by_label("Seats").check()
    form.get_by_label("Sort by").select_option("-attr.seats")
    shot(page, "savedviews-column-chooser", full_page=False)
    form.locator("button[type=submit]").click()
    page.wait_for_url("**sort=-attr.seats**")
    rows = page.locator("table tbody tr")
    expect(rows).to_have_count(3)
    expect(rows.first).to_contain_text("eighty@example.com")

    page.get_by_placeholder("Name this view").fill("Big customers")
    page.get_by_label("Share with workspace").check()
    page.get_by_role("button", name="Save view").click()
    expect(page.get_by_role("button", name="Big customers")).to_be_visible()
    shot(page, "savedviews-saved")
    view = SavedView.objects.get(name="Big customers")
    assert (view.query, view.columns, view.sort, view.shared) == (
        "lifecycle_stage=customer", ["email", "attr.seats"], "-attr.seats", True)

    page.goto(f"{live_server.url}/contacts/")
    page.get_by_role("button", name="All contacts").click()
    page.get_by_role("link", name="Big customers").click()
    expect(page.locator("table tbody tr").first).to_contain_text("eighty@example.com")

    page.get_by_role("button", name="Export").click()
    shot(page, "savedviews-export-menu", full_page=False)
    with page.expect_download() as info:
        page.get_by_role("button", name="CSV").click()
    body = Path(info.value.path()).read_text(encoding="utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(body)))
    assert [(r["email"], r["attr.seats"]) for r in rows] == [
        ("eighty@example.com", "80"), ("ten@example.com", "10"), ("nine@example.com", "9")]


def test_edit_a_field_inline_with_the_keyboard(live_server, new_page, personas, seats):
    contact = Contact.objects.get(email="nine@example.com")
    page = new_page()
    log_in(page, live_server.url, "alice@acme.test")
    page.goto(f"{live_server.url}/contacts/{contact.pk}/")

    page.get_by_role("button", name="Edit Seats").click()
    field = page.get_by_label("Seats", exact=True)
    # Autofocus happens once HTMX has processed the swapped-in form, i.e. when its Enter/Escape handlers exist.
    expect(field).to_be_focused()
    field.fill("1e20")
    field.press("Enter")
    expect(page.locator(".invalid-feedback")).to_contain_text("Numbers must lie between")
    shot(page, "savedviews-inline-error")
    expect(page.get_by_label("Seats", exact=True)).to_be_focused()
    page.get_by_label("Seats", exact=True).fill("42")
    page.get_by_label("Seats", exact=True).press("Enter")
    expect(page.locator("#kith-field-attrseats")).to_contain_text("42")

    page.get_by_role("button", name="Edit First name").click()
    expect(page.get_by_label("First name", exact=True)).to_be_focused()
    page.get_by_label("First name", exact=True).press("Escape")
    expect(page.get_by_role("button", name="Edit First name")).to_be_visible()
    shot(page, "savedviews-inline-saved")
    contact.refresh_from_db()
    assert contact.attributes["seats"] == 42


def test_companies_and_deals_lists_carry_the_views_toolbar(live_server, new_page, personas):
    CompanyFactory(workspace=personas.acme, name="Globex", industry="Energy")
    pipeline = pipeline_create(workspace=personas.acme, actor=personas.alice, name="Sales")
    deal_create(workspace=personas.acme, actor=personas.alice, pipeline=pipeline, name="Globex pilot", value=1200)
    page = new_page()
    log_in(page, live_server.url, "alice@acme.test")

    page.goto(f"{live_server.url}/companies/?columns=name,industry,owner&sort=name")
    expect(page.locator("table thead")).to_contain_text("Industry")
    shot(page, "savedviews-companies")
    page.goto(f"{live_server.url}/deals/list/?columns=name,value,stage_name&sort=-value")
    expect(page.locator("table tbody")).to_contain_text("Globex pilot")
    expect(page.get_by_role("button", name="Export")).to_be_visible()
    shot(page, "savedviews-deals")
