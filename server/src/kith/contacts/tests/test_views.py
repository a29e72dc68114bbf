"""The contacts and companies pages: filters, access rules, inline errors, sanitized notes, tags and tenancy."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from kith.contacts.models import Company, Contact
from kith.contacts.services import company_create, contact_create
from kith.contacts.tests.conftest import restricted_bob, victor  # noqa: F401  (fixtures re-used by name)
from kith.timeline.models import Activity
from kith.timeline.services import activity_log_manual

pytestmark = pytest.mark.django_db


def browser(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _contact(personas: Any, owner: Any = None, tags: tuple[str, ...] = (), **data: Any) -> Contact:
    data.setdefault("owner", (owner or personas.alice).pk)
    return contact_create(workspace=personas.acme, actor=personas.alice, data=data, tags=tags)


def test_the_list_shows_contacts_with_company_owner_and_tags(personas):
    globex = company_create(workspace=personas.acme, actor=personas.alice, data={"name": "Globex"})
    _contact(personas, first_name="Dana", last_name="Scully", email="dana@globex.test", company=globex.pk,
             tags=("vip",))

    html = browser(personas.alice).get("/contacts/").content.decode()

    assert "Dana Scully" in html and "dana@globex.test" in html and "Globex" in html
    assert "vip" in html and "Alice" in html and 'hx-push-url="true"' in html


def test_the_list_filters_by_search_stage_status_owner_and_tag(personas):
    _contact(personas, first_name="Dana", email="dana@globex.test", lifecycle_stage="customer", tags=("vip",))
    _contact(personas, first_name="Fox", email="fox@initech.test", lead_status="contacted", owner=personas.bob)
    client = browser(personas.alice)

    def names(query: str) -> set[str]:
        html = client.get(f"/contacts/?{query}").content.decode()
        return {name for name in ("Dana", "Fox") if name in html}

    assert names("") == {"Dana", "Fox"}
    assert names("q=fo") == {"Fox"}
    assert names("q=dana%40") == {"Dana"}
    assert names("lifecycle_stage=customer") == {"Dana"}
    assert names("lead_status=contacted") == {"Fox"}
    assert names(f"owner={personas.bob.pk}") == {"Fox"}
    assert names("tag=VIP") == {"Dana"}
    assert names("tag=nope") == set()
    # A hand-edited, invalid filter is dropped rather than failing the page.
    assert names("lifecycle_stage=bogus") == {"Dana", "Fox"}


def test_htmx_filtering_returns_only_the_results_block(personas):
    _contact(personas, first_name="Dana", email="dana@globex.test")

    response = browser(personas.alice).get("/contacts/?q=da", HTTP_HX_REQUEST="true")

    html = response.content.decode()
    assert "Dana" in html and "<html" not in html and "kith-list-filters" not in html


def test_the_list_pages_by_keyset_without_counting(personas):
    for number in range(55):
        _contact(personas, email=f"c{number}@example.test")
    client = browser(personas.alice)
    client.get("/contacts/")

    with CaptureQueriesContext(connection) as queries:
        first = client.get("/contacts/").content.decode()
    # The list never counts contacts (the nav's unread-notifications badge counts a handful of its own rows).
    assert not any("COUNT(" in q["sql"].upper() and "CONTACTS_CONTACT" in q["sql"].upper()
                   for q in queries.captured_queries)
    assert len(queries.captured_queries) < 15
    assert "c54@example.test" in first and "c4@example.test" not in first and "Next page" in first

    after = first.split("after=")[1].split('"')[0]
    second = client.get(f"/contacts/?after={after}").content.decode()
    assert "c4@example.test" in second and "c54@example.test" not in second and "Next page" not in second


def test_an_empty_workspace_offers_to_add_a_contact(personas):
    html = browser(personas.alice).get("/contacts/").content.decode()
    assert "No contacts yet" in html and "/contacts/new/" in html


def test_a_restricted_rep_sees_only_their_own_contacts(personas, restricted_bob):  # noqa: F811
    mine = _contact(personas, first_name="Bobs", email="mine@example.test", owner=personas.bob)
    theirs = _contact(personas, first_name="Alices", email="theirs@example.test")
    client = browser(personas.bob)

    html = client.get("/contacts/").content.decode()

    assert "mine@example.test" in html and "theirs@example.test" not in html
    assert client.get(f"/contacts/{mine.pk}/").status_code == 200
    assert client.get(f"/contacts/{theirs.pk}/").status_code == 404


def test_a_viewer_sees_no_edit_controls_and_cannot_post(personas, victor):  # noqa: F811
    contact = _contact(personas, first_name="Dana", email="dana@globex.test", tags=("vip",))
    client = browser(victor)

    html = client.get(f"/contacts/{contact.pk}/").content.decode()

    assert "Dana" in html and "Convert lead" not in html and "Edit" not in html and "Log it" not in html
    for path, data in [(f"/contacts/{contact.pk}/edit/", {"email": "x@example.test"}),
                       (f"/contacts/{contact.pk}/tags/", {"names": "hot"}),
                       (f"/contacts/{contact.pk}/tags/remove/", {"name": "vip"}),
                       (f"/contacts/{contact.pk}/activities/", {"kind": "note", "body": "hi"}),
                       (f"/contacts/{contact.pk}/delete/", {}),
                       ("/contacts/new/", {"email": "new@example.test"}),
                       ("/companies/new/", {"name": "Initech"})]:
        assert client.post(path, data).status_code == 403, path
    assert Contact.objects.filter(pk=contact.pk, tags__name="vip").exists()


def test_the_detail_page_links_convert_lead_and_shows_attributes(personas):
    contact = _contact(personas, first_name="Dana", email="dana@globex.test", phone="+14155550100")

    html = browser(personas.alice).get(f"/contacts/{contact.pk}/").content.decode()

    assert f"/deals/convert/{contact.pk}/" in html and "Convert lead" in html and "+14155550100" in html


def test_create_then_edit_a_contact(personas):
    client = browser(personas.alice)

    response = client.post("/contacts/new/", {"first_name": "Dana", "email": "Dana@Globex.test",
                                              "lifecycle_stage": "lead", "lead_status": "new",
                                              "owner": personas.alice.pk})
    contact = Contact.objects.get(email="dana@globex.test")
    assert response.status_code == 302 and response["Location"] == f"/contacts/{contact.pk}/"

    response = client.post(f"/contacts/{contact.pk}/edit/", {"first_name": "Dana", "last_name": "Scully",
                                                              "email": "dana@globex.test",
                                                              "lifecycle_stage": "customer",
                                                              "lead_status": "contacted"})
    contact.refresh_from_db()
    assert response.status_code == 302 and contact.last_name == "Scully" and contact.lifecycle_stage == "customer"


def test_an_invalid_edit_shows_field_errors_instead_of_failing(personas):
    contact = _contact(personas, email="dana@globex.test")
    _contact(personas, email="taken@globex.test")
    client = browser(personas.alice)

    bad_email = client.post(f"/contacts/{contact.pk}/edit/", {"email": "not-an-email", "lifecycle_stage": "lead",
                                                               "lead_status": "new"})
    taken = client.post(f"/contacts/{contact.pk}/edit/", {"email": "taken@globex.test", "lifecycle_stage": "lead",
                                                           "lead_status": "new"})
    empty = client.post("/contacts/new/", {"lifecycle_stage": "lead", "lead_status": "new"})

    for response in (bad_email, taken, empty):
        assert response.status_code == 400
        assert "is-invalid" in response.content.decode()
    contact.refresh_from_db()
    assert contact.email == "dana@globex.test"


def test_notes_are_sanitized_on_display(personas):
    contact = _contact(personas, email="dana@globex.test")
    client = browser(personas.alice)

    response = client.post(f"/contacts/{contact.pk}/activities/",
                           {"kind": "note", "title": "Kick-off", "body": "<p>Met <b>Dana</b></p><script>alert(1)</script>"
                            '<img src=x onerror="alert(2)">'})
    html = client.get(f"/contacts/{contact.pk}/").content.decode()

    assert response.status_code == 302
    assert "<b>Dana</b>" in html and "Kick-off" in html
    assert "alert(1)" not in html and "onerror" not in html


def test_the_timeline_loads_more(personas):
    contact = _contact(personas, email="dana@globex.test")
    for number in range(25):
        activity_log_manual(workspace=personas.acme, actor=personas.alice, kind="call", title=f"call {number}",
                            contact=contact)
    client = browser(personas.alice)

    first = client.get(f"/contacts/{contact.pk}/").content.decode()
    more = client.get(f"/contacts/{contact.pk}/timeline/?offset=20", HTTP_HX_REQUEST="true").content.decode()

    assert "call 24" in first and "Load more" in first and "call 3<" not in first
    assert "call 3<" in more and "call 24" not in more


def test_tags_are_added_and_removed_inline(personas):
    contact = _contact(personas, email="dana@globex.test", tags=("vip",))
    client = browser(personas.alice)

    added = client.post(f"/contacts/{contact.pk}/tags/", {"names": "hot, Renewal"}, HTTP_HX_REQUEST="true")
    assert added.status_code == 200 and "kith:toast" in added["HX-Trigger"]
    assert {"vip", "hot", "Renewal"} == set(contact.tags.values_list("name", flat=True))
    assert 'id="kith-contact-tags"' in added.content.decode() and "<html" not in added.content.decode()

    removed = client.post(f"/contacts/{contact.pk}/tags/remove/", {"name": "vip"}, HTTP_HX_REQUEST="true")
    assert removed.status_code == 200 and "vip" not in removed.content.decode()
    assert {"hot", "Renewal"} == set(contact.tags.values_list("name", flat=True))

    empty = client.post(f"/contacts/{contact.pk}/tags/", {"names": " , "}, HTTP_HX_REQUEST="true")
    assert empty.status_code == 400 and "Name at least one tag." in empty.content.decode()


def test_delete_asks_first(personas):
    contact = _contact(personas, email="dana@globex.test")
    client = browser(personas.alice)

    assert "Delete contact" in client.get(f"/contacts/{contact.pk}/delete/").content.decode()
    response = client.post(f"/contacts/{contact.pk}/delete/")

    assert response.status_code == 302 and not Contact.objects.filter(pk=contact.pk).exists()


def test_companies_list_detail_create_and_edit(personas):
    client = browser(personas.alice)

    response = client.post("/companies/new/", {"name": "Globex", "domain": "globex.test", "owner": personas.alice.pk})
    company = Company.objects.get(name="Globex")
    assert response.status_code == 302
    _contact(personas, first_name="Dana", email="dana@globex.test", company=company.pk)
    activity_log_manual(workspace=personas.acme, actor=personas.alice, kind="meeting", title="QBR", company=company)

    assert "Globex" in client.get("/companies/?q=glo").content.decode()
    detail = client.get(f"/companies/{company.pk}/").content.decode()
    assert "Dana" in detail and "QBR" in detail and "globex.test" in detail

    bad = client.post(f"/companies/{company.pk}/edit/", {"name": "Globex", "domain": "not a domain"})
    assert bad.status_code == 400 and "is-invalid" in bad.content.decode()
    good = client.post(f"/companies/{company.pk}/edit/", {"name": "Globex Corp", "domain": "globex.test"})
    company.refresh_from_db()
    assert good.status_code == 302 and company.name == "Globex Corp"


def test_mallory_gets_404_for_acme_contacts_and_companies(personas):
    contact = _contact(personas, email="dana@globex.test")
    company = company_create(workspace=personas.acme, actor=personas.alice, data={"name": "Globex"})
    client = browser(personas.mallory)

    for path in (f"/contacts/{contact.pk}/", f"/contacts/{contact.pk}/edit/", f"/companies/{company.pk}/"):
        assert client.get(path).status_code == 404
    assert client.post(f"/contacts/{contact.pk}/tags/", {"names": "x"}).status_code == 404
    assert "dana@globex.test" not in client.get("/contacts/").content.decode()
    assert not Activity.objects.filter(contact=contact).exists()
