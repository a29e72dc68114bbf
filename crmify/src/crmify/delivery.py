"""The delivery side: drain the outbox to the CRM backend, in order per lead, with retries and a dead letter.

Runs outside any host request: in a background thread kicked when a host transaction commits (DELIVERY="thread"),
in a Celery task (DELIVERY="celery"), or in ``manage.py crmify_worker``. Several drainers may run at once: an entry
is claimed by a conditional UPDATE with a lease, so each is delivered by one drainer at a time, and only the oldest
pending entry of a lead is claimable, so a lead's entries reach the CRM in the order the host made them.
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets
import threading
from dataclasses import dataclass, field
from typing import Any

from django.db import close_old_connections, connection, transaction
from django.db.models import Exists, F, OuterRef
from django.utils import timezone

from crmify import conf
from crmify.backends import build_backend
from crmify.backends.base import PermanentError, TemporaryError
from crmify.models import Lead, OutboxEntry

log = logging.getLogger("crmify.delivery")

LEASE = dt.timedelta(minutes=5)
Status = OutboxEntry.Status
Kind = OutboxEntry.Kind


@dataclass
class DrainResult:
    delivered: int = 0
    retried: int = 0
    dead: int = 0
    # Entries that failed in this drain wait for the next one, even when their backoff is already over: one drain
    # is one pass over what is due, not a busy loop against a CRM that is down.
    retrying_ids: set[int] = field(default_factory=set)

    @property
    def handled(self) -> int:
        return self.delivered + self.retried + self.dead


def due_entries(now: dt.datetime) -> Any:
    earlier = OutboxEntry.objects.filter(lead_id=OuterRef("lead_id"), status=Status.PENDING, id__lt=OuterRef("id"))
    return (OutboxEntry.objects.filter(status=Status.PENDING, available_at__lte=now)
            .exclude(claimed_until__gt=now)
            .filter(~Exists(earlier))
            .order_by("id"))


def claim(limit: int, now: dt.datetime, exclude: set[int] | frozenset[int] = frozenset()) -> list[OutboxEntry]:
    """Claim up to ``limit`` due entries with one conditional UPDATE: an entry another drainer claimed between our
    read and our write no longer matches, so each entry is held by one drainer at a time."""
    # Read the candidates completely before writing: an open read cursor on SQLite would hold its lock while we
    # update, blocking the host's writers.
    candidates = list(due_entries(now).exclude(id__in=exclude).values_list("id", flat=True)[:limit])
    if not candidates:
        return []
    token = secrets.token_hex(16)
    (OutboxEntry.objects.filter(id__in=candidates, status=Status.PENDING)
     .exclude(claimed_until__gt=now)
     .update(claimed_until=now + LEASE, claim_token=token))
    return list(OutboxEntry.objects.filter(id__in=candidates, claim_token=token).select_related("lead").order_by("id"))


def drain(*, max_entries: int | None = None, backend: Any = None) -> DrainResult:
    """Deliver due entries until none are left (or ``max_entries`` were handled)."""
    backend = backend or build_backend()
    result = DrainResult()
    batch_size = int(conf.get("BATCH_SIZE"))

    while max_entries is None or result.handled < max_entries:
        now = timezone.now()
        limit = batch_size if max_entries is None else min(batch_size, max_entries - result.handled)
        entries = claim(limit, now, result.retrying_ids)
        if not entries:
            break
        deliver_batch(entries, backend, result)
    return result


def deliver_batch(entries: list[OutboxEntry], backend: Any, result: DrainResult) -> None:
    syncs = [e for e in entries if e.kind == Kind.SYNC]
    others = [e for e in entries if e.kind != Kind.SYNC]
    if syncs and hasattr(backend, "sync_leads") and len(syncs) > 1:
        deliver_syncs_batched(syncs, backend, result)
    else:
        others = entries
    for entry in others:
        try:
            deliver_one(entry, backend)
        except Exception as exc:  # noqa: BLE001 — every failure is recorded on the entry, none escapes the loop
            fail(entry, exc, result)
        else:
            result.delivered += 1


def deliver_one(entry: OutboxEntry, backend: Any) -> None:
    lead = entry.lead
    if entry.kind == Kind.SYNC:
        version = lead.version
        external_id = backend.sync_lead(lead)
        mark_synced(lead, external_id, version)
    elif entry.kind == Kind.DELETE:
        if lead.external_id:
            backend.delete_lead(lead.external_id)
        Lead.objects.filter(pk=lead.pk).update(synced_version=lead.version, last_synced=timezone.now())
    elif entry.kind == Kind.EVENT:
        track = getattr(backend, "track", None)
        if track is not None:
            payload = entry.payload
            track(lead, payload["event"], payload.get("properties") or {}, payload.get("timestamp"),
                  message_id=f"crmify-{entry.pk}")
    complete(entry)


def deliver_syncs_batched(entries: list[OutboxEntry], backend: Any, result: DrainResult) -> None:
    leads = [e.lead for e in entries]
    versions = {lead.pk: lead.version for lead in leads}
    try:
        outcomes = backend.sync_leads(leads)
    except Exception as exc:  # noqa: BLE001 — the whole call failed: every entry retries on its own
        for entry in entries:
            fail(entry, exc, result)
        return
    synced: list[tuple[OutboxEntry, Lead, str]] = []
    for entry, lead, outcome in zip(entries, leads, outcomes, strict=True):
        if isinstance(outcome, Exception):
            fail(entry, outcome, result)
        else:
            synced.append((entry, lead, outcome))
    if not synced:
        return
    # The bookkeeping of a whole batch is one transaction: a handful of statements, one commit.
    now = timezone.now()
    with transaction.atomic():
        rows = []
        for _, lead, external_id in synced:
            lead.external_id = external_id or lead.external_id
            rows.append((lead.external_id, versions[lead.pk], now, lead.pk))
        # executemany of one plain UPDATE: pipelined by the driver, and far cheaper to build than bulk_update's CASE
        # expressions (which cost more than the HTTP call at 100 leads).
        with connection.cursor() as cursor:
            cursor.executemany(
                f"UPDATE {Lead._meta.db_table} SET external_id = %s, synced_version = %s, last_synced = %s "
                f"WHERE id = %s", rows)
        OutboxEntry.objects.filter(pk__in=[entry.pk for entry, _, _ in synced]).update(
            status=Status.DONE, done_at=now, claimed_until=None, attempts=F("attempts") + 1, last_error="")
        queue_follow_ups([lead.pk for _, lead, _ in synced])
    result.delivered += len(synced)


def queue_follow_ups(lead_ids: list[int]) -> None:
    """A host save that landed while a sync was in flight bumped the lead's version after we read it; it may have
    found our entry already claimed and queued nothing, so queue the follow-up here."""
    pending = OutboxEntry.objects.filter(lead_id=OuterRef("pk"), kind=Kind.SYNC, status=Status.PENDING,
                                         claimed_until__isnull=True)
    behind = (Lead.objects.filter(pk__in=lead_ids, deleted_at__isnull=True, version__gt=F("synced_version"))
              .filter(~Exists(pending)).values_list("pk", flat=True))
    OutboxEntry.objects.bulk_create([OutboxEntry(lead_id=pk, kind=Kind.SYNC) for pk in behind])


def mark_synced(lead: Lead, external_id: str, version: int) -> None:
    with transaction.atomic():
        Lead.objects.filter(pk=lead.pk).update(external_id=external_id or lead.external_id,
                                               synced_version=version, last_synced=timezone.now())
        lead.external_id = external_id or lead.external_id
        queue_follow_ups([lead.pk])


def complete(entry: OutboxEntry) -> None:
    OutboxEntry.objects.filter(pk=entry.pk).update(status=Status.DONE, done_at=timezone.now(), claimed_until=None,
                                                   attempts=entry.attempts + 1, last_error="")


def fail(entry: OutboxEntry, exc: Exception, result: DrainResult) -> None:
    attempts = entry.attempts + 1
    error = f"{type(exc).__name__}: {exc}"[:2000]
    if isinstance(exc, PermanentError) or attempts >= int(conf.get("MAX_ATTEMPTS")):
        OutboxEntry.objects.filter(pk=entry.pk).update(status=Status.DEAD, attempts=attempts, last_error=error,
                                                       claimed_until=None)
        log.warning("crmify: outbox entry %s dead after %s attempts: %s", entry.pk, attempts, error)
        result.dead += 1
        return
    delay = backoff_seconds(attempts)
    if isinstance(exc, TemporaryError) and exc.retry_after:
        delay = max(delay, exc.retry_after)
    OutboxEntry.objects.filter(pk=entry.pk).update(
        attempts=attempts, last_error=error, claimed_until=None,
        available_at=timezone.now() + dt.timedelta(seconds=delay))
    result.retried += 1
    result.retrying_ids.add(entry.pk)


def backoff_seconds(attempts: int) -> float:
    base = float(conf.get("RETRY_BASE_SECONDS"))
    return min(base * (2 ** (attempts - 1)), float(conf.get("RETRY_MAX_SECONDS")))


def retry_dead(entry_ids: list[int]) -> int:
    """Put dead-lettered entries back in line (the admin's "retry" action)."""
    return OutboxEntry.objects.filter(id__in=entry_ids, status=Status.DEAD).update(
        status=Status.PENDING, attempts=0, available_at=timezone.now(), claimed_until=None)


def requeue_behind() -> int:
    """Queue a sync for every lead the CRM is behind on that has nothing pending (the reconcile pass)."""
    pending = OutboxEntry.objects.filter(lead_id=OuterRef("pk"), status=Status.PENDING)
    behind = Lead.objects.filter(deleted_at__isnull=True).exclude(synced_version__gte=F("version"))
    ids = list(behind.filter(~Exists(pending)).values_list("pk", flat=True))
    OutboxEntry.objects.bulk_create([OutboxEntry(lead_id=pk, kind=Kind.SYNC) for pk in ids])
    return len(ids)


# --- kicking -----------------------------------------------------------------------------------------------------

_wake = threading.Event()
_thread_lock = threading.Lock()
_thread: threading.Thread | None = None


def kick() -> None:
    """Called on commit of a host transaction that queued work."""
    mode = conf.get("DELIVERY")
    if mode == "thread":
        _ensure_thread()
        _wake.set()
    elif mode == "celery":
        from crmify.tasks import drain_outbox

        drain_outbox.delay()


def _ensure_thread() -> None:
    global _thread
    with _thread_lock:
        if _thread is None or not _thread.is_alive():
            _thread = threading.Thread(target=_thread_main, name="crmify-delivery", daemon=True)
            _thread.start()


def _thread_main() -> None:
    global _thread
    # Drain whenever kicked; also wake up now and then for entries whose backoff has expired. The thread ends when
    # the setting no longer asks for it (a test's override_settings ending, for instance).
    while True:
        _wake.wait(timeout=2.0)
        _wake.clear()
        try:
            if conf.get("DELIVERY") != "thread":
                break
            drain()
        except Exception:  # noqa: BLE001 — the thread must outlive a broken database or backend
            log.exception("crmify: delivery thread failed to drain the outbox")
        finally:
            try:
                close_old_connections()
                if connection.connection is not None and not connection.in_atomic_block:
                    connection.close()
            except Exception:  # noqa: BLE001 — closing a connection that is already unusable
                pass
    with _thread_lock:
        _thread = None
