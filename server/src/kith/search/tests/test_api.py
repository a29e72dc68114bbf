"""``GET /api/v1/search/`` and ``?search=`` on the contact, company and deal lists."""

from __future__ import annotations

import pytest

from kith.search.tests.conftest import client_for

pytestmark = pytest.mark.django_db


def test_search_answers_three_groups_best_first(personas, acme_people):
    body = client_for(personas.alice).get("/api/v1/search/", {"q": "Analytical"}).json()
    assert body["query"] == "analytical"
    assert [c["id"] for c in body["contacts"]] == [acme_people["ada"].pk]
    assert body["contacts"][0]["company_name"] == "Analytical Engines"
    assert [c["id"] for c in body["companies"]] == [acme_people["engines"].pk]
    assert [d["name"] for d in body["deals"]] == ["Difference engine"]


def test_an_empty_query_answers_empty_groups(personas, acme_people):
    body = client_for(personas.alice).get("/api/v1/search/").json()
    assert body == {"query": "", "contacts": [], "companies": [], "deals": []}


@pytest.mark.parametrize("params", [{"q": "a", "limit": ""}, {"q": "a", "limit": "0"}, {"q": "a", "limit": "51"}, {"q": "a", "limit": "x"},
                                    {"q": ["a", "b"]}, {"q": "a" * 501}])
def test_bad_parameters_are_a_400_naming_them(personas, params):
    response = client_for(personas.alice).get("/api/v1/search/", params)
    assert response.status_code == 400
    assert set(response.json()["error"]["fields"]) <= {"q", "limit"}


def test_limit_caps_each_group(personas, acme_people):
    body = client_for(personas.alice).get("/api/v1/search/", {"q": "ada", "limit": 1}).json()
    assert len(body["contacts"]) == 1


def test_a_restricted_rep_and_mallory_find_only_what_they_may_see(personas, acme_people, restricted_bob):
    bob = client_for(personas.bob).get("/api/v1/search/", {"q": "ada"}).json()
    assert [c["first_name"] for c in bob["contacts"]] == ["Adam"]
    mallory = client_for(personas.mallory).get("/api/v1/search/", {"q": "analytical engines"}).json()
    assert mallory["contacts"] == mallory["companies"] == mallory["deals"] == []
    text = client_for(personas.mallory).get("/api/v1/search/", {"q": "ada"}).content.decode()
    assert "engines.test" not in text and "ada@evil.test" in text


def test_the_lists_search_parameter_uses_full_text(personas, acme_people):
    alice = client_for(personas.alice)

    def ids(url: str, q: str) -> list[int]:
        return [row["id"] for row in alice.get(url, {"search": q}).json()["results"]]

    assert ids("/api/v1/contacts/", "analytical") == [acme_people["ada"].pk]
    assert ids("/api/v1/contacts/", "4155550123") == [acme_people["ada"].pk]
    assert ids("/api/v1/companies/", "engines") == [acme_people["engines"].pk]
    assert ids("/api/v1/deals/", "analytical") == [acme_people["deal"].pk]
    assert ids("/api/v1/contacts/", "%") == []
    assert alice.get("/api/v1/contacts/", {"search": "x" * 501}).status_code == 400
