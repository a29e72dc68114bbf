"""Topic and suppression pages and their API: owners and admins manage, GETs change nothing, CSV import."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from rest_framework.test import APIClient

from kith.core.models import AuditEntry
from kith.messaging.models import Suppression, SuppressionReason
from kith.messaging.services import suppression_add
from kith.preferences.models import Topic
from kith.preferences.services import topic_create

pytestmark = pytest.mark.django_db


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_alice_adds_edits_and_archives_a_topic(personas):
    alice = _client(personas.alice)
    response = alice.post("/settings/topics/new/", {"name": "Product news", "description": "Monthly",
                                                    "default_subscribed": "on"})
    assert response.status_code == 302
    topic = Topic.objects.get(workspace=personas.acme)
    assert (topic.name, topic.default_subscribed) == ("Product news", True)
    assert alice.post("/settings/topics/new/", {"name": "product NEWS"}).status_code == 400  # names are unique
    alice.post(f"/settings/topics/{topic.pk}/edit/", {"name": "Releases", "description": ""})
    topic.refresh_from_db()
    assert (topic.name, topic.default_subscribed) == ("Releases", False)
    assert alice.get(f"/settings/topics/{topic.pk}/archive/").status_code == 200  # the confirmation
    topic.refresh_from_db()
    assert topic.archived_at is None
    alice.post(f"/settings/topics/{topic.pk}/archive/")
    topic.refresh_from_db()
    assert topic.archived_at is not None
    page = alice.get("/settings/topics/").content.decode()
    assert "Releases" in page and "Archived" in page
    assert {"topic.created", "topic.updated", "topic.archived"} <= set(
        AuditEntry.objects.filter(workspace=personas.acme).values_list("action", flat=True))


def test_bob_the_rep_cannot_manage_topics_or_see_suppressions(personas):
    bob = _client(personas.bob)
    topic = topic_create(workspace=personas.acme, actor=personas.alice, data={"name": "News"})
    assert bob.get("/settings/topics/").status_code == 403
    assert bob.post("/settings/topics/new/", {"name": "Bob's"}).status_code == 403
    assert bob.post(f"/settings/topics/{topic.pk}/archive/").status_code == 403
    assert bob.get("/messaging/suppressions/").status_code == 403
    api = APIClient()
    api.force_login(personas.bob)
    assert api.get("/api/v1/topics/").status_code == 200
    assert api.post("/api/v1/topics/", {"name": "x"}, format="json").status_code == 403
    assert api.get("/api/v1/suppressions/").status_code == 403
    topic.refresh_from_db()
    assert topic.archived_at is None and Topic.objects.count() == 1


def test_suppression_list_add_search_and_remove(personas):
    alice = _client(personas.alice)
    assert alice.post("/messaging/suppressions/", {"address": "not an address"}).status_code == 400
    assert alice.post("/messaging/suppressions/", {"address": " Ann@Example.com "}).status_code == 302
    suppression_add(workspace=personas.acme, address="bounced@example.com", reason=SuppressionReason.HARD_BOUNCE)
    entry = Suppression.objects.get(address="ann@example.com")
    assert entry.reason == SuppressionReason.MANUAL
    results = alice.get("/messaging/suppressions/?q=bounced", HTTP_HX_REQUEST="true").content.decode()
    assert "bounced@example.com" in results and "ann@example.com" not in results and "<html" not in results
    assert alice.get(f"/messaging/suppressions/{entry.pk}/remove/").status_code == 200
    assert Suppression.objects.filter(pk=entry.pk).exists()  # GET only confirms
    alice.post(f"/messaging/suppressions/{entry.pk}/remove/")
    assert not Suppression.objects.filter(pk=entry.pk).exists()
    assert AuditEntry.objects.filter(action="suppression.deleted", target_id=str(entry.pk)).exists()


def test_importing_a_csv_adds_valid_rows_and_reports_bad_ones_by_line(personas):
    suppression_add(workspace=personas.acme, address="old@example.com", reason=SuppressionReason.COMPLAINT)
    csv = "name,email\nAnn,ann@example.com\nBad,not-an-email\nOld,OLD@example.com\nDup,ann@example.com\n,\n"
    alice = _client(personas.alice)
    response = alice.post("/messaging/suppressions/import/",
                          {"file": SimpleUploadedFile("list.csv", csv.encode(), content_type="text/csv")})
    assert response.status_code == 200
    body = response.content.decode()
    assert "Line 3" in body and "not-an-email" in body
    assert dict(Suppression.objects.filter(workspace=personas.acme).values_list("address", "reason")) == {
        "ann@example.com": SuppressionReason.IMPORTED, "old@example.com": SuppressionReason.COMPLAINT}
    # A plain list without a header imports its first line too; a non-UTF-8 file is a field error, not a 500.
    alice.post("/messaging/suppressions/import/",
               {"file": SimpleUploadedFile("plain.csv", b"first@example.com\nsecond@example.com\n")})
    assert Suppression.objects.filter(address__in=["first@example.com", "second@example.com"]).count() == 2
    response = alice.post("/messaging/suppressions/import/", {"file": SimpleUploadedFile("x.csv", b"\xff\xfe\x00a")})
    assert response.status_code == 400 and b"UTF-8" in response.content


def test_topic_and_suppression_api(personas):
    api = APIClient()
    api.force_login(personas.alice)
    created = api.post("/api/v1/topics/", {"name": "Events", "default_subscribed": False}, format="json")
    assert created.status_code == 201, created.content
    topic_id = created.json()["id"]
    assert api.post("/api/v1/topics/", {"name": "events"}, format="json").status_code == 409
    assert api.post("/api/v1/topics/", {"name": ""}, format="json").status_code == 400
    patched = api.patch(f"/api/v1/topics/{topic_id}/", {"archived": True, "description": "Meetups"}, format="json")
    assert patched.json()["archived"] is True and patched.json()["description"] == "Meetups"
    assert api.delete(f"/api/v1/topics/{topic_id}/").status_code == 204
    assert Topic.objects.filter(pk=topic_id).exists()  # DELETE archives

    made = api.post("/api/v1/suppressions/", {"address": "Zed@Example.com"}, format="json")
    assert made.status_code == 201 and made.json()["reason"] == "manual"
    assert made.json()["address"] == "zed@example.com"
    assert api.post("/api/v1/suppressions/", {"address": "nope"}, format="json").status_code == 400
    assert api.post("/api/v1/suppressions/", {"address": "a@b.test", "reason": "bogus"},
                    format="json").status_code == 400
    listed = api.get("/api/v1/suppressions/?address=zed").json()
    assert [row["address"] for row in listed["results"]] == ["zed@example.com"]
    assert api.delete(f"/api/v1/suppressions/{made.json()['id']}/").status_code == 204
    assert not Suppression.objects.filter(address="zed@example.com").exists()
    # Another workspace's ids are 404.
    mallory = APIClient()
    mallory.force_login(personas.mallory)
    assert mallory.get(f"/api/v1/topics/{topic_id}/").status_code == 404


def test_suppression_search_with_a_nul_byte_is_not_a_500(personas):
    # Found by the contract fuzzing on PostgreSQL, whose text values cannot hold NUL.
    api = APIClient()
    api.force_login(personas.alice)
    response = api.get("/api/v1/suppressions/", {"address": "a\x00b"})
    assert response.status_code == 200
