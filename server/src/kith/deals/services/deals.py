"""Writes of deals: create, update, move between stages (with stage history), delete.

Callers resolve references (pipeline, stage, owner, contact, company) through the selectors, so what a member may
not see never reaches a service; the services check the invariants that hold whoever calls them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import transaction
from django.db.models import Max

from kith.accounts.models import Membership, User, Workspace
from kith.contacts.errors import FieldErrors, InvalidFields
from kith.contacts.models import Company, Contact
from kith.core import clock
from kith.core.audit import actor_fields, audit_record, diff, snapshot
from kith.deals.currencies import currency_normalize
from kith.deals.models import (
    Deal,
    DealStageChange,
    DealStatus,
    Pipeline,
    Stage,
    StageKind,
)
from kith.timeline.models import ActivityKind
from kith.timeline.services import activity_record
from kith.webhooks.payloads import deal_stage_changed_data
from kith.webhooks.services import webhook_emit

DEAL_AUDIT_FIELDS = ("name", "value", "currency", "expected_close_date", "owner", "contact", "company", "pipeline",
                     "stage", "status", "lost_reason", "closed_at")
# What ``deal_update`` accepts; the stage changes only through ``deal_move_to_stage`` (history and timeline).
UPDATABLE_FIELDS = frozenset({"name", "value", "currency", "expected_close_date", "owner", "contact", "company",
                              "status", "lost_reason"})
MAX_VALUE = Decimal("999999999999.99")  # what DecimalField(max_digits=14, decimal_places=2) stores


def _status_for(kind: str) -> str:
    return {StageKind.WON: DealStatus.WON, StageKind.LOST: DealStatus.LOST}.get(kind, DealStatus.OPEN)


def _clean(values: Mapping[str, Any], *, workspace: Workspace) -> dict[str, Any]:
    """Validate plain fields; references arrive as model instances already checked by the caller's selectors."""
    errors = FieldErrors()
    cleaned: dict[str, Any] = {}
    for name, raw in values.items():
        if name == "name":
            text = str(raw or "").strip()
            if not text or len(text) > 255:
                errors.add(name, "Give a name of at most 255 characters.")
            cleaned[name] = text
        elif name == "value":
            try:
                amount = Decimal(str(raw if raw is not None else "0")).quantize(Decimal("0.01"))
            except (InvalidOperation, ValueError):
                errors.add(name, "Give an amount such as 1500 or 1500.50.")
                continue
            if not amount.is_finite() or amount < 0 or amount > MAX_VALUE:
                errors.add(name, f"Give an amount from 0 to {MAX_VALUE}.")
            cleaned[name] = amount
        elif name == "currency":
            try:
                cleaned[name] = currency_normalize(raw)
            except ValueError as exc:
                errors.add(name, str(exc))
        elif name == "lost_reason":
            cleaned[name] = str(raw or "").strip()[:255]
        elif name == "status":
            if raw not in DealStatus.values:
                errors.add(name, f"Use one of: {', '.join(DealStatus.values)}.")
            cleaned[name] = raw
        elif name == "expected_close_date":
            if raw is not None and not isinstance(raw, dt.date):
                errors.add(name, "Give a date.")
            cleaned[name] = raw
        elif name in ("contact", "company", "owner"):
            expected = {"contact": Contact, "company": Company, "owner": User}[name]
            if raw is not None and (not isinstance(raw, expected) or (
                    name != "owner" and raw.workspace_id != workspace.pk)):
                errors.add(name, f"No such {name} in this workspace.")
            cleaned[name] = raw
        else:
            errors.add(name, "Unknown field.")
    if errors:
        raise InvalidFields(errors.errors)
    return cleaned


def _owner_is_member(owner: User | None, workspace: Workspace) -> None:
    if owner is not None and not Membership.objects.filter(workspace=workspace, user=owner).exists():
        raise InvalidFields({"owner": ["The owner must be a member of this workspace."]})


def _next_position(stage: Stage) -> int:
    last = Deal.objects.filter(stage=stage).aggregate(m=Max("position"))["m"]
    return 0 if last is None else last + 1


def _apply_status(deal: Deal, status: str, *, lost_reason: str | None, now: dt.datetime) -> None:
    """Set status and closed_at together (a check constraint ties them); lost needs a reason."""
    if status == DealStatus.LOST:
        reason = (lost_reason if lost_reason is not None else deal.lost_reason).strip()
        if not reason:
            raise InvalidFields({"lost_reason": ["Say why the deal was lost."]})
        deal.lost_reason = reason[:255]
    elif lost_reason is None:
        deal.lost_reason = ""
    if status == DealStatus.OPEN:
        deal.closed_at = None
    elif deal.status != status or deal.closed_at is None:
        deal.closed_at = now
    deal.status = status


def _history(*, deal: Deal, from_stage: Stage | None, to_stage: Stage, actor: Any, now: dt.datetime) -> None:
    user, _ = actor_fields(actor)
    DealStageChange.objects.create(
        deal=deal, from_stage=from_stage, to_stage=to_stage, changed_by=user, changed_at=now,
        from_stage_name=from_stage.name if from_stage else "", to_stage_name=to_stage.name)


@transaction.atomic
def deal_create(
    *, workspace: Workspace, actor: Any, pipeline: Pipeline, name: str, stage: Stage | None = None,
    value: Any = None, currency: str = "USD", expected_close_date: dt.date | None = None,
    owner: User | None = None, contact: Contact | None = None, company: Company | None = None,
    lost_reason: str = "",
) -> Deal:
    """Create a deal in ``stage`` (the pipeline's first stage when ``None``), at the end of that column. Its status
    follows the stage's kind. Writes the first stage-history row, a timeline entry and the audit row."""
    if pipeline.workspace_id != workspace.pk:
        raise InvalidFields({"pipeline": ["No such pipeline in this workspace."]})
    if stage is None:
        stage = pipeline.stages.order_by("position", "id").first()
        if stage is None:
            raise InvalidFields({"stage": ["This pipeline has no stages."]})
    elif stage.pipeline_id != pipeline.pk:
        raise InvalidFields({"stage": ["Choose a stage of the deal's pipeline."]})
    values = _clean({"name": name, "value": value, "currency": currency, "expected_close_date": expected_close_date,
                     "owner": owner, "contact": contact, "company": company}, workspace=workspace)
    _owner_is_member(owner, workspace)
    now = clock.now()
    deal = Deal(workspace=workspace, pipeline=pipeline, stage=stage, position=_next_position(stage), **values)
    _apply_status(deal, _status_for(stage.kind), lost_reason=lost_reason or None, now=now)
    deal.save()
    _history(deal=deal, from_stage=None, to_stage=stage, actor=actor, now=now)
    activity_record(workspace=workspace, kind=ActivityKind.STAGE_CHANGED, title=f"Deal created in {stage.name}",
                    deal=deal, contact=deal.contact, company=deal.company, actor=actor,
                    data={"deal": deal.pk, "to_stage": stage.pk}, occurred_at=now)
    audit_record(action="deal.created", actor=actor, workspace=workspace, target=deal,
                 after=snapshot(deal, DEAL_AUDIT_FIELDS))
    return deal


def _locked(deal: Deal) -> Deal:
    # of=self: lock the deal row only, not the joined rows (which would serialize unrelated writes).
    return (Deal.objects.select_for_update(of=("self",))
            .select_related("workspace", "stage", "pipeline", "contact", "company").get(pk=deal.pk))


@transaction.atomic
def deal_update(*, deal: Deal, actor: Any, changes: Mapping[str, Any]) -> Deal:
    """Change the fields in ``changes`` (see ``UPDATABLE_FIELDS``); audited with only what changed, and a no-op
    writes nothing. Setting ``status`` closes or reopens the deal where it stands (lost needs ``lost_reason``)."""
    unknown = set(changes) - UPDATABLE_FIELDS
    if unknown:
        raise InvalidFields({name: ["This field cannot be changed here."] for name in sorted(unknown)})
    locked = _locked(deal)
    values = _clean(changes, workspace=locked.workspace)
    if "owner" in values:
        _owner_is_member(values["owner"], locked.workspace)
    before = snapshot(locked, DEAL_AUDIT_FIELDS)
    status = values.pop("status", None)
    for name, value in values.items():
        setattr(locked, name, value)
    if status is not None or "lost_reason" in values:
        _apply_status(locked, status or locked.status, lost_reason=values.get("lost_reason"), now=clock.now())
    old, new = diff(before, snapshot(locked, DEAL_AUDIT_FIELDS))
    if new:
        locked.save(update_fields=[*new, "updated_at"])
        audit_record(action="deal.updated", actor=actor, workspace=locked.workspace, target=locked,
                     before=old, after=new)
    return locked


def _place(deal: Deal, *, stage: Stage, position: int | None) -> None:
    """Put ``deal`` at index ``position`` of ``stage``'s column (the end when ``None``), renumbering only the
    cards whose position changes (one bulk UPDATE)."""
    others = list(Deal.objects.filter(stage=stage).exclude(pk=deal.pk).order_by("position", "id").only("id",
                                                                                                       "position"))
    if position is None or position >= len(others):
        deal.position = (others[-1].position + 1) if others else 0
        return
    index = max(position, 0)
    ordered = [*others[:index], deal, *others[index:]]
    changed = []
    for number, item in enumerate(ordered):
        if item.position != number or item is deal:
            item.position = number
            if item is not deal:
                changed.append(item)
    if changed:
        Deal.objects.bulk_update(changed, ["position"])


@transaction.atomic
def deal_move_to_stage(
    *, deal: Deal, stage: Stage, actor: Any, position: int | None = None, lost_reason: str | None = None,
) -> Deal:
    """Move ``deal`` to ``stage`` of its pipeline, at ``position`` in the column (the end when ``None``).

    Moving into a won or lost stage closes the deal (``closed_at`` now; lost needs a ``lost_reason``, given here or
    already on the deal); moving back to an open stage reopens it. A change of stage writes a stage-history row,
    one timeline entry (shown on the deal and its contact and company) and the audit row; a move within the same
    column only reorders.
    """
    locked = _locked(deal)
    if stage.pipeline_id != locked.pipeline_id:
        raise InvalidFields({"stage": ["Choose a stage of the deal's pipeline."]})
    if position is not None and position < 0:
        raise InvalidFields({"position": ["Give a position of 0 or more."]})
    from_stage = locked.stage
    before = snapshot(locked, DEAL_AUDIT_FIELDS)
    now = clock.now()
    moved = from_stage.pk != stage.pk
    if moved:
        _apply_status(locked, _status_for(stage.kind), lost_reason=lost_reason, now=now)
    elif lost_reason is not None and locked.status == DealStatus.LOST:
        _apply_status(locked, DealStatus.LOST, lost_reason=lost_reason, now=now)
    locked.stage = stage
    _place(locked, stage=stage, position=position)
    fields = ["stage", "position", "status", "closed_at", "lost_reason", "updated_at"]
    locked.save(update_fields=fields)
    if moved:
        _history(deal=locked, from_stage=from_stage, to_stage=stage, actor=actor, now=now)
        activity_record(workspace=locked.workspace, kind=ActivityKind.STAGE_CHANGED,
                        title=f"{locked.name}: {from_stage.name} → {stage.name}", deal=locked,
                        contact=locked.contact, company=locked.company, actor=actor, occurred_at=now,
                        data={"deal": locked.pk, "from_stage": from_stage.pk, "to_stage": stage.pk,
                              "status": locked.status})
        old, new = diff(before, snapshot(locked, DEAL_AUDIT_FIELDS))
        audit_record(action="deal.stage_changed", actor=actor, workspace=locked.workspace, target=locked,
                     before=old, after=new)
        webhook_emit(workspace=locked.workspace, event_type="deal.stage_changed",
                     data=deal_stage_changed_data(locked, from_stage=from_stage))
    return locked


@transaction.atomic
def deals_bulk_move(*, stage: Stage, to: Stage, actor: Any) -> int:
    """Move every deal of ``stage`` to ``to`` (same pipeline) in set-based writes, for deleting a stage: one
    UPDATE of the deals and one INSERT of their history rows. Statuses follow ``to``'s kind; deals moved into a lost
    stage without a reason get one saying why they were moved. The caller writes the audit row of the operation
    that needed the move (deleting a stage)."""
    now = clock.now()
    user, _ = actor_fields(actor)
    start = _next_position(to)
    status = _status_for(to.kind)
    deals = list(Deal.objects.select_for_update().filter(stage=stage).order_by("position", "id"))
    for offset, deal in enumerate(deals):
        deal.stage = to
        deal.position = start + offset
        reason = deal.lost_reason or f"Stage {stage.name} was deleted" if status == DealStatus.LOST else None
        _apply_status(deal, status, lost_reason=reason, now=now)
        deal.updated_at = now  # bulk_update skips auto_now; open boards watch updated_at (selectors.board_version)
    Deal.objects.bulk_update(deals, ["stage", "position", "status", "closed_at", "lost_reason", "updated_at"])
    DealStageChange.objects.bulk_create([
        DealStageChange(deal=deal, from_stage=stage, to_stage=to, changed_by=user, changed_at=now,
                        from_stage_name=stage.name, to_stage_name=to.name) for deal in deals
    ])
    return len(deals)


@transaction.atomic
def deal_delete(*, deal: Deal, actor: Any) -> None:
    """Delete ``deal`` with its stage history and timeline entries; the audit row keeps what it held."""
    audit_record(action="deal.deleted", actor=actor, workspace=deal.workspace, target=deal,
                 before=snapshot(deal, DEAL_AUDIT_FIELDS))
    deal.delete()
