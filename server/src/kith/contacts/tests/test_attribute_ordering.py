"""``?ordering=attr.<key>``: lists ordered by a custom attribute, paged by keyset cursors that neither skip nor
repeat rows across ties and rows without a value, forwards and backwards."""

from __future__ import annotations

import pytest

from kith.contacts.models import Company, Contact, FieldType
from kith.contacts.tests.factories import CustomFieldDefinitionFactory

pytestmark = pytest.mark.django_db


def _walk(client, url: str) -> tuple[list[int], list[dict]]:
    """Every id by following ``next`` links from ``url``, and the pages' bodies."""
    ids: list[int] = []
    pages: list[dict] = []
    while url:
        response = client.get(url)
        assert response.status_code == 200, response.content
        body = response.json()
        pages.append(body)
        ids += [row["id"] for row in body["results"]]
        url = body["next"]
    return ids, pages


@pytest.fixture
def seated(personas):
    """Contacts with seats 5, 3, 3, 3, none, 10, none, 3 (ties and rows without a value), made in that order."""
    CustomFieldDefinitionFactory(workspace=personas.acme, key="seats", label="Seats", field_type=FieldType.NUMBER)
    made = []
    for n, seats in enumerate([5, 3, 3, 3, None, 10, None, 3]):
        attributes = {} if seats is None else {"seats": seats}
        made.append(Contact.objects.create(workspace=personas.acme, email=f"c{n}@example.com", attributes=attributes))
    return made


def _expected(contacts, *, descending: bool) -> list[int]:
    with_value = [c for c in contacts if "seats" in c.attributes]
    without = [c for c in contacts if "seats" not in c.attributes]
    ordered = sorted(with_value, key=lambda c: (c.attributes["seats"], c.pk), reverse=descending)
    return [c.pk for c in ordered] + sorted((c.pk for c in without), reverse=descending)


@pytest.mark.parametrize("page_size", [1, 2, 3, 50])
def test_ascending_pages_cover_every_row_once_with_ties_by_id_and_nulls_last(seated, alice_api, page_size):
    ids, _ = _walk(alice_api, f"/api/v1/contacts/?ordering=attr.seats&page_size={page_size}")

    assert ids == _expected(seated, descending=False)
    assert ids[-2:] == [seated[4].pk, seated[6].pk]  # no value: last, by id


@pytest.mark.parametrize("page_size", [1, 2, 3])
def test_descending_pages_put_rows_without_a_value_last_too(seated, alice_api, page_size):
    ids, _ = _walk(alice_api, f"/api/v1/contacts/?ordering=-attr.seats&page_size={page_size}")

    assert ids == _expected(seated, descending=True)
    assert ids[0] == seated[5].pk  # 10 seats: numbers compare as numbers, not as text ("10" < "3")


def test_previous_links_walk_back_through_the_same_pages(seated, alice_api):
    _, pages = _walk(alice_api, "/api/v1/contacts/?ordering=attr.seats&page_size=3")
    assert pages[0]["previous"] is None
    last = pages[-1]
    back = alice_api.get(last["previous"]).json()

    assert [row["id"] for row in back["results"]] == [row["id"] for row in pages[-2]["results"]]
    assert back["next"] is not None and [r["id"] for r in alice_api.get(back["next"]).json()["results"]] == [
        row["id"] for row in last["results"]]


def test_rows_added_while_paging_are_neither_skipped_nor_repeated(seated, alice_api):
    first = alice_api.get("/api/v1/contacts/?ordering=attr.seats&page_size=3").json()
    # A new contact sorting before the cursor does not shift the next page (an offset cursor would repeat a row).
    Contact.objects.create(workspace=seated[0].workspace, email="early@example.com", attributes={"seats": 1})
    rest, _ = _walk(alice_api, first["next"])

    seen = [row["id"] for row in first["results"]] + rest
    assert len(seen) == len(set(seen)) == len(seated)


def test_attribute_ordering_combines_with_attribute_filters(seated, alice_api):
    ids, _ = _walk(alice_api, "/api/v1/contacts/?ordering=-attr.seats&attr.seats=3&page_size=2")

    assert ids == sorted([seated[i].pk for i in (1, 2, 3, 7)], reverse=True)


def test_text_and_date_attributes_order_too(personas, alice_api):
    CustomFieldDefinitionFactory(workspace=personas.acme, key="renewal", label="Renewal", field_type=FieldType.DATE)
    late = Contact.objects.create(workspace=personas.acme, email="a@example.com", attributes={"renewal": "2026-12-01"})
    early = Contact.objects.create(workspace=personas.acme, email="b@example.com", attributes={"renewal": "2025-01-31"})

    ids, _ = _walk(alice_api, "/api/v1/contacts/?ordering=attr.renewal&page_size=1")

    assert ids == [early.pk, late.pk]


def test_companies_order_by_their_own_attributes(personas, alice_api):
    CustomFieldDefinitionFactory(workspace=personas.acme, object_type="company", key="arr", label="ARR",
                                 field_type=FieldType.NUMBER)
    big = Company.objects.create(workspace=personas.acme, name="Big", domain="big.com", attributes={"arr": 900})
    small = Company.objects.create(workspace=personas.acme, name="Small", domain="small.com", attributes={"arr": 90})

    ids, _ = _walk(alice_api, "/api/v1/companies/?ordering=-attr.arr&page_size=1")

    assert ids == [big.pk, small.pk]


@pytest.mark.parametrize("query", ["ordering=attr.nope", "ordering=attr.seats,-id", "ordering=attr.langs",
                                   "ordering=attr.seats&cursor=not-base64!", "ordering=attr.seats&cursor=e30=",
                                   "ordering=attr.seats&cursor=eyJyIjowLCJoIjp0cnVlLCJ2IjpbXSwiaSI6MX0=",
                                   # {"r":false,"h":true,"v":NaN,"i":1}: not a number a database can compare
                                   "ordering=attr.seats&cursor=eyJyIjpmYWxzZSwiaCI6dHJ1ZSwidiI6TmFOLCJpIjoxfQ=="])
def test_bad_attribute_orderings_and_cursors_are_400(seated, personas, alice_api, query):
    CustomFieldDefinitionFactory(workspace=personas.acme, key="langs", label="Langs",
                                 field_type=FieldType.MULTI_CHOICE, choices=["EN", "DE"])

    response = alice_api.get(f"/api/v1/contacts/?{query}")

    assert response.status_code == 400
    assert set(response.json()["error"]["fields"]) <= {"ordering", "cursor"}


def test_another_workspaces_field_keys_do_not_order(seated, personas, alice_api):
    CustomFieldDefinitionFactory(workspace=personas.mallory_inc, key="secret", label="Secret",
                                 field_type=FieldType.NUMBER)

    assert alice_api.get("/api/v1/contacts/?ordering=attr.secret").status_code == 400


def test_plain_orderings_still_use_the_default_cursor(seated, alice_api):
    ids, _ = _walk(alice_api, "/api/v1/contacts/?page_size=3")

    assert ids == sorted((c.pk for c in seated), reverse=True)
