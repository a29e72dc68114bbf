import datetime as dt

import pytest
from rest_framework.test import APIClient

from kith.accounts.services import api_key_create
from kith.contacts.tests.conftest import client_for
from kith.contacts.tests.factories import ContactFactory
from kith.core import clock
from kith.core.errors import KithError
from kith.tasks.models import Notification, NotificationKind, Task, TaskStatus
from kith.tasks.notifications import notification_create
from kith.tasks.services import task_create
from kith.tasks.tests.helpers import restrict, soon, viewer

pytestmark = pytest.mark.django_db


def _iso(value: dt.datetime) -> str:
    return value.isoformat()


def _task(personas, **data):
    return task_create(workspace=personas.acme, actor=personas.alice,
                       data={"title": "Call back", "due_at": soon(), "assignee": personas.alice.pk, **data})


def _fields(response):
    assert response.status_code == 400, response.content
    return response.json()["error"]["fields"]


def test_alice_creates_reads_updates_completes_and_deletes_a_task(personas):
    api = client_for(personas.alice)
    contact = ContactFactory(workspace=personas.acme)

    created = api.post("/api/v1/tasks/", {"title": "Send quote", "due_at": _iso(soon()), "contact": contact.pk,
                                          "notes": "<p>Hi<script>x</script></p>"}, format="json")
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["assignee"] == personas.alice.pk and body["status"] == "open" and body["notes"] == "<p>Hi</p>"

    url = f"/api/v1/tasks/{body['id']}/"
    assert api.get(url).json()["title"] == "Send quote"
    patched = api.patch(url, {"title": "Send the revised quote", "status": "done"}, format="json")
    assert patched.status_code == 200 and patched.json()["status"] == "done"
    assert patched.json()["completed_at"] is not None
    assert api.delete(url).status_code == 204
    assert not Task.objects.filter(pk=body["id"]).exists()


def test_validation_errors_name_each_field(personas):
    api = client_for(personas.alice)
    missing = api.post("/api/v1/tasks/", {"title": "x"}, format="json")
    assert set(_fields(missing)) == {"due_at"}
    outsider = api.post("/api/v1/tasks/", {"title": "x", "due_at": _iso(soon()), "assignee": personas.mallory.pk},
                        format="json")
    assert _fields(outsider) == {"assignee": ["Assign the task to a member of this workspace."]}
    wrong_types = api.post("/api/v1/tasks/", {"title": 5, "due_at": "tomorrow", "email_reminder": "yes"},
                           format="json")
    assert {"title", "due_at", "email_reminder"} <= set(_fields(wrong_types))


def test_filters_and_due_date_ordering(personas):
    api = client_for(personas.alice)
    contact = ContactFactory(workspace=personas.acme)
    late = _task(personas, title="late", due_at=soon(48))
    early = _task(personas, title="early", due_at=soon(1), contact=contact.pk)
    bobs = _task(personas, title="bob's", due_at=soon(5), assignee=personas.bob.pk)
    done = _task(personas, title="done", due_at=soon(3), status="done")

    def ids(query: str) -> list[int]:
        response = api.get(f"/api/v1/tasks/?{query}")
        assert response.status_code == 200, response.content
        return [row["id"] for row in response.json()["results"]]

    assert ids("ordering=due_at") == [early.pk, done.pk, bobs.pk, late.pk]
    assert ids(f"assignee={personas.bob.pk}") == [bobs.pk]
    assert ids("status=open&ordering=due_at") == [early.pk, bobs.pk, late.pk]
    assert ids(f"contact={contact.pk}") == [early.pk]
    before = (clock.now() + dt.timedelta(hours=4)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert set(ids(f"due_before={before}")) == {early.pk, done.pk}
    assert set(ids(f"due_after={before}")) == {bobs.pk, late.pk}
    assert api.get("/api/v1/tasks/?status=later").status_code == 400
    assert api.get("/api/v1/tasks/?due_before=soon").status_code == 400


def test_the_list_is_cursor_paginated(personas):
    api = client_for(personas.alice)
    for number in range(5):
        _task(personas, title=f"t{number}")
    first = api.get("/api/v1/tasks/?page_size=2&ordering=due_at").json()
    assert len(first["results"]) == 2 and first["next"] and "cursor=" in first["next"]
    second = api.get(first["next"]).json()
    assert not {r["id"] for r in first["results"]} & {r["id"] for r in second["results"]}


def test_bulk_creates_and_updates_with_per_item_results(personas):
    api = client_for(personas.alice)
    existing = _task(personas)
    response = api.post("/api/v1/tasks/bulk/", {"items": [
        {"title": "a", "due_at": _iso(soon())},
        {"id": existing.pk, "status": "done"},
        {"title": "b", "due_at": _iso(soon()), "assignee": personas.mallory.pk},
    ]}, format="json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["created"], body["updated"], body["errors"]) == (1, 1, 1)
    assert [r["status"] for r in body["results"]] == ["created", "updated", "error"]
    assert body["results"][2]["errors"] == {"assignee": ["Assign the task to a member of this workspace."]}
    assert Task.objects.get(pk=body["results"][0]["id"]).assignee == personas.alice
    too_many = api.post("/api/v1/tasks/bulk/", {"items": [{"title": "x"}] * 1001}, format="json")
    assert too_many.status_code == 400


def test_a_retried_create_with_the_same_idempotency_key_creates_one_task(personas):
    api = client_for(personas.alice)
    payload = {"title": "Once", "due_at": _iso(soon())}
    first = api.post("/api/v1/tasks/", payload, format="json", HTTP_IDEMPOTENCY_KEY="task-once-1")
    again = api.post("/api/v1/tasks/", payload, format="json", HTTP_IDEMPOTENCY_KEY="task-once-1")
    assert (first.status_code, again.status_code) == (201, 201)
    assert again["Idempotent-Replayed"] == "true" and again.json()["id"] == first.json()["id"]
    assert Task.objects.filter(title="Once").count() == 1


def test_a_restricted_rep_gets_404_for_tasks_they_may_not_see(personas):
    restrict(personas)
    alices_contact = ContactFactory(workspace=personas.acme, owner=personas.alice)
    hidden = _task(personas, contact=alices_contact.pk)
    his = _task(personas, assignee=personas.bob.pk)
    api = client_for(personas.bob)

    assert [r["id"] for r in api.get("/api/v1/tasks/").json()["results"]] == [his.pk]
    assert api.get(f"/api/v1/tasks/{hidden.pk}/").status_code == 404
    assert api.patch(f"/api/v1/tasks/{hidden.pk}/", {"status": "done"}, format="json").status_code == 404
    assert api.patch(f"/api/v1/tasks/{his.pk}/", {"status": "done"}, format="json").status_code == 200


def test_a_viewer_reads_tasks_but_cannot_write_them(personas):
    task = _task(personas)
    api = client_for(viewer(personas))
    assert api.get(f"/api/v1/tasks/{task.pk}/").status_code == 200
    assert api.post("/api/v1/tasks/", {"title": "x", "due_at": _iso(soon())}, format="json").status_code == 403
    assert api.patch(f"/api/v1/tasks/{task.pk}/", {"status": "done"}, format="json").status_code == 403
    assert api.delete(f"/api/v1/tasks/{task.pk}/").status_code == 403
    task.refresh_from_db()
    assert task.status == TaskStatus.OPEN


def test_mallory_gets_404_for_acme_tasks(personas):
    task = _task(personas)
    api = client_for(personas.mallory)
    assert api.get(f"/api/v1/tasks/{task.pk}/").status_code == 404
    assert api.patch(f"/api/v1/tasks/{task.pk}/", {"status": "done"}, format="json").status_code == 404
    assert api.get("/api/v1/tasks/").json()["results"] == []


def test_an_api_key_must_name_the_assignee(personas):
    _, raw = api_key_create(workspace=personas.acme, actor=personas.alice, name="crm sync", scopes=["read", "write"])
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    missing = api.post("/api/v1/tasks/", {"title": "x", "due_at": _iso(soon())}, format="json")
    assert list(_fields(missing)) == ["assignee"]
    created = api.post("/api/v1/tasks/", {"title": "x", "due_at": _iso(soon()), "assignee": personas.bob.pk},
                       format="json")
    assert created.status_code == 201
    assert Notification.objects.get(recipient=personas.bob).text.startswith("An integration assigned you")


# --- notifications -----------------------------------------------------------------------------------------
def _note(personas, user, text="Reminder: call back"):
    return notification_create(workspace=personas.acme, recipient=user, kind=NotificationKind.TASK_REMINDER,
                               text=text, url="/tasks/")


def test_each_person_lists_and_marks_only_their_own_notifications(personas):
    alices = _note(personas, personas.alice, "for alice")
    bobs = _note(personas, personas.bob, "for bob")
    alice, bob = client_for(personas.alice), client_for(personas.bob)

    assert [n["id"] for n in alice.get("/api/v1/notifications/").json()["results"]] == [alices.pk]
    assert bob.get(f"/api/v1/notifications/{alices.pk}/").status_code == 404
    assert bob.patch(f"/api/v1/notifications/{alices.pk}/", {"read": True}, format="json").status_code == 404
    marked = alice.patch(f"/api/v1/notifications/{alices.pk}/", {"read": True}, format="json")
    assert marked.status_code == 200 and marked.json()["read"] is True
    assert alice.get("/api/v1/notifications/?unread=true").json()["results"] == []
    bobs.refresh_from_db()
    assert bobs.read_at is None


def test_mark_all_read_marks_only_the_callers_unread_notifications(personas):
    for _ in range(3):
        _note(personas, personas.alice)
    bobs = _note(personas, personas.bob)
    response = client_for(personas.alice).post("/api/v1/notifications/read-all/", format="json")
    assert response.status_code == 200 and response.json() == {"marked": 3}
    assert not Notification.objects.filter(recipient=personas.alice, read_at__isnull=True).exists()
    bobs.refresh_from_db()
    assert bobs.read_at is None


def test_a_viewer_may_mark_their_own_notifications_read(personas):
    victor = viewer(personas)
    note = _note(personas, victor)
    api = client_for(victor)
    assert api.patch(f"/api/v1/notifications/{note.pk}/", {"read": True}, format="json").status_code == 200
    assert api.patch(f"/api/v1/notifications/{note.pk}/", {"read": False}, format="json").status_code == 400


def test_notifications_only_link_to_paths_on_this_site(personas):
    for url in ("https://evil.test/", "//evil.test/x", "javascript:alert(1)", "/\\evil.test"):
        with pytest.raises(KithError):
            notification_create(workspace=personas.acme, recipient=personas.alice,
                                kind=NotificationKind.TASK_REMINDER, text="x", url=url)
