"""The contact pages in headless Chromium: add a contact, tag it inline, log a note and read it on the timeline,
then filter the list live. Screenshots go to ``server/var/screenshots/contacts-*.png``."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from kith.contacts.models import Contact
from kith.contacts.services import company_create, contact_create
from kith.web.tests.test_browser import browser, log_in, new_page, shot  # noqa: F401  (fixtures by name)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_alice_adds_a_contact_tags_it_logs_a_note_and_filters_the_list(
        live_server, personas, new_page):  # noqa: F811  (the imported fixture, by name)
    globex = company_create(workspace=personas.acme, actor=personas.alice,
                            data={"name": "Globex", "domain": "globex.test"})
    for first, last, stage in (("Fox", "Mulder", "customer"), ("Walter", "Skinner", "opportunity")):
        contact_create(workspace=personas.acme, actor=personas.alice, tags=["fbi"],
                       data={"first_name": first, "last_name": last, "email": f"{first.lower()}@fbi.test",
                             "lifecycle_stage": stage, "owner": personas.bob.pk})
    page = new_page()
    log_in(page, live_server.url, personas.alice.email)

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Contacts").click()
    page.get_by_role("heading", name="Contacts", exact=True).wait_for()
    page.get_by_role("link", name="Add contact").click()
    page.get_by_label("First name").fill("Dana")
    page.get_by_label("Last name").fill("Scully")
    page.get_by_label("E-mail").fill("dana@globex.test")
    page.get_by_label("Company").select_option(label="Globex")
    shot(page, "contacts-new")
    page.get_by_role("button", name="Add contact").click()
    page.get_by_role("heading", name="Dana Scully").wait_for()

    page.get_by_label("Add tags").fill("vip, renewal")
    page.get_by_role("button", name="Add", exact=True).click()
    tags = page.locator("#kith-contact-tags")
    expect(tags).to_contain_text("vip")
    expect(tags).to_contain_text("renewal")

    page.locator("#log-title").fill("Kick-off call")  # the tasks panel has a "Task title" field too
    page.get_by_label("Text").fill("<p>Wants the <b>team plan</b>.</p><script>alert(1)</script>")
    page.get_by_role("button", name="Log it").click()
    timeline = page.locator("#kith-timeline")
    expect(timeline).to_contain_text("Kick-off call")
    expect(timeline.locator("b")).to_have_text("team plan")
    expect(timeline.locator("script")).to_have_count(0)
    shot(page, "contacts-detail")
    contact = Contact.objects.get(email="dana@globex.test")
    assert contact.company_id == globex.pk
    assert set(contact.tags.values_list("name", flat=True)) == {"vip", "renewal"}

    # The note was logged on the contact's company too, so the company page shows it with the contact.
    page.locator(".kith-fields").get_by_role("link", name="Globex", exact=True).click()
    page.get_by_role("heading", name="Globex", exact=True).wait_for()
    expect(page.locator(".kith-timeline")).to_contain_text("Kick-off call")
    expect(page.get_by_role("link", name="Dana Scully")).to_be_visible()
    shot(page, "contacts-company")

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Contacts").click()
    rows = page.locator("#kith-contact-results tbody tr")
    expect(rows).to_have_count(3)
    page.get_by_label("Search", exact=True).fill("fox")
    expect(rows).to_have_count(1)
    expect(page).to_have_url(re.compile(r"/contacts/\?q=fox"))  # hx-push-url keeps the filtered list linkable
    page.get_by_label("Search", exact=True).fill("")
    page.get_by_label("Tag", exact=True).fill("fbi")
    expect(rows).to_have_count(2)
    shot(page, "contacts-list")
