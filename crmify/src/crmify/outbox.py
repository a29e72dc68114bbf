"""The write side: turn a host change into lead values and an outbox entry, inside the host's transaction.

Nothing here touches the network. Writes join whatever transaction the host's save runs in, so the lead and its
outbox entry commit or roll back with the host's own row; delivery is only *kicked* once that transaction commits.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from crmify import conf
from crmify.models import Lead, OutboxEntry


def values_hash(values: dict[str, Any]) -> str:
    blob = json.dumps(values, sort_keys=True, default=str, ensure_ascii=False)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def lead_for(obj: Any, *, create: bool = True) -> Lead | None:
    """The lead anchored to a host record (a fresh ``Lead`` with the new-lead status if ``create``)."""
    lead = Lead.objects.filter(anchor_id=obj.pk).first()
    if lead is None and create:
        lead = Lead(anchor_id=obj.pk, anchor_key=str(obj.pk), external_status=conf.get("LEAD_NEW_STATUS"))
    return lead


def record_save(obj: Any) -> None:
    """The hot path: a lead model instance was saved. Two plain statements when something changed, two when nothing
    did — this runs inside the host's request, so no ORM query building on the way (crmify_overhead).

    The first statement is a write on purpose: on SQLite a transaction that reads first and writes later cannot
    wait for a concurrent writer (the delivery thread) and fails with "database is locked" at once.
    """
    values = conf.mapper_class()().apply_field_mapping(obj)
    digest = values_hash(values)
    lead_table, outbox_table = Lead._meta.db_table, OutboxEntry._meta.db_table
    columns = list(values)
    assignments = ", ".join(f"{connection.ops.quote_name(c)} = %s" for c in columns)
    with transaction.atomic(savepoint=False), connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {lead_table} SET {assignments}, sync_hash = %s, version = version + 1, deleted_at = NULL, "
            f"updated_at = %s WHERE anchor_id = %s AND (sync_hash <> %s OR deleted_at IS NOT NULL)",
            [*(values[c] for c in columns), digest, timezone.now(), obj.pk, digest])
        if cursor.rowcount == 0:
            cursor.execute(f"SELECT 1 FROM {lead_table} WHERE anchor_id = %s", [obj.pk])
            if cursor.fetchone() is None:  # a new lead: the ORM path (once per host record)
                _record_change(obj, status=None, force=True)
            return
        now = timezone.now()
        cursor.execute(
            f"INSERT INTO {outbox_table} (lead_id, kind, payload, status, attempts, available_at, last_error, "
            f"created_at, claim_token) SELECT l.id, 'sync', '{{}}', 'pending', 0, %s, '', %s, '' FROM {lead_table} l "
            f"WHERE l.anchor_id = %s AND NOT EXISTS (SELECT 1 FROM {outbox_table} o WHERE o.lead_id = l.id "
            f"AND o.kind = 'sync' AND o.status = 'pending' AND o.claimed_until IS NULL)",
            [now, now, obj.pk])
    kick_on_commit()


def record_change(obj: Any, *, status: str | None = None, force: bool = False) -> Lead:
    """Map ``obj`` (a lead model instance) onto its lead; queue a sync if anything the CRM sees changed.

    Joins the host's transaction when there is one; otherwise (an autocommit save) the lead and the outbox entry
    still commit together, and as one commit rather than one per statement.
    """
    with transaction.atomic(savepoint=False):
        return _record_change(obj, status=status, force=force)


def _record_change(obj: Any, *, status: str | None, force: bool) -> Lead:
    mapper = conf.mapper_class()()
    lead = lead_for(obj)
    assert lead is not None
    values = mapper.apply_field_mapping(obj)
    for field, value in values.items():
        setattr(lead, field, value)
    status_changed = bool(status) and status != lead.external_status
    if status:
        lead.external_status = status
    was_deleted = lead.deleted_at is not None
    lead.deleted_at = None
    digest = values_hash(values)
    if not force and lead.pk and digest == lead.sync_hash and not status_changed and not was_deleted:
        return lead
    lead.sync_hash = digest
    lead.version += 1
    lead.save()
    queue_sync(lead)
    return lead


def queue_sync(lead: Lead) -> None:
    """One pending, unclaimed sync per lead is enough: delivery reads the lead's values when it runs, and the
    version check in kith's delivery catches a change that raced a claim."""
    already = OutboxEntry.objects.filter(lead=lead, kind=OutboxEntry.Kind.SYNC, status=OutboxEntry.Status.PENDING,
                                         claimed_until__isnull=True).exists()
    if not already:
        OutboxEntry.objects.create(lead=lead, kind=OutboxEntry.Kind.SYNC)
    kick_on_commit()


def record_delete(obj_pk: Any) -> None:
    with transaction.atomic(savepoint=False):
        _record_delete(obj_pk)


def _record_delete(obj_pk: Any) -> None:
    lead = Lead.objects.filter(anchor_key=str(obj_pk), deleted_at__isnull=True).first()
    if lead is None:
        return
    Lead.objects.filter(pk=lead.pk).update(deleted_at=timezone.now(), version=F("version") + 1)
    OutboxEntry.objects.create(lead=lead, kind=OutboxEntry.Kind.DELETE, payload={"external_id": lead.external_id})
    kick_on_commit()


def record_event(obj: Any, event: str, properties: dict[str, Any] | None, timestamp: str | None) -> OutboxEntry:
    with transaction.atomic(savepoint=False):
        return _record_event(obj, event, properties, timestamp)


def _record_event(obj: Any, event: str, properties: dict[str, Any] | None, timestamp: str | None) -> OutboxEntry:
    lead = lead_for(obj, create=False) or _record_change(obj, status=None, force=True)
    entry = OutboxEntry.objects.create(lead=lead, kind=OutboxEntry.Kind.EVENT, payload={
        "event": event, "properties": properties or {}, "timestamp": timestamp or timezone.now().isoformat()})
    kick_on_commit()
    return entry


def kick_on_commit() -> None:
    from crmify import delivery  # delivery imports backends lazily; keep the save path's imports small

    transaction.on_commit(delivery.kick)
