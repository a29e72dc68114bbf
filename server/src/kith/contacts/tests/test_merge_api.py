"""Duplicates and merges through the REST API and the web pages: access rules, validation, merge and undo."""

from __future__ import annotations

from typing import Any

import pytest

from kith.contacts.models import Contact, ContactMerge, DuplicateDismissal
from kith.contacts.tests.conftest import client_for
from kith.contacts.tests.factories import ContactFactory
from kith.timeline.models import Activity

pytestmark = pytest.mark.django_db


@pytest.fixture
def twins(personas: Any) -> tuple[Contact, Contact]:
    first = ContactFactory(workspace=personas.acme, first_name="Dana", last_name="Lee", email="dana@x.test",
                           phone="+14155550123", owner=personas.bob)
    second = ContactFactory(workspace=personas.acme, first_name="Dana", last_name="", email="d.lee@x.test",
                            phone="+14155550123", owner=personas.alice)
    return first, second


def test_duplicates_are_listed_and_can_be_dismissed(personas, alice_api, twins):
    first, second = twins
    body = alice_api.get("/api/v1/contacts/duplicates/").json()
    assert [(p["first"]["id"], p["second"]["id"], p["reasons"][0]) for p in body["results"]] == [
        (first.pk, second.pk, "phone")]  # PostgreSQL adds "similar_name" (same e-mail domain)
    assert alice_api.get("/api/v1/contacts/duplicates/", {"contact": second.pk}).json()["results"]
    assert alice_api.get(f"/api/v1/contacts/{first.pk}/merge/").json()["results"][0]["second"]["id"] == second.pk
    assert alice_api.post("/api/v1/contacts/duplicates/dismiss/", {"contacts": [second.pk, first.pk]},
                          format="json").status_code == 204
    assert alice_api.get("/api/v1/contacts/duplicates/").json()["results"] == []


@pytest.mark.parametrize("params", [{"contact": ""}, {"limit": ""}, {"contact": "x"}, {"contact": "0"}, {"limit": "201"}, {"limit": ["1", "2"]}])
def test_bad_duplicate_parameters_are_a_400(alice_api, params):
    assert alice_api.get("/api/v1/contacts/duplicates/", params).status_code == 400


def test_merge_and_undo_through_the_api(personas, alice_api, twins):
    first, second = twins
    response = alice_api.post(f"/api/v1/contacts/{first.pk}/merge/",
                              {"loser": second.pk, "fields": {"email": "loser"}}, format="json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["contact"]["email"] == "d.lee@x.test" and body["merge"]["loser_id"] == second.pk
    merge_id = body["merge"]["id"]
    assert [m["id"] for m in alice_api.get("/api/v1/contact-merges/").json()["results"]] == [merge_id]
    assert alice_api.get(f"/api/v1/contact-merges/{merge_id}/undo/").json() == {"can_undo": True, "reason": None}

    undone = alice_api.post(f"/api/v1/contact-merges/{merge_id}/undo/", format="json")
    assert undone.status_code == 200 and undone.json()["id"] == second.pk
    assert Contact.objects.get(pk=first.pk).email == "dana@x.test"
    again = alice_api.post(f"/api/v1/contact-merges/{merge_id}/undo/", format="json")
    assert again.status_code == 409 and again.json()["error"]["code"] == "conflict"
    assert alice_api.get(f"/api/v1/contact-merges/{merge_id}/undo/").json()["can_undo"] is False


@pytest.mark.parametrize("body", [{}, {"loser": "7"}, {"loser": 0}, {"loser": 2**63}, {"loser": None},
                                  {"loser": 1, "fields": {"password": "loser"}},
                                  {"loser": 1, "fields": {"email": "both"}}, {"loser": 1, "fields": []}])
def test_malformed_merge_requests_are_a_400(personas, alice_api, twins, body):
    response = alice_api.post(f"/api/v1/contacts/{twins[0].pk}/merge/", body, format="json")
    assert response.status_code == 400, response.content
    assert Contact.objects.filter(pk=twins[1].pk).exists()


def test_merging_a_contact_into_itself_or_from_another_workspace_is_refused(personas, alice_api, twins):
    first, _ = twins
    foreign = ContactFactory(workspace=personas.mallory_inc)
    assert alice_api.post(f"/api/v1/contacts/{first.pk}/merge/", {"loser": first.pk},
                          format="json").status_code == 400
    assert alice_api.post(f"/api/v1/contacts/{first.pk}/merge/", {"loser": foreign.pk},
                          format="json").status_code == 404
    mallory = client_for(personas.mallory)
    assert mallory.post(f"/api/v1/contacts/{foreign.pk}/merge/", {"loser": first.pk},
                        format="json").status_code == 404
    assert Contact.objects.filter(pk__in=[first.pk, foreign.pk]).count() == 2


def test_viewers_cannot_merge_or_undo_and_restricted_reps_only_their_own(personas, twins, victor, restricted_bob,
                                                                          alice_api):
    first, second = twins
    viewer = client_for(victor)
    assert viewer.get("/api/v1/contacts/duplicates/").status_code == 200
    assert viewer.post(f"/api/v1/contacts/{first.pk}/merge/", {"loser": second.pk},
                       format="json").status_code == 403
    bob = client_for(personas.bob)
    assert bob.get("/api/v1/contacts/duplicates/").json()["results"] == []  # the twin is not his
    assert bob.post(f"/api/v1/contacts/{first.pk}/merge/", {"loser": second.pk}, format="json").status_code == 404
    merge_id = alice_api.post(f"/api/v1/contacts/{first.pk}/merge/", {"loser": second.pk},
                              format="json").json()["merge"]["id"]
    assert viewer.post(f"/api/v1/contact-merges/{merge_id}/undo/", format="json").status_code == 403
    assert bob.get(f"/api/v1/contact-merges/{merge_id}/").status_code == 200  # the winner is his
    assert ContactMerge.objects.get(pk=merge_id).undone_at is None


def test_an_api_key_with_write_scope_merges(personas, acme_key_api, twins):
    first, second = twins
    response = acme_key_api.post(f"/api/v1/contacts/{first.pk}/merge/", {"loser": second.pk}, format="json",
                                 HTTP_IDEMPOTENCY_KEY="merge-1")
    assert response.status_code == 200
    replay = acme_key_api.post(f"/api/v1/contacts/{first.pk}/merge/", {"loser": second.pk}, format="json",
                               HTTP_IDEMPOTENCY_KEY="merge-1")
    assert replay.json() == response.json() and ContactMerge.objects.count() == 1


# --- web pages ---------------------------------------------------------------------------------------------


def test_compare_pick_values_merge_and_undo_in_the_browser_flow(client, personas, twins):
    first, second = twins
    client.force_login(personas.alice)
    assert "Possible duplicates" in client.get("/contacts/duplicates/").content.decode()
    page = client.get(f"/contacts/{first.pk}/merge/", {"with": second.pk}).content.decode()
    assert 'name="side_email"' in page and "d.lee@x.test" in page
    response = client.post(f"/contacts/{first.pk}/merge/", {"with": second.pk, "side_email": "loser"})
    merge = ContactMerge.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/contacts/merges/{merge.pk}/"
    assert Contact.objects.get(pk=first.pk).email == "d.lee@x.test"
    detail = client.get(f"/contacts/merges/{merge.pk}/").content.decode()
    assert "Undo merge" in detail
    timeline = client.get(f"/contacts/{first.pk}/").content.decode()
    assert f"/contacts/merges/{merge.pk}/" in timeline
    assert "Undo this merge?" in client.get(f"/contacts/merges/{merge.pk}/undo/").content.decode()
    response = client.post(f"/contacts/merges/{merge.pk}/undo/")
    assert response["Location"] == f"/contacts/{second.pk}/"
    assert Contact.objects.get(pk=second.pk).email == "d.lee@x.test"
    assert Activity.objects.filter(contact=second, title__startswith="Split out").exists()


def test_the_duplicates_panel_and_dismissal_from_the_contact_page(client, personas, twins):
    first, second = twins
    client.force_login(personas.alice)
    panel = client.get(f"/contacts/{first.pk}/duplicates/").content.decode()
    assert "Compare &amp; merge" in panel and f"?with={second.pk}" in panel
    response = client.post("/contacts/duplicates/dismiss/", {"first": first.pk, "second": second.pk},
                           HTTP_HX_REQUEST="true")
    assert response.status_code == 200 and "kith:toast" in response["HX-Trigger"]
    assert DuplicateDismissal.objects.count() == 1
    assert client.get(f"/contacts/{first.pk}/duplicates/").content.decode().strip() == ""


def test_viewers_see_duplicates_but_cannot_merge_or_dismiss_in_the_ui(client, personas, twins, victor):
    first, second = twins
    client.force_login(victor)
    assert "Compare &amp; merge" not in client.get("/contacts/duplicates/").content.decode()
    assert client.post(f"/contacts/{first.pk}/merge/", {"with": second.pk}).status_code == 403
    assert client.post("/contacts/duplicates/dismiss/", {"first": first.pk, "second": second.pk}).status_code == 403
    assert Contact.objects.filter(pk=second.pk).exists() and not DuplicateDismissal.objects.exists()


def test_bad_ids_in_the_ui_are_404_or_a_message_never_a_500(client, personas, twins):
    first, _ = twins
    client.force_login(personas.alice)
    assert client.get(f"/contacts/{first.pk}/merge/", {"with": "abc"}).status_code == 404
    assert client.get(f"/contacts/{first.pk}/merge/", {"with": first.pk}).status_code == 404
    assert client.get(f"/contacts/{first.pk}/merge/", {"with": "9" * 30}).status_code == 404
    assert client.post("/contacts/duplicates/dismiss/", {"first": "x", "second": ""}).status_code == 302
    assert client.get("/contacts/merges/999999/").status_code == 404
