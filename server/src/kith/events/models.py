"""Events received through the Segment-compatible tracking API, the identities that tie them to contacts, and the
per-workspace event settings (the trait mapping).

An event row is written by the accept path exactly as received (plus the corrected timestamp) and completed later
by the processing job (``contact``, ``processed_at``, ``processing_error``). The row is the truth: a lost job only
delays processing, because ``events_process_pending`` (schedule.toml) picks up every row still unprocessed.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q


class EventType(models.TextChoices):
    IDENTIFY = "identify", "Identify"
    TRACK = "track", "Track"
    PAGE = "page", "Page"
    SCREEN = "screen", "Screen"
    GROUP = "group", "Group"
    ALIAS = "alias", "Alias"


class Event(models.Model):
    """One Segment message. Not a ``WorkspaceOwnedModel``: no ``updated_at`` (only processing changes a row) and
    no ``created_at`` beside ``received_at`` — every byte counts at thousands of rows a second."""

    workspace = models.ForeignKey("accounts.Workspace", on_delete=models.CASCADE, related_name="+")
    # The client's id of the message; a retried request carries the same one and inserts nothing twice.
    message_id = models.CharField(max_length=255)
    type = models.CharField(max_length=10, choices=EventType.choices)
    # Track: the event name ("Purchase Completed"); page/screen: the page name; blank otherwise.
    name = models.CharField(max_length=255, blank=True)
    user_id = models.CharField(max_length=255, blank=True)
    anonymous_id = models.CharField(max_length=255, blank=True)
    # Alias: the id being merged into user_id. Group: the group's id.
    previous_id = models.CharField(max_length=255, blank=True)
    group_id = models.CharField(max_length=255, blank=True)
    # When it happened, corrected for the client's clock skew (timestamp + receivedAt - sentAt).
    timestamp = models.DateTimeField()
    received_at = models.DateTimeField()
    properties = models.JSONField(default=dict, blank=True)
    traits = models.JSONField(default=dict, blank=True)
    context = models.JSONField(default=dict, blank=True)
    contact = models.ForeignKey(
        "contacts.Contact", null=True, blank=True, on_delete=models.SET_NULL, related_name="events"
    )
    processed_at = models.DateTimeField(null=True, blank=True)
    # What processing could not apply (an invalid trait, an unresolvable alias); the event itself is kept.
    processing_error = models.TextField(blank=True)

    class Meta:
        constraints = [
            # Idempotency on messageId per workspace; the accept path inserts with ON CONFLICT DO NOTHING.
            models.UniqueConstraint(fields=["workspace", "message_id"], name="event_unique_message_id"),
        ]
        indexes = [
            # Event-history segments and triggers: "contact X did name N at least k times since T" is an index range
            # scan per contact; also the contact timeline's "events of this contact".
            models.Index(fields=["workspace", "contact", "name", "timestamp"], name="event_ws_contact_name_ts"),
            # Set-based segments ("every contact who did N since T") and the API's ?name= filter start from the name.
            models.Index(fields=["workspace", "name", "timestamp"], name="event_ws_name_ts"),
            # The API's default order (cursor by descending id) and the debugger's "latest events".
            models.Index(fields=["workspace", "id"], name="event_ws_id"),
            # The processing job's queue: only unprocessed rows are in this index, so it stays tiny.
            models.Index(fields=["workspace", "id"], condition=Q(processed_at__isnull=True),
                         name="event_pending"),
            # Identify/alias re-point an anonymous history to the contact: "events of anonymous id A".
            models.Index(fields=["workspace", "anonymous_id"], condition=~Q(anonymous_id=""),
                         name="event_ws_anonymous"),
        ]

    def __str__(self) -> str:
        return f"{self.type} {self.name or ''} ({self.message_id})".replace("  ", " ")


class IdentityKind(models.TextChoices):
    ANONYMOUS = "anonymous", "Anonymous id"
    USER = "user", "User id"


class Identity(models.Model):
    """An id a client uses for a person, linked to the contact it means.

    User ids normally need no row (a contact's ``external_id`` is its user id); rows of kind ``user`` come from
    ``alias`` (an old user id that now means the same person). Anonymous ids get a row when an identify or alias
    (or any event carrying both ids) ties them to a contact.
    """

    workspace = models.ForeignKey("accounts.Workspace", on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=10, choices=IdentityKind.choices)
    value = models.CharField(max_length=255)
    contact = models.ForeignKey("contacts.Contact", on_delete=models.CASCADE, related_name="identities")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name_plural = "identities"
        constraints = [
            # One id means one person; also the index of every lookup by id.
            models.UniqueConstraint(fields=["workspace", "kind", "value"], name="identity_unique_value"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.value} → contact {self.contact_id}"


class EventSettings(models.Model):
    """Per-workspace settings of the event API. A workspace without a row uses the defaults."""

    workspace = models.OneToOneField("accounts.Workspace", on_delete=models.CASCADE, related_name="+")
    # Trait name → contact field ("email", "first_name", …) or "attributes.<key>"; merged over DEFAULT_TRAIT_MAPPING
    # (kith.events.services.traits). An empty target ignores a trait that the defaults would map.
    trait_mapping = models.JSONField(default=dict, blank=True)

    def __str__(self) -> str:
        return f"event settings of workspace {self.workspace_id}"
