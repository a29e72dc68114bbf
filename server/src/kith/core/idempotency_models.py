"""The stored outcome of a write sent with an ``Idempotency-Key`` header (see ``kith.core.idempotency``)."""

from __future__ import annotations

from django.db import models


class IdempotencyRecord(models.Model):
    """One idempotent write: the request's fingerprint and the response it got.

    Inserted when the request starts and completed in the same transaction as the write itself, so a committed
    record always carries the response of a committed write, and a crash leaves neither behind.
    """

    workspace = models.ForeignKey("accounts.Workspace", on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    method = models.CharField(max_length=10)
    path = models.TextField()
    # SHA-256 over caller, method, path, query and body: the same key with another request is refused.
    fingerprint = models.CharField(max_length=64)
    response_status = models.PositiveSmallIntegerField(default=0)
    response_body = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        constraints = [
            # The lookup of every keyed write, and the lock that makes a concurrent duplicate wait for the first.
            models.UniqueConstraint(fields=["workspace", "key"], name="idempotency_unique_key"),
        ]
        indexes = [
            # The hourly prune deletes by age.
            models.Index(fields=["created_at"], name="idempotency_created_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.method} {self.path} ({self.key})"
