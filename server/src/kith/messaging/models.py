"""Templates, their immutable versions, the message ledger and the suppression list."""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from kith.core.models import WorkspaceOwnedModel


class Channel(models.TextChoices):
    EMAIL = "email", "E-mail"
    SMS = "sms", "SMS"


class Template(WorkspaceOwnedModel):
    """A named template. Its content lives in ``TemplateVersion`` rows; ``current_version`` is what new sends use."""

    name = models.CharField(max_length=200)
    channel = models.CharField(max_length=10, choices=Channel.choices, default=Channel.EMAIL)
    current_version = models.ForeignKey("TemplateVersion", null=True, blank=True, on_delete=models.SET_NULL,
                                        related_name="+")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["workspace", "name"], name="template_unique_name")]

    def __str__(self) -> str:
        return self.name


class TemplateVersion(models.Model):
    """One immutable state of a template. A message records the version it was rendered from, so what a contact
    received can always be shown again; editing a template creates a new version instead of changing this row.

    ``html_inlined`` is ``html`` with its CSS inlined, computed once when the version is created (never per
    message); ``text`` is the text part, generated from the HTML when the author left it empty."""

    template = models.ForeignKey(Template, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    subject = models.CharField(max_length=998, blank=True)
    preheader = models.CharField(max_length=255, blank=True)
    html = models.TextField(blank=True)
    html_inlined = models.TextField(blank=True)
    text = models.TextField(blank=True)
    text_generated = models.BooleanField(default=False)
    from_name = models.CharField(max_length=200, blank=True)
    from_email = models.EmailField(blank=True)
    reply_to = models.EmailField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["template", "number"], name="template_version_unique_number")]

    def __str__(self) -> str:
        return f"{self.template_id} v{self.number}"


class SourceType(models.TextChoices):
    CAMPAIGN = "campaign", "Campaign"
    DRIP_STEP = "drip_step", "Drip step"
    WORKFLOW_STEP = "workflow_step", "Workflow step"
    TRANSACTIONAL = "transactional", "Transactional"


# Test sends are transactional ledger rows whose source id says what they are; the dev inbox and the ledger show
# them as tests. They go through the normal send path, so what arrives is what a contact would get.
TEST_SOURCE_PREFIX = "test-"

# Sources whose messages are marketing: they carry an unsubscribe link and are never sent to a suppressed address.
MARKETING_SOURCES = frozenset({SourceType.CAMPAIGN, SourceType.DRIP_STEP, SourceType.WORKFLOW_STEP})


class MessageStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    SENDING = "sending", "Sending"
    SENT = "sent", "Sent"
    DELIVERED = "delivered", "Delivered"
    DEFERRED = "deferred", "Deferred"
    BOUNCED = "bounced", "Bounced"
    FAILED = "failed", "Failed"
    SUPPRESSED = "suppressed", "Suppressed"
    COMPLAINED = "complained", "Complained"


class Message(WorkspaceOwnedModel):
    """One message to one recipient: the ledger row is the truth about what was (or will be) sent.

    ``(source_type, source_id, contact)`` is unique, so a campaign, step or transactional call sends at most one
    message per contact however often its fan-out is retried. A transactional call uses its own ledger id space:
    ``source_id`` is a fresh random id per call (see ``message_queue``)."""

    channel = models.CharField(max_length=10, choices=Channel.choices, default=Channel.EMAIL)
    contact = models.ForeignKey("contacts.Contact", on_delete=models.CASCADE, related_name="messages")
    source_type = models.CharField(max_length=20, choices=SourceType.choices)
    source_id = models.CharField(max_length=64)
    template_version = models.ForeignKey(TemplateVersion, on_delete=models.PROTECT, related_name="messages")
    to_address = models.CharField(max_length=254)
    subject = models.CharField(max_length=998, blank=True)
    # Merge data given by the caller (transactional API, event properties), rendered into the message.
    merge_data = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=12, choices=MessageStatus.choices, default=MessageStatus.QUEUED)
    # The backend alias that sent it (smtp, ses, twilio, ...): provider events are matched on (provider, id).
    provider = models.CharField(max_length=20, blank=True)
    provider_message_id = models.CharField(max_length=255, blank=True)
    error = models.TextField(blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    queued_at = models.DateTimeField()
    # When a deferred message may be tried again (provider throttling backs off through this).
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # Set by provider events (webhooks, DSNs, SMS status callbacks) after the send.
    delivered_at = models.DateTimeField(null=True, blank=True)
    opened_at = models.DateTimeField(null=True, blank=True)
    clicked_at = models.DateTimeField(null=True, blank=True)
    event_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["source_type", "source_id", "contact"], name="message_unique_source"),
        ]
        indexes = [
            # The API and the contact page list a workspace's / a contact's newest messages first.
            models.Index(fields=["workspace", "-id"], name="message_ws_id_idx"),
            models.Index(fields=["contact", "-id"], name="message_contact_idx"),
            # The sweeper re-rings rows left queued/deferred/sending; a partial index keeps it small.
            models.Index(fields=["status", "next_attempt_at"], name="message_pending_idx",
                         condition=Q(status__in=["queued", "deferred", "sending"])),
            # Every provider event (webhook, DSN, status callback) looks its message up by the provider's id.
            models.Index(fields=["provider_message_id"], name="message_provider_id_idx",
                         condition=~Q(provider_message_id="")),
        ]

    def __str__(self) -> str:
        return f"{self.channel} to {self.to_address} ({self.status})"

    @property
    def is_test(self) -> bool:
        """A test send from the template editor: it goes to the editing member, not to the contact it was rendered
        for, so it must not appear on that contact's timeline or in their statistics."""
        return self.source_type == SourceType.TRANSACTIONAL and self.source_id.startswith(TEST_SOURCE_PREFIX)

    @property
    def is_marketing(self) -> bool:
        return self.source_type in MARKETING_SOURCES


class SuppressionReason(models.TextChoices):
    UNSUBSCRIBE = "unsubscribe", "Unsubscribed"
    HARD_BOUNCE = "hard_bounce", "Hard bounce"
    COMPLAINT = "complaint", "Complaint"
    MANUAL = "manual", "Added by hand"
    IMPORTED = "imported", "Imported"


class Suppression(WorkspaceOwnedModel):
    """An address that gets no marketing message from this workspace. ``address`` is normalized (stripped,
    lower-case) by ``kith.messaging.services.address_normalize`` so the unique key is the lookup key."""

    address = models.CharField(max_length=254)
    reason = models.CharField(max_length=20, choices=SuppressionReason.choices)

    class Meta:
        constraints = [
            # Also the index of the check done before every marketing send.
            models.UniqueConstraint(fields=["workspace", "address"], name="suppression_unique_address"),
        ]

    def __str__(self) -> str:
        return f"{self.address} ({self.reason})"


class EmailBackendChoice(models.TextChoices):
    SMTP = "smtp", "SMTP server"
    SES = "ses", "Amazon SES"
    SENDGRID = "sendgrid", "SendGrid"
    MAILGUN = "mailgun", "Mailgun"
    POSTMARK = "postmark", "Postmark"
    SINK = "sink", "Local sink (development: files under the data directory)"


class SmsBackendChoice(models.TextChoices):
    NONE = "none", "No SMS"
    TWILIO = "twilio", "Twilio"
    HTTP = "http", "Generic HTTP provider"


class DeliverySettings(WorkspaceOwnedModel):
    """How one workspace's messages leave: which provider per channel and the sender defaults.

    Only the choice is stored here. Credentials and API URLs come from the server's environment (``KITH_SMTP_*``,
    ``KITH_SENDGRID_*``, ``KITH_TWILIO_*``, ...; see ``.env.example``), so a database dump never holds a provider
    secret. A blank ``email_backend`` means the server default, ``KITH_MESSAGING_EMAIL_BACKEND``."""

    email_backend = models.CharField(max_length=20, choices=EmailBackendChoice.choices, blank=True)
    from_name = models.CharField(max_length=200, blank=True)
    from_email = models.EmailField(blank=True)
    reply_to = models.EmailField(blank=True)
    sms_backend = models.CharField(max_length=20, choices=SmsBackendChoice.choices, default=SmsBackendChoice.NONE)
    sms_from = models.CharField(max_length=32, blank=True, help_text="Sender number (E.164) or alphanumeric id.")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["workspace"], name="delivery_settings_one_per_workspace")]

    def __str__(self) -> str:
        return f"delivery settings of workspace {self.workspace_id}"
