"""The segment API: CRUD, preview, members, errors that name the bad condition, and the access rules."""

from __future__ import annotations

from typing import Any

import pytest

from kith.accounts.models import Membership
from kith.accounts.tests.factories import MembershipFactory, UserFactory
from kith.contacts.models import Contact, ContactTag, CustomFieldDefinition, Tag
from kith.contacts.tests.conftest import client_for
from kith.core.models import AuditEntry
from kith.segments.models import Segment

pytestmark = pytest.mark.django_db


def _contact(personas: Any, email: str, *, owner: Any = None, tag: str | None = None, **fields: Any) -> Contact:
    contact = Contact.objects.create(workspace=personas.acme, email=email, owner=owner, **fields)
    if tag:
        found, _ = Tag.objects.get_or_create(workspace=personas.acme, name_key=Tag.key_for(tag),
                                             defaults={"name": tag})
        ContactTag.objects.create(contact=contact, tag=found)
    return contact


def _error(response: Any) -> str:
    assert response.status_code == 400, response.content
    return response.json()["error"]["fields"]["definition"][0]


def test_alice_creates_previews_lists_members_updates_and_deletes_a_segment(personas):
    api = client_for(personas.alice)
    _contact(personas, "vip@example.test", tag="vip", lifecycle_stage="customer")
    _contact(personas, "plain@example.test")
    definition = {"all": [{"tag": "vip"}, {"field": "lifecycle_stage", "op": "eq", "value": "customer"}]}

    preview = api.post("/api/v1/segments/preview/", {"definition": definition}, format="json")
    assert preview.status_code == 200, preview.content
    assert preview.json()["count"] == 1 and preview.json()["sample"][0]["email"] == "vip@example.test"

    created = api.post("/api/v1/segments/", {"name": "VIP customers", "definition": definition}, format="json")
    assert created.status_code == 201, created.content
    url = f"/api/v1/segments/{created.json()['id']}/"
    assert api.get(url).json()["definition"] == definition
    members = api.get(url + "contacts/")
    assert members.status_code == 200
    assert [c["email"] for c in members.json()["results"]] == ["vip@example.test"]

    patched = api.patch(url, {"definition": {"tag": "vip", "op": "not_has"}}, format="json")
    assert patched.status_code == 200, patched.content
    assert [c["email"] for c in api.get(url + "contacts/").json()["results"]] == ["plain@example.test"]
    assert AuditEntry.objects.filter(action="segment.updated").exists()
    assert api.delete(url).status_code == 204
    assert not Segment.objects.exists()


def test_members_are_cursor_paginated(personas):
    api = client_for(personas.alice)
    for n in range(5):
        _contact(personas, f"c{n}@example.test", tag="vip")
    segment = Segment.objects.create(workspace=personas.acme, name="VIP", definition={"tag": "vip"})
    first = api.get(f"/api/v1/segments/{segment.pk}/contacts/?page_size=2").json()
    second = api.get(first["next"]).json()
    assert [c["email"] for c in first["results"]] == ["c4@example.test", "c3@example.test"]
    assert [c["email"] for c in second["results"]] == ["c2@example.test", "c1@example.test"]


def test_the_text_form_is_accepted_and_stored_as_a_tree(personas):
    api = client_for(personas.alice)
    CustomFieldDefinition.objects.create(workspace=personas.acme, object_type="contact", key="plan", label="Plan",
                                         field_type="text")
    _contact(personas, "en-pro@example.test", locale="en", attributes={"plan": "pro"})
    _contact(personas, "en@example.test", locale="en")
    assert api.post("/api/v1/segments/preview/", {"definition": "language=en"}, format="json").json()["count"] == 2
    created = api.post("/api/v1/segments/", {"name": "English pros", "definition": "language=en&plan=pro"},
                       format="json")
    assert created.status_code == 201, created.content
    assert created.json()["definition"] == {"all": [{"field": "locale", "op": "eq", "value": "en"},
                                                    {"attr": "plan", "op": "eq", "value": "pro"}]}


def test_invalid_definitions_are_400s_naming_the_condition(personas):
    api = client_for(personas.alice)
    bad = {"all": [{"tag": "vip"}, {"any": [{"field": "lang", "op": "eq", "value": "en"}]}]}
    assert _error(api.post("/api/v1/segments/preview/", {"definition": bad}, format="json")) == \
        "all[1].any[0]: unknown field 'lang'"
    assert _error(api.post("/api/v1/segments/", {"name": "Bad", "definition": bad}, format="json")) == \
        "all[1].any[0]: unknown field 'lang'"
    missing = api.post("/api/v1/segments/", {"definition": {"tag": "vip"}}, format="json")
    assert missing.status_code == 400 and "name" in missing.json()["error"]["fields"]
    assert _error(api.post("/api/v1/segments/preview/", {"definition": "no pairs here"}, format="json"))
    assert not Segment.objects.exists()


def test_a_segment_cannot_be_made_to_refer_to_itself_or_deleted_while_used(personas):
    api = client_for(personas.alice)
    base = api.post("/api/v1/segments/", {"name": "Base", "definition": {"tag": "vip"}}, format="json").json()
    user = api.post("/api/v1/segments/", {"name": "User", "definition": {"segment": base["id"]}},
                    format="json").json()
    cycle = api.patch(f"/api/v1/segments/{base['id']}/", {"definition": {"segment": user["id"]}}, format="json")
    assert "a cycle" in _error(cycle)
    refused = api.delete(f"/api/v1/segments/{base['id']}/")
    assert refused.status_code == 409 and "User" in refused.json()["error"]["message"]


def test_a_restricted_rep_counts_only_their_own_contacts(personas):
    membership = Membership.objects.get(workspace=personas.acme, user=personas.bob)
    membership.restrict_to_own = True
    membership.save(update_fields=["restrict_to_own"])
    _contact(personas, "bobs@example.test", owner=personas.bob, tag="vip")
    _contact(personas, "alices@example.test", owner=personas.alice, tag="vip")
    segment = Segment.objects.create(workspace=personas.acme, name="VIP", definition={"tag": "vip"})
    bob = client_for(personas.bob)
    preview = bob.post("/api/v1/segments/preview/", {"definition": {"tag": "vip"}}, format="json").json()
    assert preview["count"] == 1 and [c["email"] for c in preview["sample"]] == ["bobs@example.test"]
    listed = bob.get(f"/api/v1/segments/{segment.pk}/contacts/").json()["results"]
    assert [c["email"] for c in listed] == ["bobs@example.test"]
    alice = client_for(personas.alice)
    assert alice.post("/api/v1/segments/preview/", {"definition": {"tag": "vip"}}, format="json").json()["count"] == 2


def test_a_viewer_reads_segments_but_cannot_write_them(personas):
    victor = UserFactory(email="victor@acme.test")
    MembershipFactory(workspace=personas.acme, user=victor, role="viewer")
    Segment.objects.create(workspace=personas.acme, name="VIP", definition={"tag": "vip"})
    api = client_for(victor)
    assert api.get("/api/v1/segments/").json()["results"][0]["name"] == "VIP"
    assert api.post("/api/v1/segments/", {"name": "X", "definition": {"tag": "x"}}, format="json").status_code == 403


def test_mallory_sees_no_acme_segment_and_cannot_reference_one(personas):
    acme_segment = Segment.objects.create(workspace=personas.acme, name="Acme secret", definition={"tag": "vip"})
    api = client_for(personas.mallory)
    assert api.get(f"/api/v1/segments/{acme_segment.pk}/").status_code == 404
    assert api.get(f"/api/v1/segments/{acme_segment.pk}/contacts/").status_code == 404
    assert api.get("/api/v1/segments/").json()["results"] == []
    response = api.post("/api/v1/segments/preview/", {"definition": {"segment": acme_segment.pk}}, format="json")
    assert _error(response) == f"definition: no segment {acme_segment.pk} in this workspace"


@pytest.mark.parametrize("definition", [
    {"field": "email", "op": "eq", "value": "a\x00b"},
    {"event": "Buy\x00", "op": "never"},
    {"tag": "v\x00ip"},
    {"field": "owner", "op": "eq", "value": 2**70},
    {"field": "engagement_score", "op": "gt", "value": 2**40},
    {"field": "created_at", "op": "before", "value": "2024-13-45"},
    {"field": "created_at", "op": "after", "value": "0001-01-01T00:00:00+23:00"},
    {"field": "created_at", "op": "within_last", "days": 10**9},
    {"event": "X", "op": "at_least", "count": True},
    {"segment": 2**64},
    {"segment": "1"},
    {"message": "opened", "channel": "fax"},
    {"all": [{"not": None}]},
    {"any": "x"},
    "a=%00&b",
    "",
    12,
])
def test_hostile_definitions_are_400s_never_500s(personas, definition):
    api = client_for(personas.alice)
    response = api.post("/api/v1/segments/preview/", {"definition": definition}, format="json")
    assert response.status_code == 400, response.content
