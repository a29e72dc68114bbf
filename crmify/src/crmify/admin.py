from __future__ import annotations

from typing import Any

from django.contrib import admin, messages

from crmify import delivery
from crmify.models import Lead, OutboxEntry


@admin.register(Lead)
class LeadAdmin(admin.ModelAdmin):
    list_display = ("__str__", "email", "external_status", "external_id", "last_synced", "deleted_at")
    search_fields = ("email", "first_name", "last_name", "external_id", "anchor_key")
    readonly_fields = ("anchor", "external_id", "last_synced", "sync_hash", "version", "synced_version")


@admin.register(OutboxEntry)
class OutboxEntryAdmin(admin.ModelAdmin):
    """The dead-letter view: filter by status "Dead letter", read the error, fix the cause, retry."""

    list_display = ("id", "kind", "lead", "status", "attempts", "available_at", "last_error")
    list_filter = ("status", "kind")
    readonly_fields = ("lead", "kind", "payload", "attempts", "created_at", "done_at", "last_error")
    actions = ["retry"]

    @admin.action(description="Retry the selected dead-lettered entries")
    def retry(self, request: Any, queryset: Any) -> None:
        count = delivery.retry_dead(list(queryset.values_list("id", flat=True)))
        delivery.kick()
        self.message_user(request, f"{count} entries put back in line.", messages.SUCCESS)
