"""crmify's tables in the host's database: the mapped lead and the outbox of work for the CRM.

The lead model is configurable, so ``Lead.anchor`` points at ``CRMIFY['LEAD_MODEL']`` the way Django's own apps
point at ``AUTH_USER_MODEL``: the target is read from the setting when models and migrations load (see
``migrations/0001_initial.py``). Changing LEAD_MODEL after the first migrate needs a fresh crmify table (README).
"""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from crmify import conf


class Lead(models.Model):
    # SET_NULL, not CASCADE: when the host deletes its record the lead row stays until the CRM has been told, so the
    # delete is delivered in order after any sync still queued for it and is retried like any other entry.
    anchor = models.OneToOneField(conf.lead_model_label(), null=True, blank=True, on_delete=models.SET_NULL,
                                  related_name="crm_lead")
    # The host record's primary key as text: kept after the anchor is gone, and the id the CRM knows the lead by
    # (Kith's external_id / the event API's userId).
    anchor_key = models.CharField(max_length=64, blank=True, db_index=True)
    lead_source = models.CharField(max_length=255, blank=True)
    first_name = models.CharField(max_length=255, blank=True)
    last_name = models.CharField(max_length=255, blank=True)
    email = models.EmailField(max_length=254, blank=True)
    secondary_email = models.EmailField(max_length=254, blank=True)
    phone = models.CharField(max_length=64, blank=True)
    mobile_phone = models.CharField(max_length=64, blank=True)
    dob = models.DateField(null=True, blank=True)
    street_address = models.CharField(max_length=255, blank=True)
    city = models.CharField(max_length=255, blank=True)
    state = models.CharField(max_length=255, blank=True)
    country = models.CharField(max_length=255, blank=True)
    # The lead's id in the CRM, set by the first successful sync.
    external_id = models.CharField(max_length=255, blank=True)
    # The lead status crmify wants the CRM to hold (LEAD_NEW_STATUS, a LeadStatusMixin's answer, conversions).
    external_status = models.CharField(max_length=100, blank=True)
    last_synced = models.DateTimeField(null=True, blank=True)
    # Hash of the mapped values: a host save that changes nothing the CRM sees queues nothing.
    sync_hash = models.CharField(max_length=64, blank=True)
    # Bumped in the host's transaction whenever the mapped values change; the worker records the version it
    # delivered. version > synced_version means "the CRM is behind", whatever happened to the outbox.
    version = models.PositiveBigIntegerField(default=0)
    synced_version = models.PositiveBigIntegerField(default=0)
    deleted_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        app_label = "crmify"

    def __str__(self) -> str:
        name = f"{self.first_name} {self.last_name}".strip()
        return name or self.email or f"lead {self.pk}"


class OutboxEntry(models.Model):
    class Kind(models.TextChoices):
        SYNC = "sync", "Sync lead"
        DELETE = "delete", "Delete lead"
        EVENT = "event", "Track event"

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        DONE = "done", "Delivered"
        DEAD = "dead", "Dead letter"

    lead = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="outbox")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    payload = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    available_at = models.DateTimeField(default=timezone.now)
    # A worker holds an entry until this time; a crashed worker's claim simply expires.
    claimed_until = models.DateTimeField(null=True, blank=True)
    # Which drain holds the claim: one conditional UPDATE claims a whole batch, and this finds what it won.
    claim_token = models.CharField(max_length=32, blank=True)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    done_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        app_label = "crmify"
        verbose_name_plural = "outbox entries"
        indexes = [
            # The worker's claim: pending entries that are due, oldest first.
            models.Index(fields=["status", "available_at"], name="crmify_outbox_due_idx"),
            # Per-lead order: is there an earlier pending entry for this lead?
            models.Index(fields=["lead", "status", "id"], name="crmify_outbox_lead_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} #{self.pk} ({self.status})"
