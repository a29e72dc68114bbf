"""Bulk create/update of companies: POST /api/v1/companies/bulk/ and ``company_bulk_write``."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from kith.contacts.errors import InvalidFields
from kith.contacts.models import Company
from kith.contacts.services import MAX_BULK_ITEMS, company_bulk_write
from kith.contacts.tests.conftest import client_for
from kith.contacts.tests.factories import CompanyFactory
from kith.core.models import AuditEntry
from kith.tasks.tests.helpers import restrict, viewer

pytestmark = pytest.mark.django_db
URL = "/api/v1/companies/bulk/"


def test_good_items_are_saved_and_bad_items_get_their_own_errors(personas):
    globex = CompanyFactory(workspace=personas.acme, name="Globex", domain="globex.com")
    umbrella = CompanyFactory(workspace=personas.acme, name="Umbrella", domain="umbrella.com")
    soylent = CompanyFactory(workspace=personas.acme, name="Soylent", domain="soylent.com")

    results = company_bulk_write(workspace=personas.acme, actor=personas.alice, items=[
        {"name": "Initech", "domain": "https://www.Initech.com/", "owner": personas.bob.pk},
        {"name": "Globex", "domain": "globex.com"},  # as stored: matched by domain, unchanged
        {"id": umbrella.pk, "name": "Umbrella Group"},
        {"domain": "piedpiper.com"},  # a new company needs a name
        {"name": "Initech again", "domain": "initech.com"},  # item 0 names it
        {"id": umbrella.pk, "industry": "Pharma"},  # item 2 names it
        {"id": soylent.pk, "domain": "umbrella.com"},  # another company holds the domain
        {"name": "Hooli", "owner": personas.mallory.pk},
        {"id": 999_999, "name": "Ghost"},
    ])

    assert [r.status for r in results] == ["created", "unchanged", "updated", "error", "error", "error", "error",
                                           "error", "error"]
    assert results[1].id == globex.pk and results[2].id == umbrella.pk
    assert results[3].errors == {"name": ["A company needs a name."]}
    assert "Item 0" in results[4].errors["domain"][0] and "Item 2" in results[5].errors["id"][0]
    assert results[6].errors == {"domain": ["A company with this domain already exists."]}
    assert set(results[7].errors) == {"owner"} and results[8].errors == {"id": ["No such company."]}
    initech = Company.objects.get(domain="initech.com")
    assert (initech.pk, initech.name, initech.owner_id) == (results[0].id, "Initech", personas.bob.pk)
    assert Company.objects.get(pk=umbrella.pk).name == "Umbrella Group"
    assert Company.objects.get(pk=soylent.pk).domain == "soylent.com"
    assert Company.objects.filter(workspace=personas.acme).count() == 4
    actions = sorted(AuditEntry.objects.filter(action__startswith="company.").values_list("action", flat=True))
    assert actions == ["company.created", "company.updated"]


def test_sending_the_same_items_again_creates_nothing(personas):
    items = [{"name": f"Co {n}", "domain": f"co{n}.example"} for n in range(5)]
    first = company_bulk_write(workspace=personas.acme, actor=personas.alice, items=items)
    again = company_bulk_write(workspace=personas.acme, actor=personas.alice, items=items)

    assert {r.status for r in first} == {"created"} and {r.status for r in again} == {"unchanged"}
    assert [r.id for r in first] == [r.id for r in again]
    assert Company.objects.filter(workspace=personas.acme).count() == 5


def test_custom_attributes_are_validated_per_item(personas):
    from kith.contacts.services import custom_field_definition_create

    custom_field_definition_create(workspace=personas.acme, actor=personas.alice, object_type="company",
                                   key="tier", label="Tier", field_type="single_choice", choices=["gold", "silver"])
    results = company_bulk_write(workspace=personas.acme, actor=personas.alice, items=[
        {"name": "Good", "attributes": {"tier": "gold"}}, {"name": "Bad", "attributes": {"tier": "bronze"}}])

    assert [r.status for r in results] == ["created", "error"]
    assert "attributes.tier" in results[1].errors
    assert Company.objects.get(pk=results[0].id).attributes == {"tier": "gold"}


def test_the_writes_are_set_based(personas):
    def queries_for(size: int, offset: int) -> int:
        items = [{"name": f"C{n}", "domain": f"c{n}.example"} for n in range(offset, offset + size)]
        with CaptureQueriesContext(connection) as queries:
            company_bulk_write(workspace=personas.acme, actor=personas.alice, items=items)
        return len(queries)

    # No query per item: 20 times the items cost only the extra statements SQLite's parameter limit splits the
    # INSERTs into (PostgreSQL sends one).
    small, big = queries_for(10, 1000), queries_for(200, 0)
    assert big <= small + 6, (small, big)


def test_more_than_the_limit_is_refused_as_a_whole(personas):
    with pytest.raises(InvalidFields) as caught:
        company_bulk_write(workspace=personas.acme, actor=personas.alice,
                           items=[{"name": "x"}] * (MAX_BULK_ITEMS + 1))
    assert "items" in caught.value.errors
    api = client_for(personas.alice)
    response = api.post(URL, {"items": [{"name": "x"}] * (MAX_BULK_ITEMS + 1)}, format="json")
    assert response.status_code == 400 and "items" in response.json()["error"]["fields"]
    assert not Company.objects.exists()


def test_the_endpoint_answers_per_item_results_and_honours_an_idempotency_key(personas):
    api = client_for(personas.alice)
    payload = {"items": [{"name": "Initech", "domain": "initech.com"}, {"domain": "nameless.com"}]}

    first = api.post(URL, payload, format="json", HTTP_IDEMPOTENCY_KEY="companies-1")
    again = api.post(URL, payload, format="json", HTTP_IDEMPOTENCY_KEY="companies-1")

    assert first.status_code == 200, first.content
    body = first.json()
    assert (body["created"], body["updated"], body["unchanged"], body["errors"]) == (1, 0, 0, 1)
    assert body["results"][1] == {"index": 1, "status": "error", "id": None,
                                  "errors": {"name": ["A company needs a name."]}}
    assert again.json() == body and again["Idempotent-Replayed"] == "true"
    assert Company.objects.filter(workspace=personas.acme).count() == 1
    wrong_shape = api.post(URL, {"items": [{"name": 5}]}, format="json")
    assert wrong_shape.status_code == 400


def test_a_restricted_rep_writes_only_his_companies_and_a_viewer_none(personas):
    restrict(personas)
    alices = CompanyFactory(workspace=personas.acme, name="Alice's", domain="alices.com", owner=personas.alice)
    bobs = CompanyFactory(workspace=personas.acme, name="Bob's", domain="bobs.com", owner=personas.bob)
    bob = client_for(personas.bob)

    body = bob.post(URL, {"items": [
        {"id": alices.pk, "name": "Mine now"}, {"name": "Alice's again", "domain": "alices.com"},
        {"id": bobs.pk, "industry": "Retail"}, {"name": "Bob's new", "domain": "bobs-new.com"},
    ]}, format="json").json()

    assert [r["status"] for r in body["results"]] == ["error", "error", "updated", "created"]
    assert body["results"][0]["errors"] == {"id": ["No such company."]}
    assert Company.objects.get(pk=alices.pk).name == "Alice's"
    assert Company.objects.get(domain="bobs-new.com").owner_id == personas.bob.pk  # his, so he still sees it

    victor = client_for(viewer(personas))
    assert victor.post(URL, {"items": [{"name": "Nope"}]}, format="json").status_code == 403
    assert not Company.objects.filter(name="Nope").exists()
