"""Writes of custom field definitions and of the workspace's contact settings."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import phonenumbers
from django.db import IntegrityError, transaction

from kith.accounts.models import Workspace
from kith.contacts.attributes import KEY_PATTERN, choices_clean, printable
from kith.contacts.db import JSONRemoveKey
from kith.contacts.errors import FieldErrors, InvalidFields
from kith.contacts.models import Company, Contact, ContactSettings, CustomFieldDefinition, FieldType, ObjectType
from kith.core.audit import audit_record, diff, snapshot

DEFINITION_AUDIT_FIELDS = ("object_type", "key", "label", "field_type", "choices", "required")
# The key and type are what stored values mean; changing them would silently reinterpret every row's value.
IMMUTABLE_FIELDS = ("object_type", "key", "field_type")
# Enough for any real CRM schema, and bounds the per-write validation and the definitions query.
MAX_DEFINITIONS_PER_TYPE = 500


def _label_clean(label: Any, errors: FieldErrors) -> str:
    if not isinstance(label, str) or not label.strip() or "\x00" in label:
        errors.add("label", "A custom field needs a label.")
        return ""
    if len(label.strip()) > 100:
        errors.add("label", "At most 100 characters.")
    return label.strip()


@transaction.atomic
def custom_field_definition_create(
    *,
    workspace: Workspace,
    actor: Any,
    object_type: str,
    key: str,
    label: str,
    field_type: str,
    choices: list[str] | None = None,
    required: bool = False,
) -> CustomFieldDefinition:
    """Define a custom field of contacts or companies. ``key`` (a lower-case slug such as ``plan_tier``) and
    ``field_type`` are fixed for the life of the definition. Making a field required applies to writes from now
    on; existing rows without a value stay valid until someone edits that field."""
    errors = FieldErrors()
    if object_type not in ObjectType.values:
        errors.add("object_type", f"Choose one of: {', '.join(ObjectType.values)}.")
    if not isinstance(key, str) or not KEY_PATTERN.match(key):
        errors.add("key", "Use a lower-case letter followed by letters, digits or underscores (at most 64).")
    if field_type not in FieldType.values:
        errors.add("field_type", f"Choose one of: {', '.join(FieldType.values)}.")
    label = _label_clean(label, errors)
    cleaned_choices: list[str] = []
    if field_type in FieldType.values:
        try:
            cleaned_choices = choices_clean(field_type=field_type, choices=choices or [])
        except InvalidFields as exc:
            errors.merge(exc)
    errors.raise_if_any()
    existing = CustomFieldDefinition.objects.for_workspace(workspace).filter(object_type=object_type)
    if existing.filter(key=key).exists():
        raise InvalidFields({"key": [f"A {object_type} field with this key already exists."]})
    if existing.count() >= MAX_DEFINITIONS_PER_TYPE:
        message = f"A workspace can define at most {MAX_DEFINITIONS_PER_TYPE} {object_type} fields."
        raise InvalidFields({"key": [message]})
    try:
        with transaction.atomic():
            definition = CustomFieldDefinition.objects.create(
                workspace=workspace, object_type=object_type, key=key, label=label, field_type=field_type,
                choices=cleaned_choices, required=bool(required),
            )
    except IntegrityError as exc:
        raise InvalidFields({"key": [f"A {object_type} field with this key already exists."]}) from exc
    audit_record(action="custom_field.created", actor=actor, workspace=workspace, target=definition,
                 after=snapshot(definition, DEFINITION_AUDIT_FIELDS))
    return definition


@transaction.atomic
def custom_field_definition_update(
    *, definition: CustomFieldDefinition, actor: Any, data: Mapping[str, Any]
) -> CustomFieldDefinition:
    """Change ``label``, ``choices`` or ``required``. Naming ``key``, ``object_type`` or ``field_type`` with a new
    value is an error. Removing a choice leaves rows that hold it as they are until they are next edited."""
    errors = FieldErrors()
    for name in IMMUTABLE_FIELDS:
        if name in data and data[name] != getattr(definition, name):
            errors.add(name, "Cannot be changed; create a new field instead.")
    values: dict[str, Any] = {}
    if "label" in data:
        values["label"] = _label_clean(data["label"], errors)
    if "choices" in data:
        try:
            values["choices"] = choices_clean(field_type=definition.field_type, choices=data["choices"] or [])
        except InvalidFields as exc:
            errors.merge(exc)
    if "required" in data:
        if not isinstance(data["required"], bool):
            errors.add("required", "Expected true or false.")
        values["required"] = bool(data["required"])
    unknown = set(data) - {*IMMUTABLE_FIELDS, "label", "choices", "required"}
    for name in sorted(unknown):
        errors.add(printable(str(name)), "Unknown field.")
    errors.raise_if_any()
    before = snapshot(definition, DEFINITION_AUDIT_FIELDS)
    changed = [name for name, value in values.items() if getattr(definition, name) != value]
    for name in changed:
        setattr(definition, name, values[name])
    if changed:
        definition.save(update_fields=[*changed, "updated_at"])
        old, new = diff(before, snapshot(definition, DEFINITION_AUDIT_FIELDS))
        audit_record(action="custom_field.updated", actor=actor, workspace=definition.workspace, target=definition,
                     before=old, after=new)
    return definition


@transaction.atomic
def custom_field_definition_delete(*, definition: CustomFieldDefinition, actor: Any) -> int:
    """Delete the definition and its values from every contact or company of the workspace, in one UPDATE, so a
    later field with the same key does not inherit stale values. Returns how many rows held a value."""
    model = Company if definition.object_type == ObjectType.COMPANY else Contact
    purged = (
        model.objects.for_workspace(definition.workspace_id)
        .filter(attributes__has_key=definition.key)
        .update(attributes=JSONRemoveKey("attributes", definition.key))
    )
    audit_record(action="custom_field.deleted", actor=actor, workspace=definition.workspace, target=definition,
                 before={**snapshot(definition, DEFINITION_AUDIT_FIELDS), "values_removed": purged})
    definition.delete()
    return purged


@transaction.atomic
def contact_settings_update(*, workspace: Workspace, actor: Any, default_phone_region: str) -> ContactSettings:
    """Set the region used to read phone numbers written without a country code."""
    region = default_phone_region.strip().upper() if isinstance(default_phone_region, str) else ""
    if region not in phonenumbers.SUPPORTED_REGIONS:
        raise InvalidFields({"default_phone_region": ["Use a two-letter country code such as US or DE."]})
    settings, _ = ContactSettings.objects.select_for_update().get_or_create(workspace=workspace)
    before = snapshot(settings, ["default_phone_region"])
    settings.default_phone_region = region
    settings.save(update_fields=["default_phone_region"])
    old, new = diff(before, snapshot(settings, ["default_phone_region"]))
    if new:
        audit_record(action="contact_settings.updated", actor=actor, workspace=workspace, target=settings,
                     before=old, after=new)
    return settings

