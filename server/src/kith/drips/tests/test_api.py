"""The sequences API: CRUD, steps (add, change, reorder, delete), activation, enrollments and per-step statistics;
bad input is a 400 naming the field, never a 500; another workspace's objects are invisible."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from kith.accounts.models import Role
from kith.accounts.tests.factories import MembershipFactory, UserFactory
from kith.contacts.tests.conftest import client_for
from kith.core.models import AuditEntry
from kith.drips.models import Sequence
from kith.drips.tests.helpers import at, contact_make, enroll_at, run_at, sequence_make
from kith.messaging.models import Message
from kith.messaging.tests.factories import template_make
from kith.tracking.models import MessageEngagement

pytestmark = pytest.mark.django_db


def _fields(response: Any) -> dict[str, Any]:
    assert response.status_code == 400, response.content
    return response.json()["error"]["fields"]


def test_alice_builds_activates_and_reads_a_sequence(personas):
    api = client_for(personas.alice)
    first = template_make(workspace=personas.acme, name="Hello")
    second = template_make(workspace=personas.acme, name="Tips")
    created = api.post("/api/v1/sequences/", {"name": "Welcome", "enroll_event": "Signed Up", "send_time": "10:00",
                                              "exit_events": ["Upgraded"]}, format="json")
    assert created.status_code == 201, created.content
    body = created.json()
    assert (body["is_active"], body["send_time"], body["exit_events"]) == (False, "10:00", ["Upgraded"])
    url = f"/api/v1/sequences/{body['id']}/"

    assert _fields(api.post(url + "activate/", {}, format="json")) == {
        "steps": ["Add at least one step before switching the sequence on."]}
    one = api.post(url + "steps/", {"template": first.pk, "day_offset": 0}, format="json")
    two = api.post(url + "steps/", {"template": second.pk, "day_offset": 3}, format="json")
    assert one.status_code == two.status_code == 201, (one.content, two.content)
    assert [s["template_name"] for s in api.get(url + "steps/").json()] == ["Hello", "Tips"]

    changed = api.patch(url + f"steps/{two.json()['id']}/", {"day_offset": 5}, format="json")
    assert changed.status_code == 200 and changed.json()["day_offset"] == 5
    assert "day_offset" in _fields(api.post(url + "steps/reorder/", {"order": [two.json()["id"], one.json()["id"]]},
                                            format="json"))

    activated = api.post(url + "activate/", {}, format="json")
    assert activated.status_code == 200 and activated.json()["is_active"] is True
    assert AuditEntry.objects.filter(action="sequence.activated").exists()

    sequence = Sequence.objects.get(pk=body["id"])
    contact = contact_make(personas, "dana@example.test", timezone="UTC")
    enroll_at(sequence, contact, at(2027, 6, 1, 6, 0))
    run_at(at(2027, 6, 1, 10, 0))
    message = Message.objects.get(contact=contact)
    Message.objects.filter(pk=message.pk).update(status="sent")
    # A human open recorded by tracking's aggregation.
    MessageEngagement.objects.create(message=message, workspace=personas.acme, contact=contact,
                                     first_open_at=at(2027, 6, 1, 11, 0), opens=1)

    enrollments = api.get(url + "enrollments/")
    assert enrollments.status_code == 200
    assert [(e["contact_email"], e["state"]) for e in enrollments.json()["results"]] == [
        ("dana@example.test", "active")]
    stats = api.get(url + "stats/").json()
    assert [(s["sent"], s["opened"], s["open_rate"]) for s in stats["steps"]] == [(1, 1, 1.0), (0, 0, 0.0)]
    assert stats["enrollments"] == {"active": 1, "completed": 0, "exited": 0}

    assert api.post(url + "deactivate/", format="json").json()["is_active"] is False
    assert api.delete(url + f"steps/{one.json()['id']}/").status_code == 204
    assert api.delete(url).status_code == 204
    assert not Sequence.objects.exists()


@pytest.mark.parametrize(("payload", "field"), [
    ({"name": 42}, "name"),
    ({"name": "X", "send_time": "25:00"}, "send_time"),
    ({"name": "X", "send_time": 900}, "send_time"),
    ({"name": "X", "segment": "1"}, "segment"),
    ({"name": "X", "segment": 999999}, "segment"),
    ({"name": "X", "exit_events": "Upgraded"}, "exit_events"),
    ({"name": "X", "exit_events": [""]}, "exit_events"),
    ({"name": "X", "topic": 999999}, "topic"),
    ({"send_time": "09:00"}, "name"),
])
def test_bad_input_is_a_400_naming_the_field(personas, payload, field):
    api = client_for(personas.alice)
    assert field in _fields(api.post("/api/v1/sequences/", payload, format="json"))


def test_bad_steps_are_refused_with_their_field(personas):
    api = client_for(personas.alice)
    sequence = sequence_make(personas, days=(2,), active=False)
    url = f"/api/v1/sequences/{sequence.pk}/steps/"
    template = template_make(workspace=personas.acme, name="Later")
    theirs = template_make(workspace=personas.mallory_inc, name="Theirs")
    assert "day_offset" in _fields(api.post(url, {"template": template.pk, "day_offset": 1}, format="json"))
    assert "day_offset" in _fields(api.post(url, {"template": template.pk, "day_offset": -1}, format="json"))
    assert "day_offset" in _fields(api.post(url, {"template": template.pk, "day_offset": "3"}, format="json"))
    assert "template" in _fields(api.post(url, {"template": theirs.pk, "day_offset": 3}, format="json"))
    assert "order" in _fields(api.post(url + "reorder/", {"order": [1, 2, 3]}, format="json"))


def test_mallory_cannot_see_or_change_acmes_sequence(personas):
    sequence = sequence_make(personas, days=(0,))
    step = sequence.steps.get()
    api = client_for(personas.mallory)
    base = f"/api/v1/sequences/{sequence.pk}/"
    assert api.get("/api/v1/sequences/").json()["results"] == []
    for method, url in [("get", base), ("patch", base), ("delete", base), ("post", base + "activate/"),
                        ("get", base + "steps/"), ("patch", base + f"steps/{step.pk}/"), ("get", base + "stats/"),
                        ("get", base + "enrollments/")]:
        assert getattr(api, method)(url, {}, format="json").status_code == 404, (method, url)
    assert Sequence.objects.get(pk=sequence.pk).is_active


def test_a_viewer_reads_but_cannot_write(personas):
    viewer = UserFactory(email="vera@acme.test")
    MembershipFactory(user=viewer, workspace=personas.acme, role=Role.VIEWER)
    sequence = sequence_make(personas, days=(0,))
    api = client_for(viewer)
    assert api.get(f"/api/v1/sequences/{sequence.pk}/").status_code == 200
    assert api.post(f"/api/v1/sequences/{sequence.pk}/deactivate/", format="json").status_code == 403


def test_ids_too_large_for_the_database_are_not_found_not_errors(personas):
    sequence = sequence_make(personas, days=(0,))
    huge = "9" * 30
    api = client_for(personas.alice)
    assert api.get(f"/api/v1/sequences/{huge}/").status_code == 404
    assert api.get(f"/api/v1/sequences/{sequence.pk}/steps/{huge}/").status_code == 404
    web = Client()
    web.force_login(personas.alice)
    assert web.get(f"/sequences/{huge}/").status_code == 404
    assert web.get(f"/sequences/{sequence.pk}/steps/{huge}/").status_code == 404
