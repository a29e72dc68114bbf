"""Writes about likely duplicates: remembering that two contacts are not the same person."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from kith.contacts.errors import InvalidFields
from kith.contacts.models import Contact, DuplicateDismissal
from kith.core.audit import audit_record


@transaction.atomic
def duplicate_dismiss(*, first: Contact, second: Contact, actor: Any) -> DuplicateDismissal:
    """Mark ``first`` and ``second`` as "not a duplicate", so they are no longer offered as a pair. Idempotent."""
    if first.workspace_id != second.workspace_id or first.pk == second.pk:
        raise InvalidFields({"contacts": ["Name two different contacts of this workspace."]})
    low, high = sorted((first, second), key=lambda c: c.pk)
    dismissal, created = DuplicateDismissal.objects.get_or_create(
        contact_low=low, contact_high=high,
        defaults={"workspace_id": low.workspace_id, "dismissed_by": actor if getattr(actor, "is_authenticated", False)
                  and not getattr(actor, "is_api_key", False) else None},
    )
    if created:
        audit_record(action="contact.duplicate_dismissed", actor=actor, workspace=low.workspace, target=low,
                     after={"not_a_duplicate_of": high.pk})
    return dismissal
