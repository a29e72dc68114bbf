"""Which identify traits become contact fields or custom attributes, and how invalid ones are reported.

A workspace's mapping (``EventSettings.trait_mapping``) is laid over ``DEFAULT_TRAIT_MAPPING``. A trait that no
mapping names becomes the custom attribute of the same key when the workspace defines such a contact field, and
otherwise stays on the event only (traits are open-ended; contacts are not). Values are validated by the same
code as every other contact write (``kith.contacts.validation`` and ``kith.contacts.attributes``); an invalid value
is left out and reported, never allowed to block the valid ones.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kith.contacts.attributes import field_name, printable, value_coerce
from kith.contacts.models import CustomFieldDefinition
from kith.contacts.validation import contact_fields_clean

# Segment's reserved traits in both spellings its libraries use.
DEFAULT_TRAIT_MAPPING: dict[str, str] = {
    "email": "email",
    "firstName": "first_name",
    "first_name": "first_name",
    "lastName": "last_name",
    "last_name": "last_name",
    "phone": "phone",
}
# Contact fields a trait may set. Not owner, company, consent or score: those are decisions made in Kith (consent
# has its own audited flow), not facts a tracking client reports.
FIELD_TARGETS = ("email", "first_name", "last_name", "phone", "timezone", "locale", "lifecycle_stage",
                 "lead_status", "source")
ATTRIBUTE_PREFIX = "attributes."
MAX_TRAIT_NAME = 100


def effective_mapping(custom: Mapping[str, str]) -> dict[str, str]:
    """The defaults with the workspace's entries on top (an empty target switches a default off)."""
    return {**DEFAULT_TRAIT_MAPPING, **custom}


def mapping_clean(*, entries: Mapping[str, Any], definitions: Mapping[str, CustomFieldDefinition]) -> tuple[
        dict[str, str], dict[str, list[str]]]:
    """Validate a mapping (trait → target); returns the clean mapping and errors keyed by trait."""
    clean: dict[str, str] = {}
    errors: dict[str, list[str]] = {}
    for trait, target in entries.items():
        trait_text = trait.strip() if isinstance(trait, str) else ""
        if not trait_text or len(trait_text) > MAX_TRAIT_NAME or not trait_text.isprintable():
            errors.setdefault(printable(str(trait)) or "trait", []).append(
                f"A trait name is 1–{MAX_TRAIT_NAME} printable characters.")
            continue
        target = target.strip() if isinstance(target, str) else target
        is_attribute = isinstance(target, str) and target.startswith(ATTRIBUTE_PREFIX) and \
            target[len(ATTRIBUTE_PREFIX):] in definitions
        if target == "" or target in FIELD_TARGETS or is_attribute:
            clean[trait_text] = target
        else:
            errors.setdefault(trait_text, []).append(
                f"Map to one of {', '.join(FIELD_TARGETS)} or attributes.<key> of a defined contact field.")
    return clean, errors


def traits_to_contact_data(
    *, traits: Mapping[str, Any], mapping: Mapping[str, str], definitions: Mapping[str, CustomFieldDefinition],
    phone_region: str,
) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """The contact write (``{"email": ..., "attributes": {...}}``) that ``traits`` ask for, with the invalid values
    left out, and the errors of those values keyed like the contacts API (``phone``, ``attributes.plan``).

    ``None`` values are skipped: a client sending ``email: null`` means "unknown", not "erase the address".
    """
    fields: dict[str, Any] = {}
    attributes: dict[str, Any] = {}
    errors: dict[str, list[str]] = {}
    for trait, value in traits.items():
        target = mapping.get(trait)
        if target is None and trait in definitions:
            target = ATTRIBUTE_PREFIX + trait
        if not target or value is None or value == "":
            continue
        if target.startswith(ATTRIBUTE_PREFIX):
            key = target[len(ATTRIBUTE_PREFIX):]
            definition = definitions.get(key)
            if definition is None:
                errors.setdefault(field_name(key), []).append("This custom field no longer exists.")
                continue
            try:
                attributes[key] = value_coerce(definition=definition, value=value)
            except ValueError as exc:
                errors.setdefault(field_name(key), []).append(f"trait {printable(trait)!r}: {exc}")
        elif target not in fields:  # "firstName" and "first_name" both sent: the first one wins
            fields[target] = value
    clean, field_errors = contact_fields_clean(fields, phone_region=phone_region)
    for name, messages in field_errors.errors.items():
        errors.setdefault(name, []).extend(messages)
    data: dict[str, Any] = {name: clean[name] for name in clean if name not in field_errors.errors}
    if attributes:
        data["attributes"] = attributes
    return data, errors


def without_fields(data: Mapping[str, Any], names: set[str]) -> dict[str, Any]:
    """``data`` without the fields (``email``) and attributes (``attributes.plan``) named in ``names``."""
    result = {name: value for name, value in data.items() if name not in names and name != "attributes"}
    attributes = {key: value for key, value in data.get("attributes", {}).items()
                  if field_name(key) not in names}
    if attributes and "attributes" not in names:
        result["attributes"] = attributes
    return result
