"""Workflows, their immutable versions, and the durable state of every run: one ``Run`` row per enrollment and one
``RunStep`` row per executed step.

The rows are the truth (see docs/workflows.md): a run waiting thirty minutes or thirty days is a ``Run`` with
``state='waiting'`` and a ``wake_at``; jobs are only doorbells that make the runner look sooner.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from kith.core.models import WorkspaceOwnedModel


class WorkflowStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    ACTIVE = "active", "Active"
    PAUSED = "paused", "Paused"


class TriggerKind(models.TextChoices):
    EVENT = "event", "Event received"
    CONTACT_CREATED = "contact_created", "Contact created"
    CONTACT_UPDATED = "contact_updated", "Contact updated"
    FIELD_CHANGED = "field_changed", "Field changed"
    TAG_ADDED = "tag_added", "Tag added"
    TAG_REMOVED = "tag_removed", "Tag removed"
    DEAL_STAGE_CHANGED = "deal_stage_changed", "Deal stage changed"
    EMAIL_OPENED = "email_opened", "E-mail opened"
    EMAIL_CLICKED = "email_clicked", "E-mail link clicked"
    SEGMENT_ENTERED = "segment_entered", "Segment entered"
    SEGMENT_LEFT = "segment_left", "Segment left"
    DATE = "date", "Date-based"
    MANUAL = "manual", "Manual"


class ReentryRule(models.TextChoices):
    ONCE = "once", "Once per contact"
    INTERVAL = "interval", "Once per N days"
    ALWAYS = "always", "Every time"


class Workflow(WorkspaceOwnedModel):
    """What starts a run (trigger, entry condition, re-entry rule) and what ends it early (the goal event). The
    steps live in ``WorkflowVersion``; ``current_version`` is what new runs start on."""

    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    status = models.CharField(max_length=10, choices=WorkflowStatus.choices, default=WorkflowStatus.DRAFT)
    trigger_kind = models.CharField(max_length=30, choices=TriggerKind.choices, default=TriggerKind.MANUAL)
    trigger_config = models.JSONField(default=dict, blank=True)
    # A segment-style definition the contact must match when enrolled; empty means everyone.
    entry_condition = models.JSONField(default=dict, blank=True)
    reentry = models.CharField(max_length=10, choices=ReentryRule.choices, default=ReentryRule.ONCE)
    reentry_days = models.PositiveIntegerField(default=0)
    # A tracked event name that ends any unfinished run of the contact as "goal reached".
    goal_event = models.CharField(max_length=255, blank=True)
    current_version = models.ForeignKey("WorkflowVersion", null=True, blank=True, on_delete=models.SET_NULL,
                                        related_name="+")
    # Round-robin owner assignment takes the next member by this counter (incremented with a conditional UPDATE).
    assign_seq = models.PositiveIntegerField(default=0)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["workspace", "name"], name="workflow_unique_name")]
        indexes = [
            # Trigger matching: "the active workflows of this workspace with trigger kind K" on every event chunk.
            models.Index(fields=["workspace", "trigger_kind"], condition=Q(status="active"),
                         name="workflow_active_trigger"),
            # Goal matching on every event chunk.
            models.Index(fields=["workspace", "goal_event"], condition=~Q(goal_event=""), name="workflow_goal"),
        ]

    def __str__(self) -> str:
        return self.name


class WorkflowVersion(models.Model):
    """One immutable definition of a workflow's steps. Saving a changed definition adds a version; runs keep the
    version they started on, so editing a live workflow never changes where a waiting contact goes next."""

    workflow = models.ForeignKey(Workflow, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    definition = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["workflow", "number"], name="workflow_version_unique")]

    def __str__(self) -> str:
        return f"{self.workflow_id} v{self.number}"


class RunState(models.TextChoices):
    RUNNING = "running", "Running"
    WAITING = "waiting", "Waiting"
    COMPLETED = "completed", "Completed"
    GOAL_REACHED = "goal_reached", "Goal reached"
    EXITED = "exited", "Exited"
    FAILED = "failed", "Failed"


FINISHED_STATES = (RunState.COMPLETED, RunState.GOAL_REACHED, RunState.EXITED, RunState.FAILED)
OPEN_STATES = (RunState.RUNNING, RunState.WAITING)


class Run(WorkspaceOwnedModel):
    """One contact going through one workflow version.

    ``waiting`` with ``wake_at`` is due when ``wake_at`` has passed (a new run is created waiting and due at once).
    ``running`` means a worker holds the run until ``lease_until``; ``lease_token`` is bumped by every claim and
    every write of a step is conditioned on it, so a worker that lost its lease cannot advance the run.
    """

    workflow = models.ForeignKey(Workflow, on_delete=models.CASCADE, related_name="runs")
    version = models.ForeignKey(WorkflowVersion, on_delete=models.PROTECT, related_name="runs")
    contact = models.ForeignKey("contacts.Contact", on_delete=models.CASCADE, related_name="workflow_runs")
    state = models.CharField(max_length=15, choices=RunState.choices, default=RunState.WAITING)
    current_step = models.CharField(max_length=64, blank=True)
    # How many steps this run has executed; the next RunStep gets this number (see RunStep.seq).
    seq = models.PositiveIntegerField(default=0)
    wake_at = models.DateTimeField(null=True, blank=True)
    waiting_for_event = models.CharField(max_length=255, blank=True)
    # Set when the awaited event arrived (or the goal event, for a run that was mid-step): the runner reads it.
    event_arrived_at = models.DateTimeField(null=True, blank=True)
    goal_reached_at = models.DateTimeField(null=True, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    lease_token = models.PositiveIntegerField(default=0)
    # Failed attempts of the current step (reset when a step succeeds); at MAX_ATTEMPTS the run is parked failed.
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True)
    # What started it ("event:123", "audit:45", "manual:<nonce>"): unique per workflow, so a retried trigger scan
    # or event chunk never enrolls the same cause twice.
    trigger_key = models.CharField(max_length=64)
    trigger_event = models.ForeignKey("events.Event", null=True, blank=True, on_delete=models.SET_NULL,
                                      related_name="+")
    # Event properties (or other trigger data) offered to templates as merge data.
    context = models.JSONField(default=dict, blank=True)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["workflow", "trigger_key"], name="run_unique_trigger"),
        ]
        indexes = [
            # The runner's claim: "waiting runs whose wake_at has passed", oldest first. Only waiting rows are in
            # the index, so it stays as small as the number of runs currently waiting.
            models.Index(fields=["wake_at"], condition=Q(state="waiting"), name="run_due"),
            # Runs whose worker died: leases that expired.
            models.Index(fields=["lease_until"], condition=Q(state="running"), name="run_lease"),
            # "A contact's runs" (contact page, re-entry rule) newest first.
            models.Index(fields=["contact", "workflow", "-started_at"], name="run_contact"),
            # The funnel and the runs list of a workflow.
            models.Index(fields=["workflow", "state", "current_step"], name="run_workflow_state"),
            # An arriving event wakes the runs waiting for it: (workspace, name, contact) among waiting rows.
            models.Index(fields=["workspace", "waiting_for_event", "contact"],
                         condition=Q(state="waiting") & ~Q(waiting_for_event=""), name="run_waiting_event"),
        ]

    def __str__(self) -> str:
        return f"run {self.pk} of workflow {self.workflow_id} for contact {self.contact_id} ({self.state})"

    @property
    def is_finished(self) -> bool:
        return self.state in FINISHED_STATES


class RunStepState(models.TextChoices):
    DONE = "done", "Done"
    WAITING = "waiting", "Waiting"
    SKIPPED = "skipped", "Skipped"
    FAILED = "failed", "Failed"


class RunStep(models.Model):
    """One executed step of a run. Written in the same transaction as the step's effect and the run's advance, so
    a step either happened once, with its row, or not at all. ``seq`` is the run's step counter at execution: a
    step visited twice (a loop through a wait) gets two rows, and the unique key makes a second execution of the
    same visit impossible."""

    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="steps")
    step_id = models.CharField(max_length=64)
    seq = models.PositiveIntegerField()
    kind = models.CharField(max_length=30)
    state = models.CharField(max_length=10, choices=RunStepState.choices, default=RunStepState.DONE)
    attempts = models.PositiveSmallIntegerField(default=1)
    result = models.JSONField(default=dict, blank=True)
    executed_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["run", "step_id", "seq"], name="run_step_unique_visit"),
            models.UniqueConstraint(fields=["run", "seq"], name="run_step_unique_seq"),
        ]

    def __str__(self) -> str:
        return f"{self.run_id}#{self.seq} {self.step_id} ({self.state})"


class TriggerCursor(models.Model):
    """How far the trigger scan has read a log table (audit entries, timeline activities). The cursor moves in the
    transaction that enrolls the runs, so a crash re-reads the same rows and ``Run.trigger_key`` drops repeats."""

    name = models.CharField(max_length=30, unique=True)
    last_id = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.name} @ {self.last_id}"
