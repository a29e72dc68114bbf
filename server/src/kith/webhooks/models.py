"""Outgoing webhooks: endpoints a workspace subscribes, and one delivery row per (event, endpoint).

The delivery row is the truth (STYLE.md): the job queue only rings it. Its status moves
``pending → succeeded`` or ``pending → failed (retry at next_attempt_at) → … → succeeded | dead``.
"""

from __future__ import annotations

from django.db import models

from kith.core.models import WorkspaceOwnedModel

ALL_EVENTS = "*"


class WebhookEndpoint(WorkspaceOwnedModel):
    url = models.URLField(max_length=2000)
    description = models.CharField(max_length=200, blank=True)
    # Event type names (kith.webhooks.events.EVENT_TYPES) or ["*"] for every event.
    event_types = models.JSONField(default=list)
    # Standard Webhooks secret ("whsec_" + base64 of 24 random bytes). Kept in clear text because signing needs it;
    # the UI and API show it only when it is created or rotated.
    secret = models.CharField(max_length=100)
    is_active = models.BooleanField(default=True)
    # Set by the first failed attempt after a success (or ever), cleared by the next successful one: how long the
    # receiver has been failing without a break. Sustained failure (see services.DISABLE_AFTER) disables it.
    failing_since = models.DateTimeField(null=True, blank=True)
    # Set when Kith disabled the endpoint by itself (is_active goes false with it); cleared when a person turns it
    # back on. The UI shows why it stopped.
    disabled_at = models.DateTimeField(null=True, blank=True)
    disabled_reason = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.url

    def subscribes(self, event_type: str) -> bool:
        return ALL_EVENTS in self.event_types or event_type in self.event_types


class WebhookSettings(models.Model):
    """A workspace's webhook settings. One row per workspace, created on first save; a missing row means the
    defaults."""

    workspace = models.OneToOneField("accounts.Workspace", on_delete=models.CASCADE, related_name="+")
    # Lifts the SSRF address rule (private, loopback, link-local targets) for this workspace only: for a
    # self-hosted install whose receivers live on the same network. Checked after DNS resolution, like the rule.
    allow_private_addresses = models.BooleanField(default=False)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"webhook settings of {self.workspace_id}"


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SUCCEEDED = "succeeded", "Succeeded"
    # The last attempt failed; another is due at next_attempt_at.
    FAILED = "failed", "Failed, will retry"
    DEAD = "dead", "Gave up"


class WebhookDelivery(WorkspaceOwnedModel):
    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries")
    event_type = models.CharField(max_length=100)
    # The exact JSON body sent ({"type", "timestamp", "data"}); replay sends it again unchanged.
    payload = models.JSONField()
    # The Standard Webhooks "webhook-id": the same on every retry, so receivers can deduplicate.
    message_id = models.CharField(max_length=40, unique=True)
    status = models.CharField(max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    # When the next attempt is due; while an attempt runs it is pushed ahead by the attempt's lease, so the sweeper
    # does not start a second one (and does restart it if the worker died).
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    response_code = models.PositiveSmallIntegerField(null=True, blank=True)
    response_body = models.CharField(max_length=1000, blank=True)
    error = models.CharField(max_length=1000, blank=True)
    replay_of = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            # The sweeper: due pending/failed rows.
            models.Index(fields=["status", "next_attempt_at"], name="webhooks_delivery_due"),
            # The delivery log of one workspace / endpoint, newest first.
            models.Index(fields=["workspace", "-created_at"], name="webhooks_delivery_log"),
            models.Index(fields=["endpoint", "-created_at"], name="webhooks_delivery_endpoint"),
        ]

    def __str__(self) -> str:
        return f"{self.message_id} {self.event_type} → {self.endpoint_id}"
