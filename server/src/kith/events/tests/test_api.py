"""GET /api/v1/events/: filters, cursor pagination and the contacts' access rules."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from kith.accounts.models import Membership
from kith.accounts.services import api_key_create
from kith.contacts.models import Contact
from kith.events.models import Event

pytestmark = pytest.mark.django_db


def client_for(user):
    client = APIClient()
    client.force_login(user)
    return client


@pytest.fixture
def history(send, personas):
    send("/v1/batch", {"batch": [
        {"type": "track", "userId": "u-1", "event": "Purchase Completed", "messageId": "e1",
         "timestamp": "2026-01-01T00:00:00Z"},
        {"type": "track", "userId": "u-1", "event": "Purchase Completed", "messageId": "e2",
         "timestamp": "2026-03-01T00:00:00Z"},
        {"type": "track", "userId": "u-2", "event": "Signed Up", "messageId": "e3",
         "timestamp": "2026-02-01T00:00:00Z"},
        {"type": "page", "anonymousId": "anon", "name": "Home", "messageId": "e4",
         "timestamp": "2026-02-01T00:00:00Z"},
    ]})
    return {e.message_id: e for e in Event.objects.filter(workspace=personas.acme)}


def ids(response):
    assert response.status_code == 200, response.content
    return {row["message_id"] for row in response.json()["results"]}


def test_events_are_listed_newest_first_with_their_contact(personas, history):
    response = client_for(personas.alice).get("/api/v1/events/")

    rows = response.json()["results"]
    assert [row["message_id"] for row in rows] == ["e4", "e3", "e2", "e1"]
    assert rows[-1]["contact"] == Contact.objects.get(external_id="u-1").pk
    assert rows[-1]["properties"] == {}


def test_filters_by_contact_name_type_and_time(personas, history):
    api = client_for(personas.alice)
    u1 = Contact.objects.get(external_id="u-1").pk

    assert ids(api.get("/api/v1/events/", {"contact": u1})) == {"e1", "e2"}
    assert ids(api.get("/api/v1/events/", {"name": "Purchase Completed"})) == {"e1", "e2"}
    assert ids(api.get("/api/v1/events/", {"type": "page"})) == {"e4"}
    assert ids(api.get("/api/v1/events/", {"timestamp_after": "2026-01-15T00:00:00Z",
                                           "timestamp_before": "2026-02-15T00:00:00Z"})) == {"e3", "e4"}
    assert ids(api.get("/api/v1/events/", {"anonymous_id": "anon"})) == {"e4"}


@pytest.mark.parametrize("query", [{"type": "explode"}, {"contact": "x"}, {"timestamp_after": "soon"},
                                   {"name": "a\x00b"}, {"contact": "99999999999999999999"}])
def test_bad_filters_answer_400(personas, history, query):
    assert client_for(personas.alice).get("/api/v1/events/", query).status_code == 400


def test_cursor_pagination_walks_every_event_once(personas, history):
    api = client_for(personas.alice)
    seen, url = [], "/api/v1/events/?page_size=3"
    while url:
        body = api.get(url).json()
        seen += [row["message_id"] for row in body["results"]]
        url = body["next"]

    assert seen == ["e4", "e3", "e2", "e1"]


def test_a_rep_limited_to_own_records_sees_only_events_of_contacts_they_own(personas, history):
    Membership.objects.filter(workspace=personas.acme, user=personas.bob).update(restrict_to_own=True)
    Contact.objects.filter(external_id="u-2").update(owner=personas.bob)
    bob = client_for(personas.bob)

    assert ids(bob.get("/api/v1/events/")) == {"e3"}
    assert bob.get(f"/api/v1/events/{history['e1'].pk}/").status_code == 404
    assert bob.get(f"/api/v1/events/{history['e3'].pk}/").status_code == 200


def test_an_events_only_key_cannot_read_events(personas, history, acme_write_key):
    reader = APIClient()
    reader.credentials(HTTP_AUTHORIZATION=f"Bearer {acme_write_key}")

    assert reader.get("/api/v1/events/").status_code == 403


def test_a_read_key_lists_the_workspaces_events(personas, history):
    _, raw = api_key_create(workspace=personas.acme, actor=personas.alice, name="reader", scopes=["read"])
    reader = APIClient()
    reader.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")

    assert ids(reader.get("/api/v1/events/")) == {"e1", "e2", "e3", "e4"}


def test_mallory_sees_none_of_acmes_events(personas, history):
    mallory = client_for(personas.mallory)

    assert ids(mallory.get("/api/v1/events/")) == set()
    assert mallory.get(f"/api/v1/events/{history['e1'].pk}/").status_code == 404


def test_events_cannot_be_written_through_rest(personas):
    response = client_for(personas.alice).post("/api/v1/events/", {"name": "x"}, format="json")

    assert response.status_code == 405
