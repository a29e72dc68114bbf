"""The campaign API: drafts, the state actions (409 on an illegal one), stats and recipients, bad input."""

from __future__ import annotations

import pytest

from kith.campaigns.tests.support import contacts_make, segment_make
from kith.contacts.tests.conftest import client_for
from kith.messaging.backends import memory
from kith.messaging.tests.factories import template_make

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _memory_backend(settings):
    settings.KITH_MESSAGING_EMAIL_BACKEND = "memory"
    memory.outbox.clear()
    yield
    memory.outbox.clear()


def test_alice_creates_edits_sends_and_reads_the_report_of_a_campaign(personas, jobs):
    api = client_for(personas.alice)
    contacts_make(workspace=personas.acme, count=5)
    template = template_make(workspace=personas.acme)
    segment = segment_make(workspace=personas.acme)

    created = api.post("/api/v1/campaigns/", {"name": "Launch", "template": template.pk,
                                              "segments": [segment.pk]}, format="json")
    assert created.status_code == 201, created.content
    url = f"/api/v1/campaigns/{created.json()['id']}/"
    assert created.json()["status"] == "draft"

    patched = api.patch(url, {"name": "Launch day", "throttle_per_minute": 0}, format="json")
    assert patched.status_code == 200 and patched.json()["name"] == "Launch day"

    with jobs():
        scheduled = api.post(url + "schedule/", {}, format="json")
    assert scheduled.status_code == 200, scheduled.content
    assert api.get(url).json()["status"] == "sent"
    assert len(memory.outbox) == 5

    # an illegal transition is a 409 naming the status; a sent campaign cannot be edited either
    paused = api.post(url + "pause/")
    assert paused.status_code == 409
    assert "status" in paused.json()["error"]["fields"]
    assert api.patch(url, {"name": "x"}, format="json").status_code == 409

    stats = api.get(url + "stats/")
    assert stats.status_code == 200
    body = stats.json()
    assert (body["sent"], body["recipients"], body["progress"]["remaining"]) == (5, 5, 0)
    assert body["links"][0]["url"] == "https://shop.example.com/new"

    recipients = api.get(url + "recipients/", {"status": "sent"})
    assert recipients.status_code == 200
    assert len(recipients.json()["results"]) == 5
    assert api.get(url + "recipients/", {"status": "nope"}).status_code == 400


def test_bad_input_is_a_400_naming_the_field(personas):
    api = client_for(personas.alice)
    template = template_make(workspace=personas.acme)
    cases = [
        ({"name": "A", "template": str(template.pk)}, "template"),
        ({"name": 5, "template": template.pk}, "name"),
        ({"template": template.pk}, "name"),
        ({"name": "A", "template": template.pk, "segments": ["1"]}, "segments"),
        ({"name": "A", "template": template.pk, "throttle_per_minute": True}, "throttle_per_minute"),
        ({"name": "A", "template": template.pk, "ab_sample_percent": 99}, "ab_sample_percent"),
        ({"name": "A", "template": 999999}, "template"),
    ]
    for payload, field in cases:
        response = api.post("/api/v1/campaigns/", payload, format="json")
        assert response.status_code in (400, 404), (payload, response.content)
        assert field in str(response.json()["error"]), (payload, response.json())
    created = api.post("/api/v1/campaigns/", {"name": "A", "template": template.pk}, format="json").json()
    bad_when = api.post(f"/api/v1/campaigns/{created['id']}/schedule/", {"schedule_kind": "at",
                                                                          "send_at": "yesterday"}, format="json")
    assert bad_when.status_code == 400 and "send_at" in bad_when.json()["error"]["fields"]
    no_segment = api.post(f"/api/v1/campaigns/{created['id']}/schedule/", {}, format="json")
    assert no_segment.status_code == 400 and "segments" in no_segment.json()["error"]["fields"]


def test_mallory_cannot_see_or_act_on_acme_campaigns(personas):
    alice, mallory = client_for(personas.alice), client_for(personas.mallory)
    template = template_make(workspace=personas.acme)
    created = alice.post("/api/v1/campaigns/", {"name": "Secret", "template": template.pk}, format="json").json()
    url = f"/api/v1/campaigns/{created['id']}/"
    assert mallory.get(url).status_code == 404
    assert mallory.post(url + "cancel/").status_code == 404
    assert mallory.get("/api/v1/campaigns/").json()["results"] == []
    assert alice.get(url).json()["status"] == "draft"
