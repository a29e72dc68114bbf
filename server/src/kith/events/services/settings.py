"""The workspace's event settings: its trait mapping and its write keys (API keys with the ``events`` scope)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.db import transaction

from kith.accounts.models import ApiKey, ApiKeyScope, Workspace
from kith.accounts.services import api_key_create
from kith.contacts import selectors as contact_selectors
from kith.contacts.errors import InvalidFields
from kith.contacts.models import ObjectType
from kith.core.audit import audit_record
from kith.events.models import EventSettings
from kith.events.services.traits import mapping_clean

# A mapping is edited by people; a few hundred entries is already more than anyone maintains by hand.
MAX_MAPPING_ENTRIES = 200


def event_write_key_create(*, workspace: Workspace, actor: Any, name: str = "Event write key") -> tuple[ApiKey, str]:
    """A key that may only send events (Segment clients call it the write key). Returns it with its secret, which
    is shown once. It is an ordinary API key with the ``events`` scope, so listing, revoking, last-used time and
    the audit trail are those of every key."""
    return api_key_create(workspace=workspace, actor=actor, name=name, scopes=[ApiKeyScope.EVENTS])


@transaction.atomic
def trait_mapping_update(*, workspace: Workspace, actor: Any, mapping: Mapping[str, Any]) -> EventSettings:
    """Replace the workspace's own trait mapping (laid over the defaults). Raises ``InvalidFields`` keyed by
    ``trait_mapping.<trait>``."""
    if len(mapping) > MAX_MAPPING_ENTRIES:
        raise InvalidFields({"trait_mapping": [f"At most {MAX_MAPPING_ENTRIES} entries."]})
    definitions = contact_selectors.custom_field_definitions_by_key(workspace=workspace,
                                                                    object_type=ObjectType.CONTACT)
    clean, errors = mapping_clean(entries=mapping, definitions=definitions)
    if errors:
        raise InvalidFields({f"trait_mapping.{trait}": messages for trait, messages in errors.items()})
    settings, _ = EventSettings.objects.select_for_update().get_or_create(workspace=workspace)
    before = dict(settings.trait_mapping)
    if before != clean:
        settings.trait_mapping = clean
        settings.save(update_fields=["trait_mapping"])
        audit_record(action="event_settings.updated", actor=actor, workspace=workspace, target=settings,
                     target_label="trait mapping", before={"trait_mapping": before},
                     after={"trait_mapping": clean})
    return settings
