"""Base models every app builds on, and the core app's own tables (audit log, job rows)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models

from kith.core.idempotency_models import IdempotencyRecord  # noqa: F401  (registered as a core model)
from kith.core.jobs.models import Job, ScheduleState  # noqa: F401  (registered as core models)


class TimeStampedModel(models.Model):
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True


class WorkspaceQuerySet(models.QuerySet):
    def for_workspace(self, workspace: Any) -> WorkspaceQuerySet:
        return self.filter(workspace=workspace)


class WorkspaceOwnedModel(TimeStampedModel):
    """A row that belongs to one workspace (tenant).

    Reads go through selectors that start from ``Model.objects.for_workspace(request.workspace)``; an id from another
    workspace therefore answers 404, never data. ``server/tests/test_tenancy.py`` walks every route to prove it.
    """

    workspace = models.ForeignKey("accounts.Workspace", on_delete=models.CASCADE, related_name="+")

    objects = WorkspaceQuerySet.as_manager()

    class Meta:
        abstract = True


class AuditEntry(models.Model):
    """One create/update/delete done through a service, or one security event.

    Written by ``kith.core.audit.audit_record`` inside the service's transaction, so an audit row exists exactly
    when the change committed.
    """

    workspace = models.ForeignKey(
        "accounts.Workspace", null=True, blank=True, on_delete=models.CASCADE, related_name="audit_entries"
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_label = models.CharField(max_length=200, blank=True)
    action = models.CharField(max_length=100)
    target_type = models.CharField(max_length=100, blank=True)
    target_id = models.CharField(max_length=64, blank=True)
    target_label = models.CharField(max_length=255, blank=True)
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    request_id = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-id"]
        # The audit page lists one workspace's newest entries first, optionally for one action.
        indexes = [models.Index(fields=["workspace", "-id"]), models.Index(fields=["workspace", "action", "-id"])]

    def __str__(self) -> str:
        return f"{self.action} by {self.actor_label or 'system'}"
