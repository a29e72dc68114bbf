"""Audit rows: who did what to which object, with before/after snapshots.

Services call ``audit_record`` inside their transaction. The request id and client address come from the current
request context (see ``kith.core.observability``) so services need not pass them along.
"""

from __future__ import annotations

import datetime as dt
import decimal
import uuid
from collections.abc import Iterable
from typing import Any

from django.db import models

from kith.core.models import AuditEntry
from kith.core.observability import current_request_context


def snapshot(instance: models.Model, fields: Iterable[str]) -> dict[str, Any]:
    """A JSON-safe picture of ``fields`` of ``instance`` for the before/after columns."""
    data: dict[str, Any] = {}
    for name in fields:
        field = instance._meta.get_field(name)
        value = getattr(instance, field.attname)
        data[name] = _json_safe(value)
    return data


def _json_safe(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal | uuid.UUID):
        return str(value)
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    return value


def actor_fields(actor: Any) -> tuple[Any, str]:
    """Split an actor (a user, an API key, or ``None`` for the system) into the FK and a readable label."""
    if actor is None:
        return None, "system"
    if getattr(actor, "is_api_key", False):
        return actor.created_by, f"api key {actor.prefix}"
    if getattr(actor, "is_authenticated", False):
        return actor, actor.email
    return None, "anonymous"


def audit_record(
    *,
    action: str,
    actor: Any,
    workspace: Any = None,
    target: models.Model | None = None,
    target_label: str = "",
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> AuditEntry:
    """Write one audit row. ``action`` is a dotted past-tense name such as ``api_key.created``."""
    user, label = actor_fields(actor)
    ctx = current_request_context()
    return AuditEntry.objects.create(
        workspace=workspace,
        actor=user,
        actor_label=label[:200],
        action=action,
        target_type=target._meta.label_lower if target is not None else "",
        target_id=str(target.pk) if target is not None else "",
        target_label=(target_label or (str(target) if target is not None else ""))[:255],
        before=before,
        after=after,
        ip_address=ctx.ip_address,
        request_id=ctx.request_id,
    )


def diff(before: dict[str, Any], after: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Only the keys whose value changed, for compact update rows."""
    changed = [k for k in after if before.get(k) != after.get(k)]
    return {k: before.get(k) for k in changed}, {k: after[k] for k in changed}
