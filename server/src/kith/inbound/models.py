"""Incoming webhooks: endpoints other systems (Stripe, or anything that can sign a JSON POST) send events to, and
one log row per request received.

An accepted request becomes ``Event`` rows through the event API's own accept path (``kith.events``), so the
payment shows on the contact's timeline, in event segments and as a workflow trigger exactly like a tracked event.
The log row is a record of what happened to each request (accepted, rejected, ignored), never the truth of the data:
that is the ``Event`` row.
"""

from __future__ import annotations

from django.db import models

from kith.core.models import WorkspaceOwnedModel, WorkspaceQuerySet


class EndpointKind(models.TextChoices):
    STRIPE = "stripe", "Stripe"
    GENERIC = "generic", "Generic (HMAC-signed JSON)"


class InboundEndpoint(WorkspaceOwnedModel):
    kind = models.CharField(max_length=10, choices=EndpointKind.choices)
    name = models.CharField(max_length=100)
    # The path segment of the public URL (/hooks/in/<token>/): 32 random bytes, so URLs cannot be guessed or
    # enumerated. Not a credential on its own — every request must also carry a valid signature.
    token = models.CharField(max_length=64, unique=True)
    # The signing secret: Stripe's "whsec_…" (pasted from the Stripe dashboard) or the one Kith generated for a
    # generic endpoint. Kept in clear text, as kith.webhooks keeps its own, because verifying a signature needs the
    # secret itself (a hash would not do); the UI and API show it only when it is created or replaced.
    secret = models.CharField(max_length=200)
    is_active = models.BooleanField(default=True)
    last_received_at = models.DateTimeField(null=True, blank=True)
    # Counters of the log's statuses, kept on the row so the endpoint list needs no COUNT over the log.
    accepted_count = models.PositiveBigIntegerField(default=0)
    rejected_count = models.PositiveBigIntegerField(default=0)
    ignored_count = models.PositiveBigIntegerField(default=0)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.name} ({self.kind})"


class DeliveryStatus(models.TextChoices):
    ACCEPTED = "accepted", "Accepted"
    # Signature, timestamp, size or shape wrong: nothing was stored but this row.
    REJECTED = "rejected", "Rejected"
    # Authentic but nothing to do: an event type Kith does not map, or an event id already received.
    IGNORED = "ignored", "Ignored"


class InboundDelivery(models.Model):
    """One request to an endpoint. Rejected requests keep only ``excerpt`` (the first bytes of the body, for
    debugging a sender), never the whole body: it was not authenticated, and may be anybody's junk."""

    workspace = models.ForeignKey("accounts.Workspace", on_delete=models.CASCADE, related_name="+")
    endpoint = models.ForeignKey(InboundEndpoint, on_delete=models.CASCADE, related_name="deliveries")
    received_at = models.DateTimeField()
    status = models.CharField(max_length=10, choices=DeliveryStatus.choices)
    http_status = models.PositiveSmallIntegerField()
    reason = models.CharField(max_length=500, blank=True)
    # The sender's type and id of the event ("payment_intent.succeeded", "evt_…"), when the body could be read.
    event_type = models.CharField(max_length=255, blank=True)
    event_id = models.CharField(max_length=255, blank=True)
    # The Event.message_id the request was stored under (accepted and duplicate deliveries).
    message_id = models.CharField(max_length=255, blank=True)
    excerpt = models.CharField(max_length=500, blank=True)

    objects = WorkspaceQuerySet.as_manager()

    class Meta:
        ordering = ["-id"]
        verbose_name_plural = "inbound deliveries"
        indexes = [
            # The log of one endpoint (its page and the API's ?endpoint=), and of the workspace, newest first.
            models.Index(fields=["endpoint", "-id"], name="inbound_delivery_endpoint"),
            models.Index(fields=["workspace", "-id"], name="inbound_delivery_ws"),
            # The retention sweep deletes by age.
            models.Index(fields=["received_at"], name="inbound_delivery_received"),
        ]

    def __str__(self) -> str:
        return f"{self.status} {self.event_type or '?'} → endpoint {self.endpoint_id}"
