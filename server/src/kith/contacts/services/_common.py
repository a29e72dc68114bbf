"""What the contact, company and bulk services share: the write context, reference parsing, audit rows."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from django.db import models

from kith.accounts.models import Membership, Workspace
from kith.contacts import selectors
from kith.contacts.errors import InvalidFields
from kith.contacts.models import CustomFieldDefinition, ObjectType, Tag
from kith.core.audit import actor_fields
from kith.core.models import AuditEntry
from kith.core.observability import current_request_context

CONTACT_AUDIT_FIELDS = (
    "first_name", "last_name", "email", "phone", "company", "owner", "lifecycle_stage", "lead_status", "timezone",
    "locale", "email_consent", "email_consent_changed_at", "sms_consent", "sms_consent_changed_at", "attributes",
    "engagement_score", "last_seen_at", "external_id", "source",
)
COMPANY_AUDIT_FIELDS = ("name", "domain", "industry", "size", "owner", "attributes")
# One request may name this many tags; more is a client bug, not a tagging need.
MAX_TAGS_PER_WRITE = 100


@dataclass(frozen=True)
class WriteContext:
    """Loaded once per service call (or once per bulk request), so validating N items costs no N queries."""

    workspace: Workspace
    membership: Membership | None
    definitions: Mapping[str, CustomFieldDefinition]
    phone_region: str


def write_context(*, workspace: Workspace, membership: Membership | None, object_type: str) -> WriteContext:
    region = ""  # companies have no phone numbers
    if object_type == ObjectType.CONTACT:
        region = selectors.contact_settings_get(workspace=workspace).default_phone_region
    return WriteContext(
        workspace=workspace,
        membership=membership,
        definitions=selectors.custom_field_definitions_by_key(workspace=workspace, object_type=object_type),
        phone_region=region,
    )


def reference_id(value: Any) -> int | None:
    """An object id given as a number or as digits (imports), ``None`` for none. Raises ``ValueError``."""
    if value is None or value == "":
        return None
    if isinstance(value, models.Model):
        return int(value.pk)
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if not isinstance(value, int) or isinstance(value, bool) or not 0 < value < 2**63:
        raise ValueError("Expected the id of an object.")
    return value


def reference_ids(items: Iterable[Mapping[str, Any]], field: str) -> set[int]:
    """The well-formed ids named by ``field`` across ``items``; malformed ones are reported when each is cleaned."""
    ids: set[int] = set()
    for item in items:
        try:
            found = reference_id(item.get(field))
        except ValueError:
            continue
        if found is not None:
            ids.add(found)
    return ids


def tag_names_clean(names: Any, *, field: str = "tags") -> list[str]:
    """Trimmed tag names, de-duplicated ignoring case (first spelling wins). Raises ``InvalidFields``."""
    if isinstance(names, str) or not isinstance(names, list | tuple):
        raise InvalidFields({field: ["Expected a list of tag names."]})
    if len(names) > MAX_TAGS_PER_WRITE:
        raise InvalidFields({field: [f"At most {MAX_TAGS_PER_WRITE} tags at once."]})
    cleaned: dict[str, str] = {}
    for name in names:
        if not isinstance(name, str) or not name.strip() or not name.isprintable():
            raise InvalidFields({field: ["Tag names must be non-empty text without control characters."]})
        name = " ".join(name.split())
        if len(name) > 100:
            raise InvalidFields({field: ["Tag names are at most 100 characters long."]})
        cleaned.setdefault(Tag.key_for(name), name)
    return list(cleaned.values())


def audit_entry_build(
    *,
    action: str,
    actor: Any,
    workspace: Workspace,
    target: models.Model,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> AuditEntry:
    """An unsaved audit row, as ``kith.core.audit.audit_record`` would write it, for ``bulk_create`` by services
    that change many rows at once."""
    user, label = actor_fields(actor)
    ctx = current_request_context()
    return AuditEntry(
        workspace=workspace,
        actor=user,
        actor_label=label[:200],
        action=action,
        target_type=target._meta.label_lower,
        target_id=str(target.pk),
        target_label=str(target)[:255],
        before=before,
        after=after,
        ip_address=ctx.ip_address,
        request_id=ctx.request_id,
    )


def assign(instance: models.Model, values: Mapping[str, Any]) -> list[str]:
    """Set ``values`` on ``instance``; return the names of the fields that really changed.

    Foreign keys may be given as instances (``company``) or ids (``owner_id``); the returned names are field
    names either way, usable in ``update_fields`` and ``bulk_update``.
    """
    changed: list[str] = []
    for name, value in values.items():
        field = instance._meta.get_field(name)  # also finds a foreign key by its attname ("owner_id")
        if field.is_relation and name == field.attname:
            current, new = getattr(instance, field.attname), value
        elif field.is_relation:
            current, new = getattr(instance, field.attname), (value.pk if value is not None else None)
        else:
            current, new = getattr(instance, name), value
        if current != new:
            setattr(instance, name, value)
            changed.append(field.name)
    return changed


def consent_stamp(instance: models.Model, changed: list[str], *, now: dt.datetime) -> list[str]:
    """Record when each channel's consent changed, next to the state (the proof a regulator asks for)."""
    for channel in ("email", "sms"):
        if f"{channel}_consent" in changed:
            setattr(instance, f"{channel}_consent_changed_at", now)
            changed.append(f"{channel}_consent_changed_at")
    return changed
