"""The workflow pages: create, build step by step with a form per step, see errors next to the step, activate, test
run, the funnel, the contact page panel; reps read only."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from kith.contacts.services import contact_create
from kith.messaging.services import template_create
from kith.workflows.models import Run, Workflow

pytestmark = pytest.mark.django_db


def client(user: Any) -> Client:
    c = Client()
    c.force_login(user)
    return c


def settings_post(**extra: Any) -> dict[str, Any]:
    return {"name": "Welcome", "trigger_kind": "event", "event": "Signed Up", "filter_op": "eq", "reentry": "once",
            "reentry_days": "0", **extra}


def test_alice_builds_a_workflow_with_step_forms(personas, django_capture_on_commit_callbacks):
    mail = template_create(workspace=personas.acme, actor=None, name="Welcome mail",
                           content={"subject": "Hi", "html": "<p>Hi</p>"})
    alice = client(personas.alice)
    response = alice.post("/workflows/new/", settings_post(filter_property="plan", filter_value="pro"))
    workflow = Workflow.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/workflows/{workflow.pk}/"
    assert workflow.trigger_config == {"event": "Signed Up", "filters": [{"property": "plan", "op": "eq",
                                                                           "value": "pro"}]}

    # Choosing a kind shows its form; nothing is saved yet.
    page = alice.post(f"/workflows/{workflow.pk}/steps/new/", {"kind": "send_email", "after": ""})
    assert b"New step: Send e-mail" in page.content and b"Welcome mail" in page.content
    assert Workflow.objects.get().current_version is None
    saved = alice.post(f"/workflows/{workflow.pk}/steps/save/", {
        "kind": "send_email", "after": "", "new-step_id": "welcome", "new-template": str(mail.pk), "new-next": ""})
    assert saved.status_code == 302
    # A wait in front of it, spliced in after nothing (at the start): it leads to the mail.
    alice.post(f"/workflows/{workflow.pk}/steps/save/", {
        "kind": "wait", "after": "", "new-step_id": "pause", "new-days": "0", "new-hours": "1", "new-minutes": "0",
        "new-next": ""})
    workflow.refresh_from_db()
    assert workflow.current_version.number == 2
    assert workflow.current_version.definition == {"steps": [
        {"id": "pause", "kind": "wait", "duration": {"hours": 1}, "next": "welcome"},
        {"id": "welcome", "kind": "send_email", "template": mail.pk, "next": None}]}

    # An invalid edit is shown next to its step and saves nothing.
    bad = alice.post(f"/workflows/{workflow.pk}/steps/save/", {
        "replaces": "pause", "s0-step_id": "pause", "s0-days": "0", "s0-hours": "0", "s0-minutes": "0",
        "s0-next": "welcome"})
    assert bad.status_code == 400 and b"duration: Give a duration such as" in bad.content
    workflow.refresh_from_db()
    assert workflow.current_version.number == 2

    builder = alice.get(f"/workflows/{workflow.pk}/")
    assert builder.status_code == 200 and b"then \xe2\x86\x92 <a href=\"#step-welcome\">welcome</a>" in builder.content

    assert alice.post(f"/workflows/{workflow.pk}/switch/", {"to": "active"}).status_code == 302
    assert Workflow.objects.get().status == "active"

    dana = contact_create(workspace=personas.acme, actor=None, data={"email": "dana@example.com"})
    with django_capture_on_commit_callbacks(execute=True):
        alice.post(f"/workflows/{workflow.pk}/test-run/", {"contact": "dana@example.com"})
    run = Run.objects.get()
    assert (run.contact_id, run.state, run.current_step) == (dana.pk, "waiting", "welcome")
    panel = alice.get(f"/contacts/{dana.pk}/workflow-runs/")
    assert b"Welcome" in panel.content and b"Waiting" in panel.content

    alice.post(f"/workflows/{workflow.pk}/steps/delete/", {"step": "pause"})
    workflow.refresh_from_db()
    assert [s["id"] for s in workflow.current_version.definition["steps"]] == ["welcome"]


def test_a_rep_sees_workflows_but_cannot_change_them(personas):
    workflow = Workflow.objects.create(workspace=personas.acme, name="Welcome")
    bob = client(personas.bob)
    assert bob.get("/workflows/").status_code == 200
    assert bob.get(f"/workflows/{workflow.pk}/").status_code == 200
    assert bob.post(f"/workflows/{workflow.pk}/switch/", {"to": "active"}).status_code == 403
    assert bob.get("/workflows/new/").status_code == 403


def test_the_contact_page_enrolls_by_hand(personas, django_capture_on_commit_callbacks):
    workflow = Workflow.objects.create(workspace=personas.acme, name="Manual")
    workflow.current_version = workflow.versions.create(number=1, definition={"steps": [
        {"id": "tag", "kind": "add_tag", "tag": "picked"}]})
    workflow.save()
    dana = contact_create(workspace=personas.acme, actor=None, data={"email": "dana@example.com"})
    alice = client(personas.alice)
    with django_capture_on_commit_callbacks(execute=True):
        response = alice.post(f"/contacts/{dana.pk}/workflow-runs/", {"workflow": str(workflow.pk)})
    assert response.status_code == 302
    assert dana.tags.filter(name="picked").exists()
    assert b"Manual" in alice.get(f"/contacts/{dana.pk}/workflow-runs/").content
