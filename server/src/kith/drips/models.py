"""Drip sequences: messages that go out on their day after a contact enrolls, at a preferred local time.

A ``Sequence`` says who enrolls (contacts entering its audience segment, and/or contacts doing its enrolling event),
when messages go out (``send_time`` in the *recipient's* timezone) and when a contact leaves early (exit events, a
goal segment; unsubscribing always). Its ``Step`` rows are the messages, in ``position`` order, each ``day_offset``
days after the enrollment's anchor day. An ``Enrollment`` is one contact's way through one sequence; its ``wake_at``
is when its next step is due, and a periodic job sends what is due (``kith.drips.engine``).
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import models
from django.db.models import Q

from kith.core.models import WorkspaceOwnedModel

DEFAULT_SEND_TIME = dt.time(9, 0)


class Sequence(WorkspaceOwnedModel):
    name = models.CharField(max_length=200)
    # Audience. A segment alone: contacts enroll when they enter it. An event alone: contacts enroll when they do it.
    # Both: the event enrolls contacts who are in the segment at that moment.
    segment = models.ForeignKey("segments.Segment", null=True, blank=True, on_delete=models.SET_NULL,
                                related_name="+")
    enroll_event = models.CharField(max_length=255, blank=True)
    is_active = models.BooleanField(default=False)
    # When the sequence was last switched on: segment entries before it do not enroll (see docs/drips.md).
    activated_at = models.DateTimeField(null=True, blank=True)
    send_time = models.TimeField(default=DEFAULT_SEND_TIME)
    # Event names that take a contact out of the sequence (e.g. "Subscription Started").
    exit_events = models.JSONField(default=list, blank=True)
    # Reaching the goal (entering this segment) also ends the sequence for the contact.
    goal_segment = models.ForeignKey("segments.Segment", null=True, blank=True, on_delete=models.SET_NULL,
                                     related_name="+")
    # The subscription topic the messages are about: contacts who opted out of it get none.
    topic = models.ForeignKey("preferences.Topic", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["workspace", "name"], name="sequence_unique_name")]
        indexes = [
            # The API's default list order (cursor by descending id) within one workspace.
            models.Index(fields=["workspace", "id"], name="sequence_ws_id_idx"),
        ]

    def __str__(self) -> str:
        return self.name


class Step(models.Model):
    sequence = models.ForeignKey(Sequence, on_delete=models.CASCADE, related_name="steps")
    position = models.PositiveIntegerField()
    # Days after the enrollment's anchor day (day 0 is the first send slot at or after enrollment).
    day_offset = models.PositiveIntegerField()
    template = models.ForeignKey("messaging.Template", on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["position"]
        constraints = [
            models.UniqueConstraint(fields=["sequence", "position"], name="step_unique_position"),
        ]

    def __str__(self) -> str:
        return f"step {self.position} (day {self.day_offset}) of sequence {self.sequence_id}"


class EnrollmentState(models.TextChoices):
    ACTIVE = "active", "Active"
    COMPLETED = "completed", "Completed"
    EXITED = "exited", "Exited"


class ExitReason(models.TextChoices):
    UNSUBSCRIBED = "unsubscribed", "Unsubscribed or suppressed"
    EXIT_EVENT = "exit_event", "Exit event"
    GOAL = "goal", "Reached the goal"


class Enrollment(WorkspaceOwnedModel):
    """One contact in one sequence. (sequence, contact) is unique: a contact goes through a sequence once."""

    sequence = models.ForeignKey(Sequence, on_delete=models.CASCADE, related_name="enrollments")
    contact = models.ForeignKey("contacts.Contact", on_delete=models.CASCADE, related_name="drip_enrollments")
    state = models.CharField(max_length=10, choices=EnrollmentState.choices, default=EnrollmentState.ACTIVE)
    exit_reason = models.CharField(max_length=20, choices=ExitReason.choices, blank=True)
    enrolled_at = models.DateTimeField()
    # The recipient's local date that day offsets count from: the enrollment's local day if the send time is still
    # ahead on it, else the next day. Kept so later steps stay on their days even if the contact moves timezone.
    anchor_date = models.DateField()
    next_step = models.ForeignKey(Step, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    # When the next step is due (UTC); while a runner works on it, the end of that runner's lease.
    wake_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["sequence", "contact"], name="enrollment_unique_contact"),
        ]
        indexes = [
            # The due query of every runner pass: only active rows are in it, ordered by when they are due.
            models.Index(fields=["wake_at"], condition=Q(state="active"), name="enrollment_due_idx"),
            # A sequence's enrollment list (cursor by descending id), and exits by contact.
            models.Index(fields=["sequence", "id"], name="enrollment_sequence_idx"),
            models.Index(fields=["contact", "state"], name="enrollment_contact_idx"),
        ]

    def __str__(self) -> str:
        return f"contact {self.contact_id} in sequence {self.sequence_id} ({self.state})"
