import datetime as dt

import pytest
from django.test import Client

from kith.contacts.services import company_create
from kith.contacts.tests.factories import ContactFactory
from kith.core import clock
from kith.deals.services import deal_create, pipeline_create
from kith.tasks.models import Notification, NotificationKind, Task, TaskStatus
from kith.tasks.notifications import notification_create
from kith.tasks.services import task_create
from kith.tasks.tests.helpers import restrict, soon, viewer
from kith.timeline.models import Activity, ActivityKind

pytestmark = pytest.mark.django_db


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _task(personas, **data):
    return task_create(workspace=personas.acme, actor=personas.alice,
                       data={"title": "Call back", "due_at": soon(), "assignee": personas.alice.pk, **data})


def test_my_tasks_groups_overdue_today_upcoming_and_done(personas):
    personas.acme.timezone = "UTC"
    personas.acme.save()
    now = clock.now()
    _task(personas, title="Overdue thing", due_at=now - dt.timedelta(days=2))
    _task(personas, title="Next month thing", due_at=now + dt.timedelta(days=30))
    _task(personas, title="Finished thing", due_at=now + dt.timedelta(days=1), status="done")
    _task(personas, title="Bob's thing", assignee=personas.bob.pk)

    page = _client(personas.alice).get("/tasks/").content.decode()

    overdue, upcoming, done = (page.index(t) for t in ("Overdue thing", "Next month thing", "Finished thing"))
    assert page.index('id="tasks-overdue"') < overdue < page.index('id="tasks-today"')
    assert page.index('id="tasks-upcoming"') < upcoming < page.index('id="tasks-done"') < done
    assert "Bob&#x27;s thing" not in page and "Bob's thing" not in page


def test_my_tasks_has_an_empty_state(personas):
    page = _client(personas.alice).get("/tasks/").content.decode()
    assert "No tasks yet" in page


def test_completing_over_htmx_returns_the_done_row_and_a_toast(personas):
    task = _task(personas)
    response = _client(personas.alice).post(f"/tasks/{task.pk}/complete/", HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert "kith-task--done" in response.content.decode() and "kith:toast" in response["HX-Trigger"]
    task.refresh_from_db()
    assert task.status == TaskStatus.DONE


def test_a_task_is_created_from_the_contact_page_panel_and_lands_back_there(personas):
    personas.acme.timezone = "Europe/Berlin"
    personas.acme.save()
    contact = ContactFactory(workspace=personas.acme, first_name="Dana", last_name="Scully")
    client = _client(personas.alice)
    page = client.get(f"/contacts/{contact.pk}/").content.decode()
    assert 'id="kith-tasks-panel"' in page and "No open tasks" in page

    response = client.post("/tasks/new/", {"title": "Send the quote", "due_at": "2030-01-02T09:30",
                                           "assignee": personas.bob.pk, "contact": contact.pk,
                                           "reminder_at": "2030-01-02T09:00", "email_reminder": "on",
                                           "next": f"/contacts/{contact.pk}/"})

    assert response.status_code == 302 and response["Location"] == f"/contacts/{contact.pk}/"
    task = Task.objects.get(title="Send the quote")
    assert (task.contact, task.assignee, task.email_reminder) == (contact, personas.bob, True)
    # The picker's local time is read in the workspace's time zone (Berlin is UTC+1 in January).
    assert task.due_at == dt.datetime(2030, 1, 2, 8, 30, tzinfo=dt.UTC)
    assert "Send the quote" in client.get(f"/contacts/{contact.pk}/").content.decode()


def test_the_create_form_shows_field_errors_and_refuses_an_off_site_next(personas):
    client = _client(personas.alice)
    bad = client.post("/tasks/new/", {"title": "", "due_at": "nope", "assignee": personas.alice.pk})
    assert bad.status_code == 400 and "is-invalid" in bad.content.decode()
    ok = client.post("/tasks/new/", {"title": "x", "due_at": "2030-01-02T09:30", "assignee": personas.alice.pk,
                                     "next": "https://evil.test/"})
    assert ok["Location"] == "/tasks/"


def test_panels_on_company_and_deal_pages_and_a_call_logged_on_a_deal(personas):
    company = company_create(workspace=personas.acme, actor=personas.alice, data={"name": "Globex"})
    pipeline = pipeline_create(workspace=personas.acme, actor=personas.alice, name="Sales")
    deal = deal_create(workspace=personas.acme, actor=personas.alice, pipeline=pipeline, name="Globex pilot",
                       company=company)
    _task(personas, title="Company follow-up", company=company.pk)
    _task(personas, title="Deal follow-up", deal=deal.pk)
    client = _client(personas.alice)

    assert "Company follow-up" in client.get(f"/companies/{company.pk}/").content.decode()
    deal_page = client.get(f"/deals/{deal.pk}/").content.decode()
    assert "Deal follow-up" in deal_page and "Log a note, call or meeting" in deal_page

    response = client.post(f"/deals/{deal.pk}/activities/", {"kind": "call", "title": "Pricing call",
                                                             "body": "<p>Went <b>well</b></p>"})
    assert response.status_code == 302
    call = Activity.objects.get(kind=ActivityKind.CALL)
    assert (call.deal, call.company) == (deal, company)
    assert "<b>well</b>" in client.get(f"/deals/{deal.pk}/").content.decode()
    assert "Pricing call" in client.get(f"/companies/{company.pk}/").content.decode()


def test_a_viewer_sees_tasks_but_cannot_change_them(personas):
    task = _task(personas)
    client = _client(viewer(personas))
    page = client.get(f"/tasks/{task.pk}/").content.decode()
    assert "Call back" in page and "Save task" not in page
    assert client.post(f"/tasks/{task.pk}/complete/").status_code == 403
    assert client.post("/tasks/new/", {"title": "x", "due_at": "2030-01-02T09:30"}).status_code == 403
    assert client.post(f"/tasks/{task.pk}/", {"title": "pwned", "due_at": "2030-01-02T09:30",
                                             "assignee": personas.alice.pk}).status_code == 403
    task.refresh_from_db()
    assert (task.status, task.title) == (TaskStatus.OPEN, "Call back")


def test_a_restricted_rep_and_mallory_get_404_for_tasks_they_may_not_see(personas):
    restrict(personas)
    hidden = _task(personas, contact=ContactFactory(workspace=personas.acme, owner=personas.alice).pk)
    for user in (personas.bob, personas.mallory):
        client = _client(user)
        assert client.get(f"/tasks/{hidden.pk}/").status_code == 404
        assert client.post(f"/tasks/{hidden.pk}/complete/").status_code == 404
    hidden.refresh_from_db()
    assert hidden.status == TaskStatus.OPEN


def test_the_bell_counts_unread_and_opening_a_notification_marks_it_read(personas):
    task = _task(personas)
    note = notification_create(workspace=personas.acme, recipient=personas.alice,
                               kind=NotificationKind.TASK_REMINDER, text="Reminder: call back",
                               url=f"/tasks/{task.pk}/")
    client = _client(personas.alice)
    assert ">1<" in client.get("/notifications/bell/").content.decode()
    assert 'hx-trigger="every 30s"' in client.get("/tasks/").content.decode()

    opened = client.post(f"/notifications/{note.pk}/read/", {"open": "1"})
    assert opened["Location"] == f"/tasks/{task.pk}/"
    note.refresh_from_db()
    assert note.read_at is not None
    assert "d-none" in client.get("/notifications/bell/").content.decode()


def test_mark_all_read_and_the_empty_state(personas):
    client = _client(personas.alice)
    assert "No notifications" in client.get("/notifications/").content.decode()
    for _ in range(2):
        notification_create(workspace=personas.acme, recipient=personas.alice,
                            kind=NotificationKind.TASK_ASSIGNED, text="x", url="/tasks/")
    assert client.post("/notifications/read-all/").status_code == 302
    assert not Notification.objects.filter(read_at__isnull=True).exists()


def test_bob_cannot_read_alices_notification(personas):
    note = notification_create(workspace=personas.acme, recipient=personas.alice,
                               kind=NotificationKind.TASK_REMINDER, text="private", url="/tasks/")
    client = _client(personas.bob)
    assert client.post(f"/notifications/{note.pk}/read/").status_code == 404
    assert "private" not in client.get("/notifications/").content.decode()


def test_saving_the_edit_form_unchanged_does_not_rearm_a_sent_reminder(personas):
    task = _task(personas, reminder_at=soon(-1))
    task.reminded_at = soon(-0.5)
    task.save()
    client = _client(personas.alice)
    page = client.get(f"/tasks/{task.pk}/")
    form = page.context["form"]
    data = {name: form[name].value() for name in ("title", "due_at", "assignee", "reminder_at", "notes")}
    data = {k: (v.strftime("%Y-%m-%dT%H:%M") if hasattr(v, "strftime") else v) for k, v in data.items()}

    data["title"] = "Call back tomorrow"
    assert client.post(f"/tasks/{task.pk}/", data).status_code == 302

    task.refresh_from_db()
    assert task.title == "Call back tomorrow" and task.reminded_at is not None


def test_the_bell_tells_htmx_to_stop_polling_once_logged_out(personas):
    assert Client().get("/notifications/bell/", HTTP_HX_REQUEST="true").status_code == 286
