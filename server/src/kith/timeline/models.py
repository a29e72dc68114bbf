"""The activity timeline: one row per thing that happened to a contact, company (and later deal).

Notes, calls and meetings are written by people; every other kind is written by the system (messages, events,
stage changes, workflow steps) through ``kith.timeline.services.activity_record``.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from kith.core.models import WorkspaceOwnedModel


class ActivityKind(models.TextChoices):
    NOTE = "note", "Note"
    CALL = "call", "Call"
    MEETING = "meeting", "Meeting"
    TASK = "task", "Task"
    EMAIL_SENT = "email_sent", "E-mail sent"
    EMAIL_DELIVERED = "email_delivered", "E-mail delivered"
    EMAIL_OPENED = "email_opened", "E-mail opened"
    EMAIL_CLICKED = "email_clicked", "E-mail clicked"
    EMAIL_BOUNCED = "email_bounced", "E-mail bounced"
    SMS_SENT = "sms_sent", "SMS sent"
    UNSUBSCRIBED = "unsubscribed", "Unsubscribed"
    EVENT = "event", "Event received"
    STAGE_CHANGED = "stage_changed", "Stage changed"
    FIELD_CHANGED = "field_changed", "Field changed"
    WORKFLOW = "workflow", "Workflow step"
    MERGED = "merged", "Merged"
    SYSTEM = "system", "System"


# Kinds a person records by hand (the rest are written by the system).
MANUAL_KINDS = frozenset({ActivityKind.NOTE, ActivityKind.CALL, ActivityKind.MEETING})
# The same, as choices in display order (the API's input enum, named in settings.SPECTACULAR_SETTINGS).
MANUAL_KIND_CHOICES = [(kind.value, kind.label) for kind in ActivityKind if kind in MANUAL_KINDS]


class Activity(WorkspaceOwnedModel):
    kind = models.CharField(max_length=20, choices=ActivityKind.choices)
    contact = models.ForeignKey(
        "contacts.Contact", null=True, blank=True, on_delete=models.CASCADE, related_name="activities"
    )
    company = models.ForeignKey(
        "contacts.Company", null=True, blank=True, on_delete=models.CASCADE, related_name="activities"
    )
    deal = models.ForeignKey("deals.Deal", null=True, blank=True, on_delete=models.CASCADE, related_name="activities")
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="+")
    occurred_at = models.DateTimeField()
    title = models.CharField(max_length=255)
    # Sanitized HTML (nh3) for notes; plain for system rows.
    body = models.TextField(blank=True)
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        verbose_name_plural = "activities"
        # Each timeline page reads one subject's newest rows first.
        indexes = [
            models.Index(fields=["contact", "-occurred_at"], name="activity_contact_time_idx"),
            models.Index(fields=["company", "-occurred_at"], name="activity_company_time_idx"),
            models.Index(fields=["deal", "-occurred_at"], name="activity_deal_time_idx"),
            models.Index(fields=["workspace", "kind", "-occurred_at"], name="activity_ws_kind_time_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.title}"
