"""Writes of segments. A definition is compiled before it is saved, so a stored segment was valid when written."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django.db import transaction

from kith.accounts.models import Workspace
from kith.core.audit import audit_record, diff, snapshot
from kith.core.errors import Conflict, KithError
from kith.core.jobs import enqueue_on_commit
from kith.segments import selectors
from kith.segments.membership import segment_membership_rebuild_task
from kith.segments.models import Segment

AUDITED = ("name", "definition")
MAX_NAME_LENGTH = 200


def _name_clean(name: Any) -> str:
    if not isinstance(name, str) or not name.strip() or len(name.strip()) > MAX_NAME_LENGTH or "\x00" in name:
        raise KithError(f"Give a name of 1 to {MAX_NAME_LENGTH} characters.", field="name")
    return name.strip()


def segment_create(*, workspace: Workspace, actor: Any, name: Any, definition: Any) -> Segment:
    """Create a segment; ``definition`` is a tree or the text form. Raises ``InvalidSegment`` naming the bad
    condition, ``KithError`` on ``name``."""
    name = _name_clean(name)
    definition = selectors.definition_normalize(workspace=workspace, definition=definition)
    selectors.segment_condition(workspace=workspace, definition=definition)
    with transaction.atomic():
        segment = Segment.objects.create(workspace=workspace, name=name, definition=definition,
                                         created_by=actor if getattr(actor, "is_authenticated", False) else None)
        audit_record(action="segment.created", actor=actor, workspace=workspace, target=segment,
                     after=snapshot(segment, AUDITED))
        enqueue_on_commit(segment_membership_rebuild_task, segment_id=segment.pk)
    return segment


def segment_update(*, segment: Segment, actor: Any, data: dict[str, Any]) -> Segment:
    """Change ``name`` and/or ``definition``. A definition that would reach this segment again through the
    segments it refers to is a cycle and refused."""
    before = snapshot(segment, AUDITED)
    if "name" in data:
        segment.name = _name_clean(data["name"])
    if "definition" in data:
        definition = selectors.definition_normalize(workspace=segment.workspace, definition=data["definition"])
        selectors.segment_condition(workspace=segment.workspace, definition=definition, segment_id=segment.pk)
        segment.definition = definition
    with transaction.atomic():
        segment.save(update_fields=["name", "definition", "updated_at"])
        old, new = diff(before, snapshot(segment, AUDITED))
        if new:
            audit_record(action="segment.updated", actor=actor, workspace=segment.workspace, target=segment,
                         before=old, after=new)
            if "definition" in new:
                enqueue_on_commit(segment_membership_rebuild_task, segment_id=segment.pk)
    return segment


def segment_delete(*, segment: Segment, actor: Any) -> None:
    """Delete a segment unless another segment refers to it (that one would stop working)."""
    users = [other.name for other in Segment.objects.for_workspace(segment.workspace).exclude(pk=segment.pk)
             if segment.pk in set(_referenced_ids(other.definition))]
    if users:
        raise Conflict(f"Segment “{users[0]}” uses this segment; change it first.")
    with transaction.atomic():
        audit_record(action="segment.deleted", actor=actor, workspace=segment.workspace, target=segment,
                     before=snapshot(segment, AUDITED))
        segment.delete()


def _referenced_ids(node: Any) -> Iterator[int]:
    if isinstance(node, dict):
        if isinstance(node.get("segment"), int):
            yield node["segment"]
        for value in node.values():
            yield from _referenced_ids(value)
    elif isinstance(node, list):
        for item in node:
            yield from _referenced_ids(item)
