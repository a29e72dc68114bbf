"""Shapes of the contacts API. Input serializers check types and sizes (what the OpenAPI document promises);
the services do the rest (normalization, references, custom attributes, uniqueness)."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from kith.core.api_fields import (
    StrictBooleanField,
    StrictCharField,
    StrictEmailField,
    StrictIntegerField,
    StrictRegexField,
)

from kith.contacts.models import (
    Company,
    CompanySize,
    ConsentState,
    Contact,
    CustomFieldDefinition,
    FieldType,
    LeadStatus,
    LifecycleStage,
    ObjectType,
    Tag,
)
from kith.contacts.api.bulk import (  # noqa: F401  (the result serializers are re-exported)
    BulkItemResultSerializer,
    BulkResultSerializer,
    bulk_request_serializer,
)
from kith.contacts.bulk import MAX_BULK_ITEMS
from kith.contacts.services._common import MAX_TAGS_PER_WRITE
from kith.contacts.validation import MAX_ENGAGEMENT_SCORE, MAX_PHONE_INPUT

MAX_ID = 2**63 - 1
ATTRIBUTES_HELP = (
    "Custom field values by key, checked against the workspace's custom field definitions. On update, keys not "
    "given keep their values and `null` removes one."
)


def _id_field(help_text: str) -> StrictIntegerField:
    return StrictIntegerField(min_value=1, max_value=MAX_ID, allow_null=True, required=False,
                                    help_text=help_text)


def _tag_list(help_text: str) -> serializers.ListField:
    return serializers.ListField(child=StrictCharField(max_length=100), max_length=MAX_TAGS_PER_WRITE,
                                 required=False, help_text=help_text)


# --- contacts ----------------------------------------------------------------------------------------------
class ContactSerializer(serializers.ModelSerializer):
    company_name = serializers.CharField(source="company.name", read_only=True, allow_null=True, default=None)
    owner_email = serializers.CharField(source="owner.email", read_only=True, allow_null=True, default=None)
    email = serializers.CharField(read_only=True, help_text="Lower-case; empty when unknown.")
    tags = serializers.SlugRelatedField(many=True, read_only=True, slug_field="name")
    attributes = serializers.DictField(read_only=True, help_text="Custom field values by key.")

    class Meta:
        model = Contact
        fields = [
            "id", "first_name", "last_name", "email", "phone", "company", "company_name", "owner", "owner_email",
            "lifecycle_stage", "lead_status", "timezone", "locale", "email_consent", "email_consent_changed_at",
            "sms_consent", "sms_consent_changed_at", "attributes", "engagement_score", "last_seen_at",
            "external_id", "source", "tags", "created_at", "updated_at",
        ]
        read_only_fields = fields

    # Plain values read straight off the row; the rest go through their DRF field (dates, related names).
    _DIRECT = ("id", "first_name", "last_name", "email", "phone", "lifecycle_stage", "lead_status", "timezone",
               "locale", "email_consent", "sms_consent", "engagement_score", "external_id", "source")
    _DATES = ("email_consent_changed_at", "sms_consent_changed_at", "last_seen_at", "created_at", "updated_at")

    def to_representation(self, instance: Contact) -> dict[str, Any]:
        """The same object DRF's generic field loop builds (a test compares them), written out directly: the list
        endpoint serializes up to 500 rows a request and the generic loop was a quarter of its time
        (bench/api_list.py)."""
        fields = self.fields
        data: dict[str, Any] = {name: getattr(instance, name) for name in self._DIRECT}
        for name in self._DATES:
            value = getattr(instance, name)
            data[name] = None if value is None else fields[name].to_representation(value)
        company, owner = instance.company, instance.owner
        data.update(company=instance.company_id, company_name=company.name if company is not None else None,
                    owner=instance.owner_id, owner_email=owner.email if owner is not None else None,
                    attributes=instance.attributes, tags=[tag.name for tag in instance.tags.all()])
        return {name: data[name] for name in self.Meta.fields}


class ContactInputSerializer(serializers.Serializer):
    """Every field is optional: a create needs at least an e-mail, phone, external id or name; an update (PUT or
    PATCH) changes only the fields given."""

    first_name = StrictCharField(max_length=150, allow_blank=True, required=False)
    last_name = StrictCharField(max_length=150, allow_blank=True, required=False)
    email = StrictEmailField(max_length=254, allow_blank=True, required=False,
                                   help_text="Unique in the workspace, ignoring case.")
    phone = StrictCharField(max_length=MAX_PHONE_INPUT, allow_blank=True, required=False,
                                  help_text="Any common format; stored as E.164. Numbers without a country code "
                                            "are read in the workspace's default region.")
    company = _id_field("Id of a company of this workspace.")
    owner = _id_field("Id of a user who is a member of this workspace.")
    lifecycle_stage = serializers.ChoiceField(choices=LifecycleStage.choices, required=False)
    lead_status = serializers.ChoiceField(choices=LeadStatus.choices, required=False)
    timezone = StrictCharField(max_length=64, allow_blank=True, required=False,
                                     help_text="IANA name such as Europe/Berlin.")
    locale = StrictCharField(max_length=35, allow_blank=True, required=False,
                                   help_text="Language tag such as en or pt-BR.")
    email_consent = serializers.ChoiceField(choices=ConsentState.choices, required=False)
    sms_consent = serializers.ChoiceField(choices=ConsentState.choices, required=False)
    attributes = serializers.DictField(required=False, help_text=ATTRIBUTES_HELP)
    engagement_score = StrictIntegerField(min_value=-MAX_ENGAGEMENT_SCORE, max_value=MAX_ENGAGEMENT_SCORE,
                                                required=False)
    last_seen_at = serializers.DateTimeField(allow_null=True, required=False)
    external_id = StrictCharField(max_length=255, allow_blank=True, required=False,
                                        help_text="The contact's id in your application; unique when set.")
    source = StrictCharField(max_length=100, allow_blank=True, required=False)


class ContactCreateSerializer(ContactInputSerializer):
    tags = _tag_list("Tag names to add (created when new).")


class ContactBulkRequestSerializer(serializers.Serializer):
    items = ContactCreateSerializer(many=True, allow_empty=False, max_length=MAX_BULK_ITEMS,
                                    help_text=f"At most {MAX_BULK_ITEMS} contacts, each upserted by external id "
                                              "or e-mail.")


class ContactTagsChangeSerializer(serializers.Serializer):
    add = _tag_list("Tag names to add (created when new).")
    remove = _tag_list("Tag names to remove; names the contact does not carry are ignored.")


class ContactTagsSerializer(serializers.Serializer):
    tags = serializers.ListField(child=serializers.CharField())


# --- companies ---------------------------------------------------------------------------------------------
class CompanySerializer(serializers.ModelSerializer):
    size = serializers.ChoiceField(choices=CompanySize.choices, allow_blank=True, read_only=True,
                                   help_text="Head-count band; empty when unknown.")
    owner_email = serializers.CharField(source="owner.email", read_only=True, allow_null=True, default=None)
    attributes = serializers.DictField(read_only=True, help_text="Custom field values by key.")

    class Meta:
        model = Company
        fields = ["id", "name", "domain", "industry", "size", "owner", "owner_email", "attributes", "external_id",
                  "created_at", "updated_at"]
        read_only_fields = fields


class CompanyInputSerializer(serializers.Serializer):
    name = StrictCharField(max_length=255, required=False, help_text="Required when creating.")
    domain = StrictCharField(max_length=2000, allow_blank=True, required=False,
                                   help_text="A domain or URL; stored as the bare host name (acme.com), unique in "
                                             "the workspace.")
    industry = StrictCharField(max_length=100, allow_blank=True, required=False)
    size = serializers.ChoiceField(choices=CompanySize.choices, allow_blank=True, required=False)
    owner = _id_field("Id of a user who is a member of this workspace.")
    attributes = serializers.DictField(required=False, help_text=ATTRIBUTES_HELP)


class CompanyBulkItemSerializer(CompanyInputSerializer):
    id = StrictIntegerField(min_value=1, max_value=2**63 - 1, required=False,
                            help_text="Give it to update that company; without it the item updates the company with "
                                      "its `domain`, or creates one.")


CompanyBulkRequestSerializer = bulk_request_serializer(
    "CompanyBulkRequestSerializer", CompanyBulkItemSerializer,
    f"At most {MAX_BULK_ITEMS} companies: items with `id` update that company, items without update the company "
    "with their `domain` or create one.")


# --- tags --------------------------------------------------------------------------------------------------
class TagSerializer(serializers.ModelSerializer):
    class Meta:
        model = Tag
        fields = ["id", "name", "created_at", "updated_at"]
        read_only_fields = fields


class TagInputSerializer(serializers.Serializer):
    name = StrictCharField(max_length=100, help_text="Unique in the workspace, ignoring case.")


# --- custom fields -----------------------------------------------------------------------------------------
class CustomFieldSerializer(serializers.ModelSerializer):
    choices = serializers.ListField(child=serializers.CharField(), read_only=True)

    class Meta:
        model = CustomFieldDefinition
        fields = ["id", "object_type", "key", "label", "field_type", "choices", "required", "created_at",
                  "updated_at"]
        read_only_fields = fields


class CustomFieldCreateSerializer(serializers.Serializer):
    object_type = serializers.ChoiceField(choices=ObjectType.choices)
    key = StrictRegexField(r"^[a-z][a-z0-9_]{0,63}$", max_length=64,
                                 help_text="Lower-case slug used in `attributes`, filters and merge tags; fixed once "
                                           "created.")
    label = StrictCharField(max_length=100)
    field_type = serializers.ChoiceField(choices=FieldType.choices, help_text="Fixed once created.")
    choices = serializers.ListField(child=StrictCharField(max_length=100), max_length=200, required=False,
                                    help_text="For single_choice and multi_choice fields only.")
    required = StrictBooleanField(required=False, default=False)


class CustomFieldUpdateSerializer(serializers.Serializer):
    # Accepted so that a request trying to change them is refused with a field error rather than ignored.
    object_type = serializers.ChoiceField(choices=ObjectType.choices, required=False, help_text="Cannot change.")
    key = StrictCharField(max_length=64, required=False, help_text="Cannot change.")
    field_type = serializers.ChoiceField(choices=FieldType.choices, required=False, help_text="Cannot change.")
    label = StrictCharField(max_length=100, required=False)
    choices = serializers.ListField(child=StrictCharField(max_length=100), max_length=200, required=False)
    required = StrictBooleanField(required=False)
