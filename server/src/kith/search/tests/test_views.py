"""The search box: results page, typeahead suggestions, access and escaping."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db


def test_the_results_page_groups_contacts_companies_and_deals(client, personas, acme_people):
    client.force_login(personas.alice)
    response = client.get("/search/", {"q": "analytical"})
    text = response.content.decode()
    assert response.status_code == 200
    assert "Ada Lovelace" in text and "Analytical Engines" in text and "Difference engine" in text
    assert 'id="kith-search-input"' in text  # the top-bar box is on every page


def test_suggestions_are_a_fragment_with_options_and_a_link_to_all_results(client, personas, acme_people):
    client.force_login(personas.alice)
    text = client.get("/search/suggest/", {"q": "ada"}, HTTP_HX_REQUEST="true").content.decode()
    assert "<html" not in text
    assert text.count('role="option"') == 3  # two contacts and "All results"
    assert "/search/?q=ada" in text


def test_the_query_is_escaped_in_the_page(client, personas, acme_people):
    client.force_login(personas.alice)
    for url in ("/search/", "/search/suggest/"):
        text = client.get(url, {"q": "<script>alert(1)</script>"}).content.decode()
        assert "<script>alert(1)" not in text


def test_a_restricted_rep_and_an_outsider_see_only_their_own(client, personas, acme_people, restricted_bob):
    client.force_login(personas.bob)
    text = client.get("/search/", {"q": "ada"}).content.decode()
    assert "Adam Smith" in text and "Lovelace" not in text
    client.force_login(personas.mallory)
    text = client.get("/search/", {"q": "analytical"}).content.decode()
    assert "Analytical" not in text.replace("analytical", "")
    assert client.get("/search/suggest/", {"q": "difference"}).content.decode().count('role="option"') == 0


def test_anonymous_visitors_are_sent_to_log_in(client):
    assert client.get("/search/", {"q": "a"}).status_code == 302


def test_the_list_pages_search_box_uses_full_text(client, personas, acme_people):
    client.force_login(personas.alice)
    assert "Ada Lovelace" in client.get("/contacts/", {"q": "analytical"}).content.decode()
    assert "Analytical Engines" in client.get("/companies/", {"q": "engines"}).content.decode()
    assert "Difference engine" in client.get("/deals/list/", {"q": "analytical"}).content.decode()
