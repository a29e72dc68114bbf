"""Set-based writes of one batch of cleaned deals: one INSERT of the new deals, one UPDATE of the matched ones, one
INSERT of their stage-history rows.

Deals differ from contacts and companies in what a write must keep true, which is why they have a writer of their
own rather than the staging-table SQL of ``kith.imports.writers``: a deal's status and ``closed_at`` follow its
stage (a check constraint ties them), a deal sits at a position in its stage's column, and every change of stage
leaves a ``DealStageChange`` row. Those are computed here in Python for the whole batch (the references were
resolved by ``kith.imports.deal_rows``) and written with ``bulk_create``/``bulk_update`` — one statement per kind of
write per batch (``bulk_update`` in slices, see ``UPDATE_SLICE``), never one per row. Deals files are small next to
contacts files (thousands of rows, not millions), so the ORM's statements are fast enough and keep the same code on
SQLite and PostgreSQL.

No timeline entries, audit rows or webhooks per deal, as for every import (see ``kith.imports.processing``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from kith.deals.models import Deal, DealStageChange, DealStatus, Stage
from kith.deals.services.bulk import next_positions
from kith.imports.rows import Record
from kith.imports.writers import BatchResult

# Deal fields a row may set directly (references are already ids).
DIRECT_FIELDS = ("name", "value", "currency", "expected_close_date", "owner_id", "company_id", "contact_id",
                 "lost_reason")
# bulk_update writes one CASE per field per slice: slices of this size keep each statement's text and plan small.
UPDATE_SLICE = 500


def deal_batch_write(
    *, workspace_id: int, records: Sequence[Record], existing: set[str], update_existing: bool, now: dt.datetime,
    actor_id: int | None,
) -> BatchResult:
    """Create the deals of ``records`` whose external id is not in ``existing`` and update the others (when
    ``update_existing``), with their stage history. Runs in the caller's transaction; an ``IntegrityError``
    (a deal created meanwhile with the same external id) leaves the batch to the caller's row-by-row retry."""
    fresh = [r for r in records if r.key not in existing]
    stale = [r for r in records if r.key in existing] if update_existing else []
    moved = {r.values["stage_id"] for r in records if r.values.get("stage_moved")}
    positions = next_positions(moved) if moved else {}
    history: list[DealStageChange] = []
    if fresh:
        deals = []
        for record in fresh:
            values = record.values
            stage_id = values["stage_id"]
            deal = Deal(workspace_id=workspace_id, external_id=record.key, pipeline_id=values["pipeline_id"],
                        stage_id=stage_id, status=values["status"], position=positions[stage_id],
                        closed_at=None if values["status"] == DealStatus.OPEN else now, created_at=now,
                        updated_at=now, **{name: values[name] for name in DIRECT_FIELDS if name in values})
            positions[stage_id] += 1
            deals.append(deal)
        Deal.objects.bulk_create(deals)
        history += [DealStageChange(deal_id=deal.pk, to_stage_id=deal.stage_id, changed_by_id=actor_id,
                                    to_stage_name=record.values["stage_name"], changed_at=now)
                    for deal, record in zip(deals, fresh, strict=True)]
    updated = 0
    if stale:
        moves, updated = _update(workspace_id=workspace_id, records=stale, positions=positions, now=now,
                                 actor_id=actor_id)
        history += moves
    if history:
        DealStageChange.objects.bulk_create(history)
    return BatchResult(created=len(fresh), updated=updated)


def _update(
    *, workspace_id: int, records: Sequence[Record], positions: dict[int, int], now: dt.datetime,
    actor_id: int | None,
) -> tuple[list[DealStageChange], int]:
    """Apply the non-blank values of ``records`` to their deals (one locking read, one bulk UPDATE). Returns the
    history rows of the deals whose stage changed (the caller inserts them) and how many deals were updated."""
    by_key = {deal.external_id: deal for deal in Deal.objects.select_for_update(of=("self",))
              .filter(workspace_id=workspace_id, external_id__in=[r.key for r in records])}
    stage_names = dict(Stage.objects.filter(pk__in={d.stage_id for d in by_key.values()}).values_list("pk", "name"))
    fields: set[str] = {"updated_at"}
    history: list[DealStageChange] = []
    deals: list[Deal] = []
    for record in records:
        deal = by_key.get(record.key)
        if deal is None:  # deleted since the batch looked it up: nothing to update
            continue
        values = record.values
        for name in DIRECT_FIELDS:
            if name in values:
                setattr(deal, name, values[name])
                fields.add(name)
        if values.get("stage_moved"):
            from_stage_id = deal.stage_id
            status = values["status"]
            deal.pipeline_id, deal.stage_id, deal.position = values["pipeline_id"], values["stage_id"], \
                positions[values["stage_id"]]
            positions[values["stage_id"]] += 1
            if status == DealStatus.OPEN:
                deal.closed_at = None
            elif deal.status != status or deal.closed_at is None:
                deal.closed_at = now
            if status != DealStatus.LOST and "lost_reason" not in values:
                deal.lost_reason = ""  # as ``deal_move_to_stage``: a reopened or won deal has no lost reason
            deal.status = status
            fields.update({"pipeline_id", "stage_id", "position", "status", "closed_at", "lost_reason"})
            history.append(DealStageChange(deal_id=deal.pk, from_stage_id=from_stage_id, to_stage_id=deal.stage_id,
                                           changed_by_id=actor_id, from_stage_name=stage_names.get(from_stage_id, ""),
                                           to_stage_name=values["stage_name"], changed_at=now))
        deal.updated_at = now
        deals.append(deal)
    if deals:
        Deal.objects.bulk_update(deals, [name.removesuffix("_id") for name in sorted(fields)],
                                 batch_size=UPDATE_SLICE)
    return history, len(deals)
