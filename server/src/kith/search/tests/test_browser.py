"""The search box and a merge with undo in headless Chromium. Screenshots go to ``server/var/screenshots/search-*``."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from kith.contacts.models import Contact, ContactMerge
from kith.contacts.services import company_create, contact_create
from kith.web.tests.test_browser import browser, log_in, new_page, shot  # noqa: F401  (fixtures by name)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_alice_finds_a_contact_with_the_keyboard_then_merges_and_undoes_a_duplicate(
        live_server, personas, new_page):  # noqa: F811  (the imported fixture, by name)
    engines = company_create(workspace=personas.acme, actor=personas.alice,
                             data={"name": "Analytical Engines", "domain": "engines.test"})
    ada = contact_create(workspace=personas.acme, actor=personas.alice, tags=["vip"],
                         data={"first_name": "Ada", "last_name": "Lovelace", "email": "ada@engines.test",
                               "company": engines.pk})
    twin = contact_create(workspace=personas.acme, actor=personas.alice, tags=["newsletter"],
                          data={"first_name": "Ada", "last_name": "Lovelace", "email": "countess@engines.test",
                                "phone": "+442079460000", "company": engines.pk})
    contact_create(workspace=personas.acme, actor=personas.alice,
                   data={"first_name": "Adam", "last_name": "Smith", "email": "adam@wealth.test"})
    page = new_page()
    log_in(page, live_server.url, personas.alice.email)

    # Typeahead: "/" focuses the box, typing lists matches grouped by kind, arrows pick, Enter opens.
    page.keyboard.press("/")
    box = page.get_by_role("combobox", name="Search contacts, companies and deals")
    expect(box).to_be_focused()
    box.press_sequentially("analyt", delay=30)
    suggestions = page.locator("#kith-search-suggestions")
    expect(suggestions).to_be_visible()
    expect(suggestions.get_by_role("option")).to_have_count(4)  # two contacts, the company, "All results"
    shot(page, "search-typeahead", full_page=False)
    box.press("ArrowDown")
    box.press("ArrowDown")
    expect(suggestions.locator(".active")).to_have_count(1)
    box.press("Escape")
    expect(suggestions).to_be_hidden()
    box.press("Enter")  # no highlighted option: the results page
    page.get_by_role("heading", name="Search", exact=True).wait_for()
    expect(page.get_by_role("heading", name=re.compile("Contacts"))).to_contain_text("(2)")
    page.keyboard.press("ArrowDown")
    expect(page.locator(".kith-search-result").first).to_be_focused()
    shot(page, "search-results")

    # The contacts list links the possible duplicates; the contact page shows them too.
    page.goto(f"{live_server.url}/contacts/")
    page.get_by_role("link", name="Possible duplicates").click()
    page.get_by_role("heading", name="Possible duplicates").wait_for()
    expect(page.get_by_role("table")).to_contain_text("Same name at the same company")
    shot(page, "search-duplicates")
    page.goto(f"{live_server.url}/contacts/{ada.pk}/")
    panel = page.get_by_role("region", name="Possible duplicates")
    expect(panel).to_contain_text("countess@engines.test")
    shot(page, "search-contact-duplicates-panel")
    panel.get_by_role("link", name="Compare & merge").click()
    page.get_by_role("heading", name="Merge contacts").wait_for()
    shot(page, "search-merge-compare")
    page.get_by_role("button", name=re.compile("Merge into")).click()
    page.get_by_role("heading", name=re.compile("Merged Ada Lovelace")).wait_for()
    shot(page, "search-merge-detail")
    merged = Contact.objects.get(pk=ada.pk)
    assert merged.phone == "+442079460000"
    assert set(merged.tags.values_list("name", flat=True)) == {"vip", "newsletter"}
    assert not Contact.objects.filter(pk=twin.pk).exists()

    # Undo from the record: the twin comes back with its own id, tag and phone.
    page.get_by_role("link", name="Undo merge").click()
    page.get_by_role("button", name="Undo merge").click()
    page.get_by_role("heading", name="Ada Lovelace").wait_for()
    assert page.url.endswith(f"/contacts/{twin.pk}/")
    assert ContactMerge.objects.get().undone_at is not None
    restored = Contact.objects.get(pk=twin.pk)
    assert list(restored.tags.values_list("name", flat=True)) == ["newsletter"]
    assert Contact.objects.get(pk=ada.pk).phone == ""
    shot(page, "search-merge-undone")
