import datetime as dt
import threading

import pytest
from django.core import mail
from django.db import connection

from kith.core import clock
from kith.core.jobs.schedule import schedule_load
from kith.tasks.models import Notification, NotificationKind
from kith.tasks.reminders import (
    reminders_claim,
    reminders_send_due,
    task_reminder_emails_send,
)
from kith.tasks.services import task_complete, task_create
from kith.tasks.tests.helpers import soon


def _task(personas, *, reminder_in_hours: float, email: bool = False, assignee=None, title: str = "Call back"):
    return task_create(workspace=personas.acme, actor=personas.alice, data={
        "title": title, "due_at": soon(2), "assignee": (assignee or personas.alice).pk,
        "reminder_at": soon(reminder_in_hours), "email_reminder": email})


@pytest.mark.django_db
def test_a_due_reminder_makes_exactly_one_notification_even_when_the_job_runs_twice(personas):
    task = _task(personas, reminder_in_hours=-0.1, assignee=personas.bob)
    Notification.objects.all().delete()  # the "assigned to you" one is not what this test counts

    assert reminders_send_due() == 1
    assert reminders_send_due() == 0

    notification = Notification.objects.get()
    assert notification.kind == NotificationKind.TASK_REMINDER and notification.recipient == personas.bob
    assert notification.url == f"/tasks/{task.pk}/" and "Call back" in notification.text
    task.refresh_from_db()
    assert task.reminded_at is not None


@pytest.mark.django_db
def test_a_reminder_not_yet_due_and_one_of_a_done_task_send_nothing(personas):
    _task(personas, reminder_in_hours=1)
    done = _task(personas, reminder_in_hours=-1, title="Done already")
    task_complete(task=done, actor=personas.alice)

    assert reminders_send_due() == 0
    assert not Notification.objects.filter(kind=NotificationKind.TASK_REMINDER).exists()
    # ...and the not-yet-due one fires once its time comes.
    assert reminders_send_due(now=clock.now() + dt.timedelta(hours=2)) == 1


@pytest.mark.django_db
def test_the_claim_hands_each_due_reminder_to_one_caller_only(personas):
    tasks = [_task(personas, reminder_in_hours=-1, title=f"t{n}") for n in range(3)]
    now = clock.now()
    assert reminders_claim(now=now, limit=2) == sorted(t.pk for t in tasks)[:2]
    assert reminders_claim(now=now) == [max(t.pk for t in tasks)]
    assert reminders_claim(now=now) == []


@pytest.mark.django_db(transaction=True)
def test_two_runners_at_once_never_double_notify(personas):
    for number in range(40):
        _task(personas, reminder_in_hours=-1, title=f"task {number}")
    barrier = threading.Barrier(2)
    counts: list[int] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            barrier.wait()
            counts.append(reminders_send_due())
        except BaseException as exc:  # noqa: BLE001 — reported by the assertion below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert sum(counts) == 40
    assert Notification.objects.filter(kind=NotificationKind.TASK_REMINDER).count() == 40
    assert Notification.objects.filter(kind=NotificationKind.TASK_REMINDER).values("task").distinct().count() == 40


@pytest.mark.django_db(transaction=True)
def test_the_reminder_email_lands_in_the_outbox_once_when_chosen(personas):
    chosen = _task(personas, reminder_in_hours=-0.5, email=True, assignee=personas.bob, title="Send the quote")
    _task(personas, reminder_in_hours=-0.5, email=False, title="No mail for this one")
    mail.outbox.clear()

    assert reminders_send_due() == 2

    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["bob@acme.test"] and "Send the quote" in message.subject
    assert f"/tasks/{chosen.pk}/" in message.body
    # A retried e-mail job (at-least-once delivery) does not send again.
    task_reminder_emails_send(task_ids=[chosen.pk])
    assert len(mail.outbox) == 1
    chosen.refresh_from_db()
    assert chosen.reminder_emailed_at is not None


@pytest.mark.django_db(transaction=True)
def test_a_failed_email_is_unclaimed_so_the_retry_sends_it(personas, settings):
    task = _task(personas, reminder_in_hours=-0.5, email=True)
    settings.EMAIL_BACKEND = "kith.tasks.tests.test_reminders.BrokenBackend"
    with pytest.raises(ConnectionError):
        task_reminder_emails_send(task_ids=[task.pk])
    task.refresh_from_db()
    assert task.reminder_emailed_at is None

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    mail.outbox.clear()
    task_reminder_emails_send(task_ids=[task.pk])
    assert len(mail.outbox) == 1


class BrokenBackend:
    def __init__(self, *args, **kwargs) -> None:
        pass

    def send_messages(self, messages) -> int:
        raise ConnectionError("SMTP server unreachable")


def test_the_reminder_job_is_scheduled_every_minute():
    entries = {entry.name: entry for entry in schedule_load()}
    entry = entries["kith.tasks.reminders.task_reminders_send"]
    assert entry.every == dt.timedelta(seconds=60) and entry.why
