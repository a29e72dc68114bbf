"""Contacts, companies, tags and custom field definitions: the facts of the CRM core.

Values are stored normalized (lower-case e-mail and domain, E.164 phone, JSON-native custom attributes) by the
services in ``kith.contacts.services``; the check constraints below make the database refuse a row that skipped
them, so the unique constraints really are case-insensitive.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower

from kith.core.models import TimeStampedModel, WorkspaceOwnedModel


class LifecycleStage(models.TextChoices):
    SUBSCRIBER = "subscriber", "Subscriber"
    LEAD = "lead", "Lead"
    MQL = "mql", "Marketing qualified lead"
    SQL = "sql", "Sales qualified lead"
    OPPORTUNITY = "opportunity", "Opportunity"
    CUSTOMER = "customer", "Customer"
    OTHER = "other", "Other"


class LeadStatus(models.TextChoices):
    NEW = "new", "New"
    NOT_CONTACTED = "not_contacted", "Not contacted"
    CONTACTED = "contacted", "Contacted"
    QUALIFIED = "qualified", "Qualified"
    CONVERTED = "converted", "Converted"
    DISQUALIFIED = "disqualified", "Disqualified"


class ConsentState(models.TextChoices):
    UNKNOWN = "unknown", "Unknown"
    OPTED_IN = "opted_in", "Opted in"
    OPTED_OUT = "opted_out", "Opted out"


class CompanySize(models.TextChoices):
    """Head-count bands rather than a number: what people know about a prospect, and what segments group by."""

    S1_10 = "1-10", "1–10"
    S11_50 = "11-50", "11–50"
    S51_200 = "51-200", "51–200"
    S201_1000 = "201-1000", "201–1,000"
    S1001_5000 = "1001-5000", "1,001–5,000"
    S5001_PLUS = "5001+", "5,001+"


class ObjectType(models.TextChoices):
    CONTACT = "contact", "Contact"
    COMPANY = "company", "Company"


class FieldType(models.TextChoices):
    TEXT = "text", "Text"
    NUMBER = "number", "Number"
    DATE = "date", "Date"
    BOOLEAN = "boolean", "Yes/no"
    SINGLE_CHOICE = "single_choice", "Single choice"
    MULTI_CHOICE = "multi_choice", "Multiple choice"


CHOICE_TYPES = frozenset({FieldType.SINGLE_CHOICE, FieldType.MULTI_CHOICE})


class ContactSettings(models.Model):
    """Per-workspace defaults for contact data. A workspace without a row uses the field defaults."""

    workspace = models.OneToOneField("accounts.Workspace", on_delete=models.CASCADE, related_name="+")
    # Numbers written without a country code ("(415) 555-0123") are read as numbers of this region (ISO 3166-1).
    default_phone_region = models.CharField(max_length=2, default="US")

    def __str__(self) -> str:
        return f"contact settings of workspace {self.workspace_id}"


class Company(WorkspaceOwnedModel):
    name = models.CharField(max_length=255)
    # Bare host name, lower-case, no scheme, path or leading "www." (see kith.contacts.validation.normalize_domain).
    domain = models.CharField(max_length=253, blank=True)
    industry = models.CharField(max_length=100, blank=True)
    size = models.CharField(max_length=10, choices=CompanySize.choices, blank=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    attributes = models.JSONField(default=dict, blank=True)
    # The id the company has in another system (imports, crmify); upsert matches on it when given.
    external_id = models.CharField(max_length=255, blank=True)

    class Meta:
        verbose_name_plural = "companies"
        constraints = [
            models.UniqueConstraint(fields=["workspace", "external_id"], condition=~Q(external_id=""),
                                    name="company_unique_external_id"),
            # Upsert by domain matches on this; blank domains (companies known only by name) may repeat.
            models.UniqueConstraint(fields=["workspace", "domain"], condition=~Q(domain=""),
                                    name="company_unique_domain"),
            models.CheckConstraint(condition=Q(domain=Lower("domain")), name="company_domain_lowercase"),
        ]
        indexes = [
            # The API's default list order (cursor pagination by descending id) within one workspace.
            models.Index(fields=["workspace", "id"], name="company_ws_id_idx"),
            # A rep limited to their own records lists companies by owner; also the ?owner= filter.
            models.Index(fields=["workspace", "owner", "id"], name="company_ws_owner_idx"),
            # Incremental sync and ?updated_after= read "changed since" ranges.
            models.Index(fields=["workspace", "updated_at"], name="company_ws_updated_idx"),
        ]

    def __str__(self) -> str:
        return self.name


class Tag(WorkspaceOwnedModel):
    """A label on contacts. ``name`` keeps the spelling it was created with; ``name_key`` is what makes two names
    the same tag (case-folded, inner whitespace collapsed)."""

    name = models.CharField(max_length=100)
    # Folded in Python rather than by a lower() index: SQLite's lower() only folds ASCII, so "Ärger" and "ärger"
    # would be two tags there and one on PostgreSQL. A plain column behaves the same on both.
    # Case folding can lengthen a name ("ß" → "ss"), hence the room.
    name_key = models.CharField(max_length=300)

    class Meta:
        constraints = [
            # Also the index of every lookup by name (?tag=, tagging by name).
            models.UniqueConstraint(fields=["workspace", "name_key"], name="tag_unique_name"),
        ]

    def __str__(self) -> str:
        return self.name

    @staticmethod
    def key_for(name: str) -> str:
        return " ".join(name.split()).casefold()


class Contact(WorkspaceOwnedModel):
    first_name = models.CharField(max_length=150, blank=True)
    last_name = models.CharField(max_length=150, blank=True)
    # Lower-cased by the services; blank when the contact is known only by phone, name or external id.
    email = models.EmailField(max_length=254, blank=True)
    # E.164 ("+14155550123"): at most 15 digits after the plus sign.
    phone = models.CharField(max_length=16, blank=True)
    company = models.ForeignKey(Company, null=True, blank=True, on_delete=models.SET_NULL, related_name="contacts")
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    lifecycle_stage = models.CharField(max_length=20, choices=LifecycleStage.choices, default=LifecycleStage.LEAD)
    lead_status = models.CharField(max_length=20, choices=LeadStatus.choices, default=LeadStatus.NEW)
    timezone = models.CharField(max_length=64, blank=True)  # IANA name; blank means "use the workspace's"
    locale = models.CharField(max_length=35, blank=True)  # BCP 47 tag such as "en" or "pt-BR"
    # Consent is one column per channel, not a JSON blob: sending checks it on every message and segments filter on
    # it, so it must be a plain, constrained, indexable value. A new channel is a migration, which is fine.
    email_consent = models.CharField(max_length=10, choices=ConsentState.choices, default=ConsentState.UNKNOWN)
    email_consent_changed_at = models.DateTimeField(null=True, blank=True)
    sms_consent = models.CharField(max_length=10, choices=ConsentState.choices, default=ConsentState.UNKNOWN)
    sms_consent_changed_at = models.DateTimeField(null=True, blank=True)
    # Custom attribute values keyed by CustomFieldDefinition.key, validated by kith.contacts.attributes.
    attributes = models.JSONField(default=dict, blank=True)
    engagement_score = models.IntegerField(default=0)
    last_seen_at = models.DateTimeField(null=True, blank=True)
    # The id the contact has in the host application (crmify, imports, the event API).
    external_id = models.CharField(max_length=255, blank=True)
    source = models.CharField(max_length=100, blank=True)
    tags = models.ManyToManyField(Tag, through="ContactTag", related_name="contacts", blank=True)

    class Meta:
        constraints = [
            # E-mail is unique per workspace ignoring case: stored lower-case (checked below), compared plainly, so
            # the ordinary index also serves upsert and ?email= lookups.
            models.UniqueConstraint(fields=["workspace", "email"], condition=~Q(email=""),
                                    name="contact_unique_email"),
            models.CheckConstraint(condition=Q(email=Lower("email")), name="contact_email_lowercase"),
            models.UniqueConstraint(fields=["workspace", "external_id"], condition=~Q(external_id=""),
                                    name="contact_unique_external_id"),
        ]
        indexes = [
            # The API's default list order (cursor pagination by descending id) within one workspace.
            models.Index(fields=["workspace", "id"], name="contact_ws_id_idx"),
            # A rep limited to their own records lists by owner on every page view; also the ?owner= filter.
            models.Index(fields=["workspace", "owner", "id"], name="contact_ws_owner_idx"),
            # Funnel filters and dashboard counts by lifecycle stage and lead status.
            models.Index(fields=["workspace", "lifecycle_stage"], name="contact_ws_stage_idx"),
            models.Index(fields=["workspace", "lead_status"], name="contact_ws_status_idx"),
            # "New this period" counts and ?created_after=; incremental sync and ?updated_after=.
            models.Index(fields=["workspace", "created_at"], name="contact_ws_created_idx"),
            models.Index(fields=["workspace", "updated_at"], name="contact_ws_updated_idx"),
            # On PostgreSQL a GIN index on attributes (jsonb_path_ops) serves ?attr.<key>= filters; it is created
            # by migration 0002 because SQLite has no such index type.
        ]

    def __str__(self) -> str:
        return self.full_name or self.email or self.phone or self.external_id or f"contact {self.pk}"

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()


class ContactTag(TimeStampedModel):
    """A tag on a contact. A row of its own (not a JSON list) so that "tag added/removed" is an event with a time,
    and "has tag X" is an indexed EXISTS."""

    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="tag_links")
    tag = models.ForeignKey(Tag, on_delete=models.CASCADE, related_name="contact_links")

    class Meta:
        constraints = [
            # Also the index of EXISTS (… WHERE contact_id = outer.id AND tag_id = X), the ?tag= filter.
            models.UniqueConstraint(fields=["contact", "tag"], name="contact_tag_unique"),
        ]
        indexes = [
            # Segments and tag-triggered workflows start from the tag: "every contact with tag X".
            models.Index(fields=["tag", "contact"], name="contact_tag_by_tag_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.tag_id} on {self.contact_id}"


class CustomFieldDefinition(WorkspaceOwnedModel):
    """A workspace-defined attribute of contacts or companies; values live in the object's ``attributes``."""

    object_type = models.CharField(max_length=10, choices=ObjectType.choices)
    # The key in ``attributes``, in ?attr.<key>= filters and in merge tags; immutable once created.
    key = models.CharField(max_length=64)
    label = models.CharField(max_length=100)
    field_type = models.CharField(max_length=20, choices=FieldType.choices)  # immutable once created
    choices = models.JSONField(default=list, blank=True)
    required = models.BooleanField(default=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["workspace", "object_type", "key"], name="custom_field_unique_key"),
        ]

    def __str__(self) -> str:
        return f"{self.object_type}.{self.key}"


class ContactMerge(WorkspaceOwnedModel):
    """One merge of a contact (the loser, now deleted) into another (the winner), with everything undo needs.

    ``loser_snapshot`` is the loser's row (Django's serializer format, same primary key); ``winner_changes`` maps each
    winner field the merge changed to ``{"old": …, "new": …}``; ``moved`` maps ``app_label.Model.field`` to the ids of
    the rows re-pointed from the loser to the winner; ``set_aside`` holds the loser's rows that could not move
    because the winner already had an equal one under a unique constraint (a tag both carried, a campaign message
    both received): they are serialized here (with the rows that depended on them) instead of being lost, and undo
    puts them back. ``nulled`` lists rows whose nullable reference to a set-aside row was cleared, to re-set on undo.
    """

    winner = models.ForeignKey(Contact, null=True, on_delete=models.SET_NULL, related_name="+")
    loser_id = models.BigIntegerField()
    loser_label = models.CharField(max_length=255)
    loser_snapshot = models.JSONField()
    winner_changes = models.JSONField(default=dict)
    moved = models.JSONField(default=dict)
    set_aside = models.JSONField(default=list)
    nulled = models.JSONField(default=list)
    merged_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                  related_name="+")
    undone_at = models.DateTimeField(null=True, blank=True)
    undone_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                  related_name="+")

    class Meta:
        indexes = [
            # The merge history of a workspace, newest first (API list), and of one winner (the contact page).
            models.Index(fields=["workspace", "-id"], name="contactmerge_ws_id_idx"),
            models.Index(fields=["winner", "-id"], name="contactmerge_winner_idx"),
        ]

    def __str__(self) -> str:
        return f"merge of {self.loser_label} into {self.winner_id}"

    @property
    def is_undone(self) -> bool:
        return self.undone_at is not None


class DuplicateDismissal(WorkspaceOwnedModel):
    """"These two are not the same person": the pair is no longer offered as a likely duplicate.

    Stored with the smaller id first, so one unique key covers both orders; goes away with either contact.
    """

    contact_low = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="+")
    contact_high = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="+")
    dismissed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                     related_name="+")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["contact_low", "contact_high"], name="duplicate_dismissal_unique_pair"),
            models.CheckConstraint(condition=Q(contact_low__lt=models.F("contact_high")),
                                   name="duplicate_dismissal_ordered"),
        ]

    def __str__(self) -> str:
        return f"{self.contact_low_id} ≠ {self.contact_high_id}"
