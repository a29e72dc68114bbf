"""Job rows: the durable truth behind every background job (the broker message is only a doorbell)."""

from __future__ import annotations

from django.db import models


class Job(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    name = models.CharField(max_length=200)
    kwargs = models.JSONField(default=dict)
    queue = models.CharField(max_length=50, default="default")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    run_at = models.DateTimeField()
    # While running, the worker holds the row until lease_until; a worker that died (SIGKILL, OOM, lost machine)
    # stops renewing it, and any runner may claim the row again once the lease has expired.
    lease_until = models.DateTimeField(null=True, blank=True)
    claimed_by = models.CharField(max_length=100, blank=True)
    # Incremented by every claim, so (id, attempts) names one claim: a worker that overran its lease and lost the
    # row to another worker can no longer mark it done or failed (see kith.core.jobs.runner).
    attempts = models.PositiveIntegerField(default=0)
    max_attempts = models.PositiveIntegerField(default=5)
    lease_seconds = models.PositiveIntegerField(default=300)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            # The claim query: due queued rows, and running rows whose lease expired, oldest first.
            models.Index(fields=["status", "run_at"], name="job_due_idx"),
            models.Index(fields=["status", "lease_until"], name="job_lease_idx"),
            # The sweeper's prune: finished rows older than the retention.
            models.Index(fields=["status", "finished_at"], name="job_finished_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.name}#{self.pk} ({self.status})"


class ScheduleState(models.Model):
    """When each periodic job (``schedule.toml``) is next due. Claimed with a conditional UPDATE so that several
    embedded runners never start the same periodic job twice."""

    name = models.CharField(max_length=200, unique=True)
    next_run_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.name} next at {self.next_run_at:%Y-%m-%d %H:%M:%S}"
