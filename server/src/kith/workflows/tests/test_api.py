"""The workflow API: CRUD and versions, activate/pause, validate, manual enroll, runs and funnel, errors in the house
format, and who may do what."""

from __future__ import annotations

from typing import Any

import pytest

from kith.contacts.services import contact_create
from kith.contacts.tests.conftest import client_for
from kith.workflows.models import Run, Workflow

pytestmark = pytest.mark.django_db
STEPS = {"steps": [{"id": "wait", "kind": "wait", "duration": {"days": 1}, "next": "tag"},
                   {"id": "tag", "kind": "add_tag", "tag": "welcomed"}]}


def fields(response: Any) -> dict[str, list[str]]:
    assert response.status_code == 400, response.content
    body = response.json()["error"]
    assert body["code"] == "invalid"
    return body["fields"]


def test_alice_builds_activates_enrolls_and_watches_a_workflow(personas, django_capture_on_commit_callbacks):
    api = client_for(personas.alice)
    dana = contact_create(workspace=personas.acme, actor=None, data={"email": "dana@example.com"})

    created = api.post("/api/v1/workflows/", {"name": "Welcome", "trigger_kind": "event",
                                              "trigger_config": {"event": "Signed Up"}, "definition": STEPS},
                       format="json")
    assert created.status_code == 201, created.content
    body = created.json()
    assert (body["status"], body["version"], body["definition"]) == ("draft", 1, STEPS)
    url = f"/api/v1/workflows/{body['id']}/"

    assert api.post(f"{url}activate/").json()["status"] == "active"
    with django_capture_on_commit_callbacks(execute=True):
        enrolled = api.post(f"{url}enroll/", {"contacts": [dana.pk]}, format="json")
    assert enrolled.status_code == 200 and enrolled.json() == {"entered": 1}

    runs = api.get(f"{url}runs/").json()["results"]
    assert [(r["contact"], r["state"], r["current_step"]) for r in runs] == [(dana.pk, "waiting", "tag")]
    assert runs[0]["steps"][0]["step_id"] == "wait"
    by_contact = api.get(f"/api/v1/workflow-runs/?contact={dana.pk}").json()["results"]
    assert [r["id"] for r in by_contact] == [runs[0]["id"]]
    assert api.get(f"/api/v1/workflow-runs/{runs[0]['id']}/").json()["workflow_name"] == "Welcome"

    funnel = api.get(f"{url}funnel/").json()
    assert (funnel["entered"], funnel["waiting"]) == (1, 1)
    assert funnel["steps"] == [{"step_id": "wait", "kind": "wait", "executed": 1, "waiting": 0},
                               {"step_id": "tag", "kind": "add_tag", "executed": 0, "waiting": 1}]

    changed = api.patch(url, {"definition": {"steps": [{"id": "tag", "kind": "add_tag", "tag": "v2"}]}},
                        format="json")
    assert changed.json()["version"] == 2
    assert api.post(f"{url}pause/").json()["status"] == "paused"
    # Runs are going: no delete (409) until they finish.
    refused = api.delete(url)
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "conflict"
    Run.objects.all().delete()
    assert api.delete(url).status_code == 204
    assert not Workflow.objects.exists()


def test_bad_definitions_and_settings_are_field_errors(personas):
    api = client_for(personas.alice)
    response = api.post("/api/v1/workflows/", {"name": "Bad", "trigger_kind": "event", "trigger_config": {},
                                               "reentry": "interval", "definition": {"steps": [
                                                   {"id": "a", "kind": "send_email", "template": 12345}]}},
                        format="json")
    errors = fields(response)
    assert set(errors) == {"trigger_config.event", "reentry_days"}
    response = api.post("/api/v1/workflows/", {"name": "Bad", "definition": {"steps": [
        {"id": "a", "kind": "send_email", "template": 12345}]}}, format="json")
    assert "definition.steps.a.template" in fields(response)
    validate = api.post("/api/v1/workflows/validate/", {"definition": {"steps": [{"id": "a", "kind": "nope"}]}},
                        format="json")
    assert list(fields(validate)) == ["definition.steps.a.kind"]
    assert api.post("/api/v1/workflows/validate/", {"definition": STEPS}, format="json").json() == {"valid": True}


@pytest.mark.parametrize("payload", [
    {"name": 5}, {"name": "X", "reentry_days": "3"}, {"name": "X", "trigger_kind": "teleport"},
    {"name": "X", "reentry_days": True}, {"name": "X", "entry_condition": {"field": "nope"}},
    {"name": "X", "trigger_kind": "segment_entered", "trigger_config": {"segment": "1"}},
    {"name": "X", "trigger_config": [1]}, {"name": "\x00"},
])
def test_wrong_types_are_400_not_coerced(personas, payload):
    response = client_for(personas.alice).post("/api/v1/workflows/", payload, format="json")
    assert response.status_code == 400, response.content


def test_activation_needs_steps_and_enrolling_needs_real_contacts(personas):
    api = client_for(personas.alice)
    empty = api.post("/api/v1/workflows/", {"name": "Empty"}, format="json").json()
    response = api.post(f"/api/v1/workflows/{empty['id']}/activate/")
    assert response.status_code == 400 and response.json()["error"]["fields"] == {
        "definition": ["Add steps before activating the workflow."]}
    full = api.post("/api/v1/workflows/", {"name": "Full", "definition": STEPS}, format="json").json()
    theirs = contact_create(workspace=personas.mallory_inc, actor=None, data={"email": "m@example.com"})
    response = api.post(f"/api/v1/workflows/{full['id']}/enroll/", {"contacts": [theirs.pk]}, format="json")
    assert "contacts" in fields(response)
    assert api.post(f"/api/v1/workflows/{full['id']}/enroll/", {"contacts": ["1"]}, format="json").status_code == 400


def test_a_rep_reads_workflows_but_cannot_change_them_and_mallory_sees_none(personas):
    alice = client_for(personas.alice)
    workflow = alice.post("/api/v1/workflows/", {"name": "Welcome", "definition": STEPS}, format="json").json()
    bob = client_for(personas.bob)
    assert bob.get("/api/v1/workflows/").json()["results"][0]["id"] == workflow["id"]
    assert bob.post("/api/v1/workflows/", {"name": "Mine"}, format="json").status_code == 403
    assert bob.post(f"/api/v1/workflows/{workflow['id']}/activate/").status_code == 403
    mallory = client_for(personas.mallory)
    assert mallory.get("/api/v1/workflows/").json()["results"] == []
    assert mallory.get(f"/api/v1/workflows/{workflow['id']}/").status_code == 404


def test_duplicate_names_conflict(personas):
    api = client_for(personas.alice)
    api.post("/api/v1/workflows/", {"name": "Welcome"}, format="json")
    response = api.post("/api/v1/workflows/", {"name": "Welcome"}, format="json")
    assert response.status_code == 409 and response.json()["error"]["fields"] == {
        "name": ["A workflow with this name exists."]}


def test_bad_run_filters_are_400(personas):
    api = client_for(personas.alice)
    assert api.get("/api/v1/workflow-runs/?contact=abc").status_code == 400
    assert api.get("/api/v1/workflow-runs/?contact=1&contact=2").status_code == 400
