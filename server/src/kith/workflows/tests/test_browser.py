"""The builder in headless Chromium: alice creates the abandoned-purchase chase from the workflow list, adds its
steps with their forms (a mistake is shown next to the step), activates it, runs it for one contact, and sees the
run on the funnel and on the contact page. Screenshots go to ``server/var/screenshots`` (workflows-*.png)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from kith.accounts.tests.factories import PASSWORD
from kith.contacts.services import contact_create
from kith.messaging.models import Channel
from kith.messaging.services import template_create
from kith.workflows.models import Run, Workflow

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


def shot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"workflows-{name}.png"), full_page=True)


def test_alice_builds_activates_and_test_runs_the_chase(personas, live_server, browser):
    template_create(workspace=personas.acme, actor=None, name="Still thinking?", channel=Channel.SMS,
                    content={"text": "Your car is waiting."})
    dana = contact_create(workspace=personas.acme, actor=None,
                          data={"email": "dana@example.test", "phone": "+14155550123", "first_name": "Dana"})
    context = browser.new_context(viewport={"width": 1280, "height": 900}, reduced_motion="reduce")
    context.set_default_timeout(10_000)
    page = context.new_page()
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Email").fill("alice@acme.test")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign In").click()
    page.wait_for_url(f"{live_server.url}/")

    with page.expect_navigation():
        page.get_by_role("navigation", name="Main").get_by_role("link", name="Workflows").click()
    with page.expect_navigation():
        page.get_by_role("link", name="New workflow").first.click()
    page.get_by_label("Name", exact=True).fill("Abandoned purchase")
    page.get_by_label("Trigger", exact=True).select_option("event")
    page.get_by_label("Event name (optional)").fill("Purchase Abandoned")
    page.get_by_label("Only when property (optional)").fill("total")
    page.get_by_label("is (optional)", exact=True).select_option("gt")
    page.get_by_label("value (optional)", exact=True).fill("1000")
    page.get_by_label("Goal event (optional)").fill("Purchase Completed")
    shot(page, "new")
    with page.expect_navigation():
        page.get_by_role("button", name="Create workflow").click()
    workflow = Workflow.objects.get()
    assert workflow.trigger_config["filters"] == [{"property": "total", "op": "gt", "value": 1000}]

    # Step 1: wait for the purchase, 30 minutes at most.
    page.get_by_label("Step", exact=True).select_option("wait_event")
    with page.expect_navigation():
        page.get_by_role("button", name="Add step").click()
    new = page.get_by_role("region", name="New step")
    new.get_by_label("Step id").fill("wait")
    new.get_by_label("Event", exact=True).fill("Purchase Completed")
    new.get_by_label("Give up after minutes (optional)").fill("30")
    with page.expect_navigation():
        new.get_by_role("button", name="Add step").click()

    # Step 2: the SMS, after the wait. First a mistake: no template chosen is impossible, so give a bad id.
    page.get_by_label("Step", exact=True).select_option("send_sms")
    with page.expect_navigation():
        page.get_by_role("button", name="Add step").click()
    new = page.get_by_role("region", name="New step")
    new.get_by_label("Step id").fill("bad id!")
    with page.expect_navigation():
        new.get_by_role("button", name="Add step").click()
    expect(page.get_by_role("region", name="New step")).to_contain_text("Correct the fields marked below.")
    shot(page, "step-error")
    new = page.get_by_role("region", name="New step")
    new.get_by_label("Step id").fill("sms")
    with page.expect_navigation():
        new.get_by_role("button", name="Add step").click()

    # Wire the timeout branch of the wait to the SMS, and nothing when the purchase arrives.
    card = page.locator("#step-wait")
    card.get_by_text("Edit step").click()
    card.get_by_label("When the event arrives, go to").select_option("")
    card.get_by_label("If it does not, go to").select_option("sms")
    with page.expect_navigation():
        card.get_by_role("button", name="Save step").click()
    workflow.refresh_from_db()
    steps = workflow.current_version.definition["steps"]
    assert [(s["id"], s["kind"], s.get("next"), s.get("timeout_next")) for s in steps] == [
        ("wait", "wait_event", None, "sms"), ("sms", "send_sms", None, None)]
    expect(page.locator("#step-wait")).to_contain_text("timeout → sms")

    with page.expect_navigation():
        page.get_by_role("button", name="Activate").click()
    expect(page.get_by_test_id("workflow-status")).to_have_text("Active")

    page.get_by_label("Contact (e-mail or id)").fill("dana@example.test")
    with page.expect_navigation():
        page.get_by_role("button", name="Run for this contact").click()
    expect(page.get_by_test_id("funnel")).to_contain_text("Entered")
    expect(page.locator("#step-wait")).to_contain_text("1 waiting")
    shot(page, "builder")
    assert Run.objects.get().contact_id == dana.pk

    with page.expect_navigation():
        page.get_by_role("link", name="dana@example.test").click()
    panel = page.get_by_test_id("contact-workflow-runs")
    expect(panel).to_contain_text("Abandoned purchase")
    expect(panel).to_contain_text("Waiting")
    shot(page, "contact-panel")
