"""Task reminders: a periodic job claims due reminders set-based and turns them into notifications (and e-mails).

Exactly once, even with several runners: the claim is one conditional ``UPDATE … SET reminded_at = now WHERE
reminder_at <= now AND reminded_at IS NULL … RETURNING id``. A row is returned to exactly one runner: on PostgreSQL a
concurrent runner blocks on the row lock and, once the first commits, re-checks ``reminded_at IS NULL`` and skips
it; SQLite serializes writers. The notifications are inserted in the same transaction as the claim, so a crash
loses neither (both roll back and the next run claims again) and never doubles them.

E-mail (the task's "also e-mail me" choice) is network I/O, so it never runs inside that transaction: the claim
enqueues ``task_reminder_emails_send`` on commit, and that job claims each e-mail (``reminder_emailed_at``) before
handing it to Django's mail backend, so a retried job does not send twice.
"""

from __future__ import annotations

import datetime as dt
import logging
import zoneinfo

from django.conf import settings
from django.core.mail import send_mail
from django.db import connection, transaction
from django.template.loader import render_to_string

from kith.core import clock
from kith.core.jobs import enqueue_on_commit, job
from kith.tasks.models import Notification, NotificationKind, Task, TaskStatus
from kith.tasks.services import task_url

logger = logging.getLogger(__name__)

# Reminders claimed per statement: bounds one transaction's size (and its notification INSERT).
CLAIM_BATCH = 500
# Batches per run: 10,000 reminders a minute is far beyond any workspace's load; the next run takes the rest.
MAX_BATCHES = 20


def reminders_claim(*, now: dt.datetime, limit: int = CLAIM_BATCH) -> list[int]:
    """Stamp up to ``limit`` due, unclaimed reminders of open tasks as sent and return their ids (one statement).
    Must run inside the transaction that records what the reminders produce."""
    table = connection.ops.quote_name(Task._meta.db_table)
    due = "status = %s AND reminded_at IS NULL AND reminder_at IS NOT NULL AND reminder_at <= %s"
    # The outer WHERE repeats the condition: it is what PostgreSQL re-checks on a row a concurrent runner changed.
    sql = (f"UPDATE {table} SET reminded_at = %s WHERE {due} AND id IN "
           f"(SELECT id FROM {table} WHERE {due} ORDER BY reminder_at, id LIMIT %s) RETURNING id")
    at = connection.ops.adapt_datetimefield_value(now)  # SQLite stores naive UTC text; PostgreSQL a timestamptz
    with connection.cursor() as cursor:
        cursor.execute(sql, [at, str(TaskStatus.OPEN), at, str(TaskStatus.OPEN), at, limit])
        return sorted(row[0] for row in cursor.fetchall())


def _due_text(task: Task) -> str:
    try:
        zone: dt.tzinfo = zoneinfo.ZoneInfo(task.workspace.timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        zone = dt.UTC
    return task.due_at.astimezone(zone).strftime("%b %-d, %H:%M")


def reminders_send_due(*, now: dt.datetime | None = None) -> int:
    """Claim due reminders batch by batch, create their notifications, and queue the e-mails. Returns how many."""
    now = now or clock.now()
    total = 0
    for _ in range(MAX_BATCHES):
        with transaction.atomic():
            ids = reminders_claim(now=now)
            if not ids:
                break
            tasks = list(Task.objects.filter(pk__in=ids).select_related("workspace"))
            Notification.objects.bulk_create([
                Notification(workspace=task.workspace, recipient_id=task.assignee_id,
                             kind=NotificationKind.TASK_REMINDER, task=task, url=task_url(task),
                             text=f"Reminder: “{task.title}” is due {_due_text(task)}."[:500])
                for task in tasks if task.assignee_id is not None
            ])
            emails = [task.pk for task in tasks if task.email_reminder and task.assignee_id is not None]
            if emails:
                enqueue_on_commit(task_reminder_emails_send, task_ids=emails)
        total += len(ids)
        if len(ids) < CLAIM_BATCH:
            break
    return total


@job
def task_reminders_send() -> int:
    """The periodic job (``kith/core/jobs/schedule.toml``)."""
    return reminders_send_due()


@job
def task_reminder_emails_send(*, task_ids: list[int]) -> None:
    """E-mail the reminders of ``task_ids`` to their assignees, each at most once."""
    for task_id in task_ids:
        now = clock.now()
        claimed = (Task.objects.filter(pk=task_id, email_reminder=True, reminder_emailed_at__isnull=True)
                   .exclude(assignee=None).update(reminder_emailed_at=now))
        if not claimed:
            continue  # sent by an earlier attempt, or the choice was turned off meanwhile
        task = Task.objects.select_related("assignee", "workspace", "contact", "company", "deal").get(pk=task_id)
        try:
            _send(task)
        except Exception:
            # Un-claim so the job's retry sends it; the exception propagates to the runner (logged, retried).
            Task.objects.filter(pk=task_id, reminder_emailed_at=now).update(reminder_emailed_at=None)
            raise


def _send(task: Task) -> None:
    assert task.assignee is not None
    context = {"task": task, "due": _due_text(task), "url": settings.KITH_BASE_URL + task_url(task),
               "name": task.assignee.display_name}
    send_mail(subject=f"Reminder: {task.title}"[:200], message=render_to_string("tasks/email/reminder.txt", context),
              from_email=None, recipient_list=[task.assignee.email])
