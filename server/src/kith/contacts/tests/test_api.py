import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from kith.accounts.models import Membership, Role
from kith.contacts.models import Contact, CustomFieldDefinition, FieldType, Tag
from kith.contacts.tests.conftest import client_for
from kith.contacts.tests.factories import (
    CompanyFactory,
    ContactFactory,
    CustomFieldDefinitionFactory,
    TagFactory,
)
from kith.core.models import AuditEntry

pytestmark = pytest.mark.django_db


def _ids(response):
    assert response.status_code == 200, response.content
    return [row["id"] for row in response.json()["results"]]


def _fields(response):
    assert response.status_code == 400, response.content
    return response.json()["error"]["fields"]


# --- create, upsert, validation ------------------------------------------------------------------------------
def test_creating_a_contact_whose_email_exists_in_another_case_answers_400_on_email(personas, alice_api):
    first = alice_api.post("/api/v1/contacts/", {"email": "Dana@Example.com"}, format="json")

    second = alice_api.post("/api/v1/contacts/", {"email": "dana@EXAMPLE.com"}, format="json")

    assert first.status_code == 201
    assert first.json()["email"] == "dana@example.com"
    assert "email" in _fields(second)
    assert Contact.objects.filter(workspace=personas.acme).count() == 1


def test_upsert_endpoint_creates_then_updates_the_same_contact(personas, alice_api):
    created = alice_api.post("/api/v1/contacts/upsert/", {"email": "dana@example.com", "tags": ["trial"]},
                             format="json")
    updated = alice_api.post("/api/v1/contacts/upsert/", {"email": "DANA@example.com", "lifecycle_stage": "customer"},
                             format="json")

    assert (created.status_code, updated.status_code) == (201, 200)
    assert updated.json()["id"] == created.json()["id"]
    assert updated.json()["lifecycle_stage"] == "customer"
    assert updated.json()["tags"] == ["trial"]


def test_phone_is_returned_in_e164_and_an_invalid_one_is_a_field_error(alice_api):
    good = alice_api.post("/api/v1/contacts/", {"first_name": "Dana", "phone": "(415) 555-0123"}, format="json")
    bad = alice_api.post("/api/v1/contacts/", {"first_name": "Dana", "phone": "555"}, format="json")

    assert good.json()["phone"] == "+14155550123"
    assert list(_fields(bad)) == ["phone"]


def test_every_invalid_field_is_reported_at_once(alice_api):
    response = alice_api.post("/api/v1/contacts/", {"email": "a@example.com", "timezone": "Nowhere/City",
                                                    "locale": "!!", "owner": 999_999}, format="json")

    assert set(_fields(response)) == {"timezone", "locale", "owner"}


def test_wrong_json_types_are_refused_not_coerced(alice_api):
    response = alice_api.post("/api/v1/contacts/", {"first_name": 42, "engagement_score": "12"}, format="json")

    assert set(_fields(response)) == {"first_name", "engagement_score"}


def test_patch_changes_only_the_given_fields_and_merges_attributes(personas, alice_api):
    CustomFieldDefinitionFactory(workspace=personas.acme, key="seats", field_type=FieldType.NUMBER)
    CustomFieldDefinitionFactory(workspace=personas.acme, key="plan", field_type=FieldType.SINGLE_CHOICE)
    contact = ContactFactory(workspace=personas.acme, first_name="Dana", attributes={"plan": "pro", "seats": 3})

    response = alice_api.patch(f"/api/v1/contacts/{contact.pk}/", {"attributes": {"seats": 5}}, format="json")

    assert response.status_code == 200
    assert response.json()["first_name"] == "Dana"
    assert response.json()["attributes"] == {"plan": "pro", "seats": 5}


def test_delete_answers_204_and_is_audited(personas, alice_api):
    contact = ContactFactory(workspace=personas.acme)

    response = alice_api.delete(f"/api/v1/contacts/{contact.pk}/")

    assert response.status_code == 204
    assert not Contact.objects.filter(pk=contact.pk).exists()
    assert AuditEntry.objects.filter(action="contact.deleted", target_id=str(contact.pk)).exists()


# --- access rules --------------------------------------------------------------------------------------------
def test_restricted_bob_lists_and_reaches_only_his_own_contacts(personas, restricted_bob, bob_api):
    his = ContactFactory(workspace=personas.acme, owner=personas.bob)
    hers = ContactFactory(workspace=personas.acme, owner=personas.alice)

    assert _ids(bob_api.get("/api/v1/contacts/")) == [his.pk]
    assert bob_api.get(f"/api/v1/contacts/{hers.pk}/").status_code == 404
    assert bob_api.patch(f"/api/v1/contacts/{hers.pk}/", {"first_name": "x"}, format="json").status_code == 404
    assert bob_api.post(f"/api/v1/contacts/{hers.pk}/tags/", {"add": ["x"]}, format="json").status_code == 404
    assert bob_api.delete(f"/api/v1/contacts/{hers.pk}/").status_code == 404
    assert Contact.objects.filter(pk=hers.pk).exists()


def test_restricted_bob_owns_what_he_creates(personas, restricted_bob, bob_api):
    response = bob_api.post("/api/v1/contacts/", {"email": "lead@example.com"}, format="json")

    assert response.json()["owner"] == personas.bob.pk
    assert _ids(bob_api.get("/api/v1/contacts/")) == [response.json()["id"]]


def test_viewer_reads_but_every_write_is_forbidden(personas, victor):
    contact = ContactFactory(workspace=personas.acme)
    api = client_for(victor)

    assert api.get("/api/v1/contacts/").status_code == 200
    writes = [
        api.post("/api/v1/contacts/", {"email": "x@example.com"}, format="json"),
        api.patch(f"/api/v1/contacts/{contact.pk}/", {"first_name": "x"}, format="json"),
        api.delete(f"/api/v1/contacts/{contact.pk}/"),
        api.post("/api/v1/contacts/bulk/", {"items": [{"email": "y@example.com"}]}, format="json"),
        api.post(f"/api/v1/contacts/{contact.pk}/tags/", {"add": ["x"]}, format="json"),
        api.post("/api/v1/companies/", {"name": "Globex"}, format="json"),
    ]
    assert [r.status_code for r in writes] == [403] * len(writes)
    assert Contact.objects.filter(workspace=personas.acme).count() == 1


def test_only_owners_admins_and_managers_change_tags_and_custom_fields(personas, bob_api):
    field = {"object_type": "contact", "key": "plan", "label": "Plan", "field_type": "text"}

    assert bob_api.post("/api/v1/custom-fields/", field, format="json").status_code == 403
    assert bob_api.post("/api/v1/tags/", {"name": "vip"}, format="json").status_code == 403
    assert bob_api.get("/api/v1/custom-fields/").status_code == 200

    Membership.objects.filter(workspace=personas.acme, user=personas.bob).update(role=Role.MANAGER)
    assert bob_api.post("/api/v1/custom-fields/", field, format="json").status_code == 201


def test_an_api_key_sees_the_whole_workspace(personas, acme_key_api):
    ContactFactory(workspace=personas.acme, owner=personas.bob)
    ContactFactory(workspace=personas.acme, owner=None)
    ContactFactory(workspace=personas.mallory_inc)

    assert len(_ids(acme_key_api.get("/api/v1/contacts/"))) == 2


# --- lists: filters, search, ordering, query count -------------------------------------------------------------
def test_list_filters_combine(personas, alice_api):
    globex = CompanyFactory(workspace=personas.acme)
    match = ContactFactory(workspace=personas.acme, email="dana@example.com", lifecycle_stage="mql",
                           owner=personas.bob, company=globex, tags=["VIP", "trial"])
    ContactFactory(workspace=personas.acme, lifecycle_stage="mql", tags=["vip"])
    ContactFactory(workspace=personas.acme, lifecycle_stage="customer", owner=personas.bob)

    assert _ids(alice_api.get("/api/v1/contacts/?email=DANA@example.com")) == [match.pk]
    assert _ids(alice_api.get("/api/v1/contacts/?tag=vip&tag=TRIAL")) == [match.pk]
    assert _ids(alice_api.get(f"/api/v1/contacts/?lifecycle_stage=mql&owner={personas.bob.pk}")) == [match.pk]
    assert _ids(alice_api.get(f"/api/v1/contacts/?company={globex.pk}")) == [match.pk]
    assert _ids(alice_api.get("/api/v1/contacts/?tag=unknown")) == []


def test_created_and_updated_ranges_filter(personas, alice_api):
    old = ContactFactory(workspace=personas.acme)
    Contact.objects.filter(pk=old.pk).update(created_at=dt.datetime(2020, 1, 1, tzinfo=dt.UTC))
    new = ContactFactory(workspace=personas.acme)

    assert _ids(alice_api.get("/api/v1/contacts/?created_after=2021-01-01T00:00:00Z")) == [new.pk]
    assert _ids(alice_api.get("/api/v1/contacts/?created_before=2021-01-01T00:00:00%2B02:00")) == [old.pk]
    assert "created_after" in _fields(alice_api.get("/api/v1/contacts/?created_after=yesterday"))


def test_attribute_filters_are_validated_against_definitions(personas, alice_api):
    CustomFieldDefinitionFactory(workspace=personas.acme, key="plan", field_type=FieldType.SINGLE_CHOICE)
    CustomFieldDefinitionFactory(workspace=personas.acme, key="seats", field_type=FieldType.NUMBER)
    pro = ContactFactory(workspace=personas.acme, attributes={"plan": "pro", "seats": 12})
    ContactFactory(workspace=personas.acme, attributes={"plan": "free", "seats": 12})

    assert _ids(alice_api.get("/api/v1/contacts/?attr.plan=PRO&attr.seats=12")) == [pro.pk]
    assert "attr.colour" in _fields(alice_api.get("/api/v1/contacts/?attr.colour=red"))
    assert "attr.seats" in _fields(alice_api.get("/api/v1/contacts/?attr.seats=many"))
    assert "attr.plan" in _fields(alice_api.get("/api/v1/contacts/?attr.plan=platinum"))


def test_attribute_filter_is_an_indexable_containment_query_on_postgresql(personas, alice_api):
    CustomFieldDefinitionFactory(workspace=personas.acme, key="plan", field_type=FieldType.SINGLE_CHOICE)

    with CaptureQueriesContext(connection) as queries:
        alice_api.get("/api/v1/contacts/?attr.plan=pro")

    listing = next(q["sql"] for q in queries if 'FROM "contacts_contact"' in q["sql"])
    # jsonb @> is what the GIN (jsonb_path_ops) index of migration 0002 serves; SQLite extracts the value instead.
    if connection.vendor == "postgresql":
        assert '"contacts_contact"."attributes" @>' in listing
    else:
        assert "JSON_EXTRACT" in listing.upper()


def test_empty_or_repeated_typed_filters_are_a_400_not_ignored(alice_api):
    assert "owner" in _fields(alice_api.get("/api/v1/contacts/?owner="))
    assert "lifecycle_stage" in _fields(alice_api.get("/api/v1/contacts/?lifecycle_stage=lead&lifecycle_stage=mql"))
    assert "search" in _fields(alice_api.get("/api/v1/contacts/?search=a&search=b"))


def test_search_matches_names_and_email_and_ordering_is_whitelisted(personas, alice_api):
    zed = ContactFactory(workspace=personas.acme, first_name="Zed", last_name="Quill", email="zq@example.com")
    amy = ContactFactory(workspace=personas.acme, first_name="Amy", last_name="Quill", email="amy@example.com")
    ContactFactory(workspace=personas.acme, first_name="Other", last_name="Person", email="o@example.com")

    assert sorted(_ids(alice_api.get("/api/v1/contacts/?search=quill"))) == sorted([zed.pk, amy.pk])
    assert _ids(alice_api.get("/api/v1/contacts/?search=zq@")) == [zed.pk]
    assert _ids(alice_api.get("/api/v1/contacts/?search=quill&ordering=first_name")) == [amy.pk, zed.pk]
    assert _ids(alice_api.get("/api/v1/contacts/?search=quill&ordering=-first_name")) == [zed.pk, amy.pk]


@pytest.mark.parametrize("page_size", [10, 200])
@pytest.mark.parametrize("caller", ["api key", "restricted session"])
def test_contact_list_runs_a_bounded_number_of_queries(personas, acme_key_api, restricted_bob, page_size, caller,
                                                       django_assert_max_num_queries):
    company = CompanyFactory(workspace=personas.acme)
    for i in range(page_size):
        ContactFactory(workspace=personas.acme, company=company, owner=personas.bob, tags=[f"t{i % 4}", "all"])
    api = acme_key_api if caller == "api key" else client_for(personas.bob)

    with django_assert_max_num_queries(10):
        response = api.get(f"/api/v1/contacts/?page_size={page_size}&tag=all")

    rows = response.json()["results"]
    assert len(rows) == page_size
    assert all(row["company_name"] == company.name and "all" in row["tags"] for row in rows)


def test_cursor_pagination_walks_every_contact_once(personas, alice_api):
    made = {ContactFactory(workspace=personas.acme).pk for _ in range(7)}
    seen, url = [], "/api/v1/contacts/?page_size=3"
    while url:
        body = alice_api.get(url).json()
        seen += [row["id"] for row in body["results"]]
        url = body["next"]

    assert sorted(seen) == sorted(made)


# --- bulk ----------------------------------------------------------------------------------------------------
def test_bulk_endpoint_saves_good_items_and_reports_bad_ones(personas, alice_api):
    response = alice_api.post("/api/v1/contacts/bulk/", {"items": [
        {"email": "ana@example.com", "tags": ["import"]},
        {"email": "ben@example.com", "phone": "12"},
        {"email": "ANA@example.com"},
    ]}, format="json")

    body = response.json()
    assert response.status_code == 200
    assert (body["created"], body["updated"], body["errors"]) == (1, 0, 2)
    assert [r["status"] for r in body["results"]] == ["created", "error", "error"]
    assert body["results"][1]["errors"] == {"phone": ["Enter a valid phone number, such as +14155550123."]}
    assert list(Contact.objects.values_list("email", flat=True)) == ["ana@example.com"]


def test_bulk_over_the_limit_is_refused_whole(alice_api):
    items = [{"email": f"c{i}@example.com"} for i in range(1001)]

    response = alice_api.post("/api/v1/contacts/bulk/", {"items": items}, format="json")

    assert "items" in _fields(response)
    assert not Contact.objects.exists()


# --- tags and custom fields ------------------------------------------------------------------------------------
def test_tags_action_adds_and_removes(personas, alice_api):
    contact = ContactFactory(workspace=personas.acme, tags=["trial"])

    response = alice_api.post(f"/api/v1/contacts/{contact.pk}/tags/", {"add": ["VIP"], "remove": ["Trial"]},
                              format="json")

    assert response.json() == {"tags": ["VIP"]}
    assert alice_api.get(f"/api/v1/contacts/{contact.pk}/tags/").json() == {"tags": ["VIP"]}


def test_tag_names_are_unique_ignoring_case(personas, alice_api):
    TagFactory(workspace=personas.acme, name="VIP")

    response = alice_api.post("/api/v1/tags/", {"name": "vip"}, format="json")

    assert "name" in _fields(response)
    assert Tag.objects.filter(workspace=personas.acme).count() == 1


def test_custom_field_lifecycle_through_the_api(personas, alice_api):
    created = alice_api.post("/api/v1/custom-fields/", {
        "object_type": "contact", "key": "interests", "label": "Interests", "field_type": "multi_choice",
        "choices": ["golf", "tennis"],
    }, format="json")
    pk = created.json()["id"]
    contact = alice_api.post("/api/v1/contacts/", {"email": "a@example.com", "attributes": {"interests": ["GOLF"]}},
                             format="json").json()

    changed = alice_api.patch(f"/api/v1/custom-fields/{pk}/", {"choices": ["golf", "tennis", "chess"],
                                                              "field_type": "text"}, format="json")
    renamed = alice_api.patch(f"/api/v1/custom-fields/{pk}/", {"label": "Hobbies"}, format="json")
    deleted = alice_api.delete(f"/api/v1/custom-fields/{pk}/")

    assert contact["attributes"] == {"interests": ["golf"]}
    assert "field_type" in _fields(changed)
    assert renamed.json()["label"] == "Hobbies"
    assert deleted.status_code == 204
    assert not CustomFieldDefinition.objects.filter(pk=pk).exists()
    assert Contact.objects.get(pk=contact["id"]).attributes == {}


def test_companies_api_normalizes_domains_and_upserts_by_domain(personas, alice_api):
    created = alice_api.post("/api/v1/companies/", {"name": "Globex", "domain": "https://www.Globex.com/"},
                             format="json")
    duplicate = alice_api.post("/api/v1/companies/", {"name": "Globex 2", "domain": "globex.com"}, format="json")
    upserted = alice_api.post("/api/v1/companies/upsert/", {"name": "Globex Corp", "domain": "GLOBEX.com"},
                              format="json")

    assert created.json()["domain"] == "globex.com"
    assert "domain" in _fields(duplicate)
    assert (upserted.status_code, upserted.json()["id"], upserted.json()["name"]) == (
        200, created.json()["id"], "Globex Corp")
    assert _ids(alice_api.get("/api/v1/companies/?domain=www.globex.com")) == [created.json()["id"]]


# --- idempotency ---------------------------------------------------------------------------------------------
def test_a_retried_create_with_the_same_idempotency_key_replays_and_writes_once(personas, alice_api):
    body = {"email": "dana@example.com", "tags": ["trial"]}

    first = alice_api.post("/api/v1/contacts/", body, format="json", HTTP_IDEMPOTENCY_KEY="create-dana-1")
    retry = alice_api.post("/api/v1/contacts/", body, format="json", HTTP_IDEMPOTENCY_KEY="create-dana-1")

    assert (first.status_code, retry.status_code) == (201, 201)
    assert retry.json() == first.json()
    assert retry["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first
    assert Contact.objects.filter(workspace=personas.acme).count() == 1
    assert AuditEntry.objects.filter(action="contact.created").count() == 1


def test_reusing_an_idempotency_key_for_a_different_request_answers_422(personas, alice_api):
    alice_api.post("/api/v1/contacts/", {"email": "dana@example.com"}, format="json", HTTP_IDEMPOTENCY_KEY="k-1")

    response = alice_api.post("/api/v1/contacts/", {"email": "eve@example.com"}, format="json",
                              HTTP_IDEMPOTENCY_KEY="k-1")

    assert response.status_code == 422
    assert response.json()["error"]["code"] == "idempotency_key_reused"
    assert not Contact.objects.filter(email="eve@example.com").exists()


def test_a_retried_bulk_request_replays_its_per_item_results(personas, alice_api):
    body = {"items": [{"email": "a@example.com"}, {"email": "b@example.com", "phone": "12"}]}

    first = alice_api.post("/api/v1/contacts/bulk/", body, format="json", HTTP_IDEMPOTENCY_KEY="bulk-7")
    retry = alice_api.post("/api/v1/contacts/bulk/", body, format="json", HTTP_IDEMPOTENCY_KEY="bulk-7")

    assert retry.json() == first.json()
    assert retry.json()["created"] == 1
    assert Contact.objects.count() == 1
