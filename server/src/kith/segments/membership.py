"""Incremental segment membership: ``SegmentMembership`` rows follow contacts as they change and events arrive.

How a change flows:

1. A contact write (``kith.contacts.hooks``) or a processed event chunk (``kith.events.hooks``) calls
   ``contacts_mark_dirty`` *inside the writer's transaction*: one INSERT of ``SegmentMembershipDirty`` rows and, once
   per transaction and workspace, ``enqueue_on_commit(segment_membership_update_task)``. The dirty row commits or rolls
   back with the write, so a committed change is never forgotten; the job is only the doorbell.
2. ``segment_membership_update_task`` takes up to ``BATCH_SIZE`` dirty contacts with DELETE … RETURNING (two jobs never
   take the same contact) and, in the same transaction, recomputes them set-based: per segment of the workspace one
   ``INSERT … SELECT`` of the contacts among them that match and have no row, and one ``DELETE … RETURNING`` of the
   rows among them that no longer match. Many writes to one contact before the job runs are recomputed once.
3. After commit, ``kith.segments.hooks.segment_membership_changed`` tells subscribers who entered and who left.

Conditions that change with time alone ("created in the last 30 days", "did X in the last 7 days") and changes that
bypass the contact services (CSV imports' set-based writes, company edits, a deleted custom field) are caught by
``segments_membership_refresh``, a periodic full refresh of every segment (schedule.toml), by the same two
statements without the contact filter. ``segments_membership_sweep`` re-rings dirty rows whose doorbell was lost.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Collection, Sequence
from dataclasses import dataclass

from django.db import connection, transaction
from django.db.models import Exists, F, OuterRef, Q

from kith.accounts.models import Workspace
from kith.contacts.models import Contact
from kith.core import clock
from kith.core.jobs import enqueue_on_commit, job
from kith.events.models import Event
from kith.segments import selectors
from kith.segments.errors import InvalidSegment
from kith.segments.hooks import segment_membership_changed
from kith.segments.models import Segment, SegmentMembership, SegmentMembershipDirty

logger = logging.getLogger(__name__)

# Contacts recomputed per transaction: every segment of the workspace is two statements over at most this many
# contacts (2 × BATCH_SIZE bound parameters, far below SQLite's limit), which keeps a transaction well under a second.
BATCH_SIZE = 1000
# Batches per job run before it hands over to a fresh job, so a backlog never holds one job past its lease.
BATCHES_PER_RUN = 50
# Dirty rows older than this had a doorbell that should have been answered; the sweep rings again.
STALE_AFTER = dt.timedelta(minutes=1)


@dataclass(frozen=True)
class MembershipChange:
    segment_id: int
    entered: list[int]
    left: list[int]


# --- marking (inside the writer's transaction) -----------------------------------------------------------------


class _Rung:
    """A no-op on-commit callback that marks "this transaction already rang workspace W's doorbell". It lives in
    Django's own on-commit list, so a rolled-back transaction or savepoint forgets it together with the job."""

    def __init__(self, workspace_id: int) -> None:
        self.workspace_id = workspace_id
        # Set when the callbacks ran. Only tests (captureOnCommitCallbacks) run callbacks and keep the list, so a
        # fired mark must not silence the next doorbell there.
        self.fired = False

    def __call__(self) -> None:
        self.fired = True


def _ring(workspace_id: int) -> None:
    in_atomic = connection.in_atomic_block
    if in_atomic and any(isinstance(entry[1], _Rung) and entry[1].workspace_id == workspace_id and not entry[1].fired
                         for entry in connection.run_on_commit):
        return
    enqueue_on_commit(segment_membership_update_task, workspace_id=workspace_id)
    if in_atomic:
        transaction.on_commit(_Rung(workspace_id))


def contacts_mark_dirty(*, workspace: Workspace, contact_ids: Collection[int]) -> None:
    """Record that these contacts' memberships must be recomputed and ring the update job after commit.
    Subscribed to ``kith.contacts.hooks``; a workspace without segments costs one EXISTS."""
    ids = sorted({int(pk) for pk in contact_ids})
    if not ids or not Segment.objects.filter(workspace=workspace).exists():
        return
    now = clock.now()
    SegmentMembershipDirty.objects.bulk_create(
        [SegmentMembershipDirty(workspace=workspace, contact_id=pk, marked_at=now) for pk in ids],
        ignore_conflicts=True, batch_size=BATCH_SIZE)
    _ring(workspace.pk)


def events_mark_dirty(*, workspace: Workspace, event_ids: Sequence[int]) -> None:
    """Subscribed to ``kith.events.hooks``: the contacts of processed events may have entered or left event-history
    segments ("did Purchase Completed at least twice")."""
    if not event_ids or not Segment.objects.filter(workspace=workspace).exists():
        return
    contact_ids = set(Event.objects.filter(workspace=workspace, pk__in=list(event_ids), contact__isnull=False)
                      .values_list("contact_id", flat=True))
    contacts_mark_dirty(workspace=workspace, contact_ids=contact_ids)


# --- recomputing ---------------------------------------------------------------------------------------------------


def _quote(name: str) -> str:
    return connection.ops.quote_name(name)


def segment_membership_apply(
    *, workspace: Workspace, segment_id: int, condition: Q, contact_ids: Collection[int] | None = None
) -> MembershipChange:
    """Make segment ``segment_id``'s rows agree with ``condition`` for ``contact_ids`` (every contact when ``None``):
    two statements, whatever the number of contacts. Returns who entered and who left; call inside a transaction.

    The INSERT skips existing rows (NOT EXISTS, and ON CONFLICT for a concurrent refresh) and RETURNs only the rows
    it really inserted, so a contact is reported as entered by exactly one refresh."""
    table = _quote(SegmentMembership._meta.db_table)
    matching = Contact.objects.filter(workspace=workspace).filter(condition)
    scope_sql, scope_params = "", []
    if contact_ids is not None:
        ids = sorted({int(pk) for pk in contact_ids})
        if not ids:
            return MembershipChange(segment_id=segment_id, entered=[], left=[])
        matching = matching.filter(pk__in=ids)
        scope_sql = f" AND {table}.{_quote('contact_id')} IN ({', '.join(['%s'] * len(ids))})"
        scope_params = ids
    new = matching.exclude(Exists(SegmentMembership.objects.filter(segment_id=segment_id, contact_id=OuterRef("pk"))))
    # An annotation so that the derived table's column has a name on every database (SQLite keeps "table"."id").
    new_sql, new_params = new.order_by().annotate(member_id=F("pk")).values_list("member_id").query.sql_with_params()
    all_sql, all_params = (matching.order_by().annotate(member_id=F("pk")).values_list("member_id")
                           .query.sql_with_params())
    now = connection.ops.adapt_datetimefield_value(clock.now())
    with connection.cursor() as cursor:
        # "WHERE true" lets SQLite parse ON CONFLICT after an INSERT … SELECT (its documented ambiguity).
        cursor.execute(
            f"INSERT INTO {table} (workspace_id, segment_id, contact_id, entered_at) "
            f"SELECT %s, %s, matching.member_id, %s FROM ({new_sql}) AS matching WHERE true "
            f"ON CONFLICT (segment_id, contact_id) DO NOTHING RETURNING contact_id",
            [workspace.pk, segment_id, now, *new_params])
        entered = sorted(row[0] for row in cursor.fetchall())
        cursor.execute(
            f"DELETE FROM {table} WHERE {table}.segment_id = %s{scope_sql} "
            f"AND NOT EXISTS (SELECT 1 FROM ({all_sql}) AS matching WHERE matching.member_id = {table}.contact_id) "
            f"RETURNING contact_id",
            [segment_id, *scope_params, *all_params])
        left = sorted(row[0] for row in cursor.fetchall())
    return MembershipChange(segment_id=segment_id, entered=entered, left=left)


def _conditions(workspace: Workspace) -> list[tuple[int, Q]]:
    """Every evaluable segment of the workspace with its compiled condition. A segment that stopped compiling (a
    deleted custom field it names) is skipped and keeps its rows until it is fixed; the editor shows the error."""
    found = []
    for segment in Segment.objects.for_workspace(workspace).order_by("id"):
        try:
            found.append((segment.pk, selectors.segment_condition(workspace=workspace, definition=segment.definition,
                                                                  segment_id=segment.pk)))
        except InvalidSegment as exc:
            logger.warning("segments: segment %s cannot be evaluated: %s", segment.pk, exc)
    return found


def _announce(workspace: Workspace, changes: Sequence[MembershipChange]) -> None:
    def notify() -> None:
        failures: list[Exception] = []
        for change in changes:
            try:
                segment_membership_changed(workspace=workspace, segment_id=change.segment_id,
                                           entered=change.entered, left=change.left)
            except Exception as exc:  # noqa: BLE001 — logged by the hook; re-raised after the other segments
                failures.append(exc)
        if failures:
            raise failures[0]

    if any(change.entered or change.left for change in changes):
        transaction.on_commit(notify)


def segment_membership_update(*, workspace: Workspace, contact_ids: Collection[int]) -> list[MembershipChange]:
    """Recompute every segment of ``workspace`` for ``contact_ids`` now (one transaction); subscribers hear of the
    changes after commit. The job below calls this with the dirty contacts it took."""
    with transaction.atomic():
        changes = [segment_membership_apply(workspace=workspace, segment_id=segment_id, condition=condition,
                                            contact_ids=contact_ids)
                   for segment_id, condition in _conditions(workspace)]
        _announce(workspace, changes)
    return changes


def _dirty_take(workspace: Workspace, limit: int) -> list[int]:
    table = _quote(SegmentMembershipDirty._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"DELETE FROM {table} WHERE id IN (SELECT id FROM {table} WHERE workspace_id = %s ORDER BY id LIMIT %s) "
            f"RETURNING contact_id", [workspace.pk, limit])
        return [row[0] for row in cursor.fetchall()]


def segment_membership_update_pending(*, workspace: Workspace, batch_size: int = BATCH_SIZE) -> int:
    """Work off the workspace's dirty contacts, a batch per transaction; returns how many contacts were done."""
    done = 0
    for _ in range(BATCHES_PER_RUN):
        with transaction.atomic():
            ids = _dirty_take(workspace, batch_size)
            if not ids:
                return done
            segment_membership_update(workspace=workspace, contact_ids=ids)
        done += len(ids)
        if len(ids) < batch_size:
            return done
    enqueue_on_commit(segment_membership_update_task, workspace_id=workspace.pk)
    return done


def segment_membership_rebuild(*, segment: Segment) -> MembershipChange:
    """Recompute one segment over all the workspace's contacts (after its definition changed, and periodically)."""
    try:
        condition = selectors.segment_condition(workspace=segment.workspace, definition=segment.definition,
                                                segment_id=segment.pk)
    except InvalidSegment as exc:
        logger.warning("segments: segment %s cannot be evaluated: %s", segment.pk, exc)
        return MembershipChange(segment_id=segment.pk, entered=[], left=[])
    with transaction.atomic():
        change = segment_membership_apply(workspace=segment.workspace, segment_id=segment.pk, condition=condition)
        _announce(segment.workspace, [change])
    return change


# --- jobs ----------------------------------------------------------------------------------------------------------


@job(lease_seconds=900)
def segment_membership_update_task(*, workspace_id: int) -> int:
    """Recompute the workspace's dirty contacts; rung after every committed contact write or event chunk."""
    workspace = Workspace.objects.filter(pk=workspace_id).first()
    if workspace is None:
        return 0
    return segment_membership_update_pending(workspace=workspace)


@job(lease_seconds=1800)
def segment_membership_rebuild_task(*, segment_id: int) -> None:
    """Rebuild one segment's rows; rung when a segment is created or its definition changes."""
    segment = Segment.objects.select_related("workspace").filter(pk=segment_id).first()
    if segment is not None:
        segment_membership_rebuild(segment=segment)


@job
def segments_membership_sweep() -> int:
    """Periodic: ring the update job of every workspace with dirty contacts older than ``STALE_AFTER`` (their
    doorbell was lost with a crashed process or broker). Reads the small dirty table only."""
    workspace_ids = sorted(set(
        SegmentMembershipDirty.objects.filter(marked_at__lt=clock.now() - STALE_AFTER)
        .values_list("workspace_id", flat=True).order_by().distinct()))
    for workspace_id in workspace_ids:
        enqueue_on_commit(segment_membership_update_task, workspace_id=workspace_id)
    return len(workspace_ids)


@job(lease_seconds=3600)
def segments_membership_refresh() -> int:
    """Periodic: rebuild every segment, so time-based conditions and writes that bypass the contact services are
    reflected. Each segment is its own transaction. Returns how many contacts entered or left."""
    moved = 0
    for segment in Segment.objects.select_related("workspace").order_by("id").iterator(chunk_size=100):
        change = segment_membership_rebuild(segment=segment)
        moved += len(change.entered) + len(change.left)
    return moved
