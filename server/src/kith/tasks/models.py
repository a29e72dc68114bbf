"""Tasks (follow-ups with a due date, an assignee and an optional reminder) and in-app notifications."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from kith.core.models import WorkspaceOwnedModel


class TaskStatus(models.TextChoices):
    OPEN = "open", "Open"
    DONE = "done", "Done"


class Task(WorkspaceOwnedModel):
    title = models.CharField(max_length=255)
    # Sanitized HTML, cleaned like timeline notes (kith.timeline.services.sanitize_note_html).
    notes = models.TextField(blank=True)
    due_at = models.DateTimeField()
    # Must be a member when set; SET_NULL keeps the task (and its history) when the user account is deleted.
    assignee = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    # SET_NULL: deleting a record never silently deletes someone's to-do; the task stays with its assignee.
    contact = models.ForeignKey("contacts.Contact", null=True, blank=True, on_delete=models.SET_NULL,
                                related_name="tasks")
    company = models.ForeignKey("contacts.Company", null=True, blank=True, on_delete=models.SET_NULL,
                                related_name="tasks")
    deal = models.ForeignKey("deals.Deal", null=True, blank=True, on_delete=models.SET_NULL, related_name="tasks")
    status = models.CharField(max_length=10, choices=TaskStatus.choices, default=TaskStatus.OPEN)
    completed_at = models.DateTimeField(null=True, blank=True)
    reminder_at = models.DateTimeField(null=True, blank=True)
    # Set by the reminder job when it claims the reminder: the claim itself, so no reminder is sent twice.
    reminded_at = models.DateTimeField(null=True, blank=True)
    # The assignee's "also e-mail me" choice for this task's reminder.
    email_reminder = models.BooleanField(default=False)
    # Claimed right before the reminder e-mail is handed to the mail backend (at most one e-mail per reminder).
    reminder_emailed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            # "My open tasks by due date": the My tasks page and the API's ?assignee=&status=open&ordering=due_at.
            models.Index(fields=["assignee", "due_at"], condition=Q(status="open"), name="task_open_assignee_due_idx"),
            # The reminder scan: open tasks whose reminder has not been claimed yet, oldest reminder first.
            models.Index(fields=["reminder_at"], condition=Q(status="open", reminded_at__isnull=True),
                         name="task_reminder_due_idx"),
            # The done list of My tasks (newest completions first).
            models.Index(fields=["assignee", "-completed_at"], condition=Q(status="done"),
                         name="task_done_assignee_idx"),
        ]
        constraints = [
            # A done task carries the time it was completed; an open one does not.
            models.CheckConstraint(
                condition=Q(status="open", completed_at__isnull=True) | Q(status="done", completed_at__isnull=False),
                name="task_completed_at_matches_status",
            ),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def is_done(self) -> bool:
        return self.status == TaskStatus.DONE


class NotificationKind(models.TextChoices):
    TASK_REMINDER = "task_reminder", "Task reminder"
    TASK_ASSIGNED = "task_assigned", "Task assigned"


class Notification(WorkspaceOwnedModel):
    recipient = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=30, choices=NotificationKind.choices)
    text = models.CharField(max_length=500)
    # An internal path such as /tasks/12/ (never a full URL: notifications must not link off-site).
    url = models.CharField(max_length=500, blank=True)
    task = models.ForeignKey(Task, null=True, blank=True, on_delete=models.CASCADE, related_name="notifications")
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            # The bell's unread count and the unread list of one user in one workspace.
            models.Index(fields=["recipient", "workspace", "-id"], condition=Q(read_at__isnull=True),
                         name="notification_unread_idx"),
            # The notifications page: one user's newest first.
            models.Index(fields=["recipient", "workspace", "-id"], name="notification_recipient_idx"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(url="") | (Q(url__startswith="/") & ~Q(url__startswith="//")),
                                   name="notification_url_internal"),
        ]

    def __str__(self) -> str:
        return self.text
