"""The Kanban board in headless Chromium: drag a card to another stage, move another with the keyboard, and read
the stage history on the deal page. Screenshots go to ``server/var/screenshots``."""

from __future__ import annotations

import datetime as dt

import pytest
from playwright.sync_api import expect

from kith.contacts.services import contact_create
from kith.deals import services
from kith.deals.models import Deal, DealStageChange
from kith.web.tests.test_browser import browser, log_in, new_page, shot  # noqa: F401  (fixtures by name)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _board(personas):
    sales = services.pipeline_create(workspace=personas.acme, actor=personas.alice, name="Sales")
    services.pipeline_create(workspace=personas.acme, actor=personas.alice, name="Partnerships")
    contact = contact_create(workspace=personas.acme, actor=personas.alice,
                             data={"email": "dana@globex.test", "first_name": "Dana", "last_name": "Lee"})
    stages = list(sales.stages.order_by("position"))
    specs = [("Globex renewal", 0, "12000", contact), ("Initech pilot", 0, "4500", None),
             ("Umbrella rollout", 1, "30000", contact), ("Hooli upgrade", 2, "8000", None),
             ("Wonka licence", 3, "15500", None)]
    deals = {}
    for name, index, value, who in specs:
        deals[name] = services.deal_create(
            workspace=personas.acme, actor=personas.alice, pipeline=sales, stage=stages[index], name=name,
            value=value, currency="EUR", owner=personas.bob if index % 2 else personas.alice, contact=who,
            expected_close_date=dt.date(2026, 12, 15))
    return sales, deals


def _column(page, name):
    return page.locator(f'.kith-board-column[data-stage-name="{name}"]')


def test_alice_drags_a_card_and_moves_another_with_the_keyboard_and_sees_the_history(
        live_server, personas, new_page):  # noqa: F811  (the imported fixture, by name)
    _, deals = _board(personas)
    page = new_page()
    log_in(page, live_server.url, personas.alice.email)

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Deals").click()
    page.get_by_role("heading", name="Deals", exact=True).wait_for()
    expect(_column(page, "Qualification").locator(".kith-count")).to_have_text("2")
    shot(page, "deals-board")

    # Drag: Globex renewal from Qualification to Proposal.
    card = page.locator(f'.kith-deal-card[data-deal-id="{deals["Globex renewal"].pk}"]')
    card.drag_to(_column(page, "Proposal").locator(".kith-board-cards"))
    expect(_column(page, "Proposal").locator(".kith-count")).to_have_text("2")
    expect(_column(page, "Proposal").get_by_role("link", name="Globex renewal")).to_be_visible()
    assert Deal.objects.get(pk=deals["Globex renewal"].pk).stage.name == "Proposal"

    # Keyboard: focus Initech pilot and press Alt+→ to move it to the next stage; focus follows the card.
    initech = page.locator(f'.kith-deal-card[data-deal-id="{deals["Initech pilot"].pk}"]')
    initech.focus()
    page.keyboard.press("Alt+ArrowRight")
    expect(_column(page, "Needs analysis").get_by_role("link", name="Initech pilot")).to_be_visible()
    expect(page.locator(f'.kith-deal-card[data-deal-id="{deals["Initech pilot"].pk}"]')).to_be_focused()
    expect(page.locator("#kith-board-status")).to_have_text("Initech pilot moved to Needs analysis.")
    expect(_column(page, "Qualification").locator(".kith-count")).to_have_text("0")

    # Keyboard, the other way: the card's "Move to" list.
    page.get_by_label("Move Hooli upgrade to").select_option(label="Move to Negotiation")
    expect(_column(page, "Negotiation").get_by_role("link", name="Hooli upgrade")).to_be_visible()
    shot(page, "deals-board-after-moves")

    page.get_by_role("link", name="Globex renewal").click()
    history = page.locator("#kith-stage-history")
    expect(history).to_contain_text("Qualification → Proposal")
    expect(history).to_contain_text("Created in Qualification")
    shot(page, "deal-detail")
    assert DealStageChange.objects.filter(deal=deals["Initech pilot"], to_stage_name="Needs analysis").exists()
    assert DealStageChange.objects.filter(deal=deals["Hooli upgrade"], to_stage_name="Negotiation").exists()


def test_a_move_on_one_screen_shows_on_another_without_a_reload(live_server, personas, new_page):  # noqa: F811
    _, deals = _board(personas)
    alice, bob = new_page(), new_page()
    log_in(alice, live_server.url, personas.alice.email)
    log_in(bob, live_server.url, personas.bob.email)
    for page in (alice, bob):
        page.goto(f"{live_server.url}/deals/")
        expect(_column(page, "Qualification").locator(".kith-count")).to_have_text("2")

    alice.get_by_label("Move Globex renewal to").select_option(label="Move to Negotiation")
    expect(_column(alice, "Negotiation").get_by_role("link", name="Globex renewal")).to_be_visible()

    # Bob did nothing: his board polls its version and re-reads itself within a few seconds.
    expect(_column(bob, "Negotiation").get_by_role("link", name="Globex renewal")).to_be_visible(timeout=15_000)
    expect(_column(bob, "Qualification").locator(".kith-count")).to_have_text("1")
    expect(bob.locator("#kith-board-status")).to_have_text("The board was updated.")
