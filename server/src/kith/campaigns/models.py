"""Broadcast campaigns: what to send to whom and when, and the batches the senders share.

The recipients themselves are not stored here: each one is a ``messaging.Message`` ledger row with
``source_type="campaign"`` and ``source_id=str(campaign.pk)``, whose unique ``(source_type, source_id, contact)`` key
is what makes "at most one message per contact per campaign" hold however often a snapshot or a send is retried.
``CampaignBatch`` rows cut that ledger into keyset ranges that workers claim with one conditional UPDATE.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from kith.core.models import WorkspaceOwnedModel


class CampaignStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    SCHEDULED = "scheduled", "Scheduled"
    SENDING = "sending", "Sending"
    PAUSED = "paused", "Paused"
    SENT = "sent", "Sent"
    CANCELLED = "cancelled", "Cancelled"


# Allowed transitions; ``kith.campaigns.services`` refuses every other one with a 409.
TRANSITIONS: dict[str, frozenset[str]] = {
    CampaignStatus.DRAFT: frozenset({CampaignStatus.SCHEDULED, CampaignStatus.SENDING, CampaignStatus.CANCELLED}),
    CampaignStatus.SCHEDULED: frozenset({CampaignStatus.DRAFT, CampaignStatus.SENDING, CampaignStatus.CANCELLED}),
    CampaignStatus.SENDING: frozenset({CampaignStatus.PAUSED, CampaignStatus.SENT, CampaignStatus.CANCELLED}),
    CampaignStatus.PAUSED: frozenset({CampaignStatus.SENDING, CampaignStatus.CANCELLED}),
    CampaignStatus.SENT: frozenset(),
    CampaignStatus.CANCELLED: frozenset(),
}


class ScheduleKind(models.TextChoices):
    NOW = "now", "Now"
    AT = "at", "At a time"
    LOCAL_TIME = "local_time", "At a local time in each recipient's timezone"


class AbMetric(models.TextChoices):
    OPEN = "open", "Open rate"
    CLICK = "click", "Click rate"


class Campaign(WorkspaceOwnedModel):
    name = models.CharField(max_length=200)
    template = models.ForeignKey("messaging.Template", on_delete=models.PROTECT, related_name="+")
    # The version sent, pinned when sending starts: editing the template during a send changes nothing.
    template_version = models.ForeignKey("messaging.TemplateVersion", null=True, blank=True,
                                         on_delete=models.PROTECT, related_name="+")
    segments = models.ManyToManyField("segments.Segment", related_name="campaigns", blank=True)
    exclusion_segments = models.ManyToManyField("segments.Segment", related_name="excluding_campaigns", blank=True)
    # Blank: the template version's sender.
    from_name = models.CharField(max_length=200, blank=True)
    from_email = models.EmailField(blank=True)
    reply_to = models.EmailField(blank=True)
    topic = models.ForeignKey("preferences.Topic", null=True, blank=True, on_delete=models.PROTECT,
                              related_name="+")
    schedule_kind = models.CharField(max_length=12, choices=ScheduleKind.choices, default=ScheduleKind.NOW)
    send_at = models.DateTimeField(null=True, blank=True)
    # LOCAL_TIME: the date and wall-clock time in each recipient's timezone (the workspace's when they have none).
    local_date = models.DateField(null=True, blank=True)
    local_time = models.TimeField(null=True, blank=True)
    # Messages per minute over all workers together; 0 means as fast as the workers go.
    throttle_per_minute = models.PositiveIntegerField(default=0)
    # The next free send slot of a throttled campaign (see ``sending._throttle_reserve``).
    throttle_next_at = models.DateTimeField(null=True, blank=True)
    track_opens = models.BooleanField(default=True)
    track_clicks = models.BooleanField(default=True)
    status = models.CharField(max_length=10, choices=CampaignStatus.choices, default=CampaignStatus.DRAFT)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # Filled by the snapshot: recipients queued, and recipients recorded as suppressed.
    audience_count = models.PositiveIntegerField(default=0)
    suppressed_count = models.PositiveIntegerField(default=0)
    # A/B test: ``ab_sample_percent`` of the audience is split over the variants; at ``ab_decide_at`` the variant
    # with the best ``ab_metric`` wins and the rest of the audience gets it.
    ab_enabled = models.BooleanField(default=False)
    ab_sample_percent = models.PositiveSmallIntegerField(default=20)
    ab_metric = models.CharField(max_length=5, choices=AbMetric.choices, default=AbMetric.OPEN)
    ab_wait_minutes = models.PositiveIntegerField(default=240)
    ab_decide_at = models.DateTimeField(null=True, blank=True)
    ab_winner = models.ForeignKey("CampaignVariant", null=True, blank=True, on_delete=models.SET_NULL,
                                  related_name="+")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")

    class Meta:
        indexes = (
            models.Index(fields=["workspace", "-id"], name="campaign_ws_id_idx"),
            # The due sweep: scheduled campaigns whose time came, and sending ones to re-ring.
            models.Index(fields=["status", "send_at"], name="campaign_status_due_idx",
                         condition=Q(status__in=["scheduled", "sending"])),
        )

    def __str__(self) -> str:
        return self.name

    @property
    def source_id(self) -> str:
        return str(self.pk)

    @property
    def is_draft(self) -> bool:
        return self.status == CampaignStatus.DRAFT


class CampaignVariant(models.Model):
    """One arm of an A/B test: a different subject, or different content (another template), or both."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="variants")
    label = models.CharField(max_length=10)
    subject = models.CharField(max_length=998, blank=True)  # blank: the template's subject
    template = models.ForeignKey("messaging.Template", null=True, blank=True, on_delete=models.PROTECT,
                                 related_name="+")  # null: the campaign's template
    template_version = models.ForeignKey("messaging.TemplateVersion", null=True, blank=True,
                                         on_delete=models.PROTECT, related_name="+")
    # The ledger id range this variant's sample was inserted as (one INSERT … SELECT per variant, in order).
    first_message_id = models.BigIntegerField(null=True, blank=True)
    last_message_id = models.BigIntegerField(null=True, blank=True)

    class Meta:
        ordering = ("label",)
        constraints = (models.UniqueConstraint(fields=["campaign", "label"], name="campaign_variant_unique_label"),)

    def __str__(self) -> str:
        return f"{self.campaign_id} {self.label}"


class BatchStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    RUNNING = "running", "Running"
    DONE = "done", "Done"


class CampaignBatch(models.Model):
    """A keyset range of one campaign's ledger rows (``first_id``..``last_id``), claimed by one worker at a time.

    A claim is one conditional UPDATE (pending, or running with an expired lease → running, leased to me); the
    worker renews ``lease_until`` as it goes, so a batch whose worker died is taken over once the lease lapses and
    its remaining ``queued`` rows are sent by the new owner."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="batches")
    variant = models.ForeignKey(CampaignVariant, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    first_id = models.BigIntegerField()
    last_id = models.BigIntegerField()
    # Local-time sends: the raw ``Contact.timezone`` values whose recipients this batch holds; null means all.
    timezones = models.JSONField(null=True, blank=True)
    not_before = models.DateTimeField()
    status = models.CharField(max_length=10, choices=BatchStatus.choices, default=BatchStatus.PENDING)
    lease_until = models.DateTimeField(null=True, blank=True)
    claimed_by = models.CharField(max_length=100, blank=True)

    class Meta:
        indexes = (
            # The claim: the lowest due batch of a campaign that is pending or whose lease expired.
            models.Index(fields=["campaign", "status", "not_before"], name="campaign_batch_claim_idx"),
        )

    def __str__(self) -> str:
        return f"campaign {self.campaign_id} batch {self.first_id}..{self.last_id} ({self.status})"
