"""Bulk create/update of deals: up to ``MAX_BULK_ITEMS`` per call, a result per item, good items saved even when
others fail (the shared machinery is ``kith.contacts.bulk``).

An item with ``id`` updates that deal; one with an ``external_id`` updates the deal that has it or creates it with
that id (so an integration can send the same items again without creating twice); any other item creates a deal.
Items follow the rules of ``deal_create`` and ``deal_update`` — their field checks (``_clean``) and status rules
(``_apply_status``) are the same functions — and what they write is the same: a new deal gets its first
stage-history row and a "created in" timeline entry, every saved change an audit row. Updates do not move deals
between stages (``/deals/{id}/move/`` does, with its history and webhook).

Set-based: references (pipelines with their stages, contacts, companies, owners, the deals to update) load in one
query per kind through the caller's visibility, column positions in one, then one ``bulk_create`` of deals, one
batched ``bulk_update``, and one insert each of history rows, timeline entries and audit rows.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.db.models import Max, Q

from kith.accounts.models import Membership, User, Workspace
from kith.contacts import selectors as contact_selectors
from kith.contacts.bulk import (
    BulkItemResult,
    bulk_error,
    bulk_saved_status,
    bulk_size_check,
    insert_all_or_each,
    update_all_or_each,
)
from kith.contacts.errors import FieldErrors, InvalidFields
from kith.contacts.services._common import audit_entry_build
from kith.core import clock
from kith.core.audit import diff, snapshot
from kith.core.models import AuditEntry
from kith.deals import selectors
from kith.deals.models import Deal, DealStageChange, Pipeline, Stage
from kith.deals.services.deals import (
    DEAL_AUDIT_FIELDS,
    UPDATABLE_FIELDS,
    _apply_status,
    _clean,
    _status_for,
)
from kith.timeline.models import Activity, ActivityKind

CREATE_FIELDS = frozenset({"name", "pipeline", "stage", "value", "currency", "expected_close_date", "owner",
                           "contact", "company", "lost_reason", "external_id"})
REFERENCES = ("owner", "contact", "company")
MOVE_HINT = "Move a deal with POST /api/v1/deals/{id}/move/."
RACE_LOST_MESSAGE = "Another request took this external id meanwhile; send this item again to see the current state."


@dataclass
class _Item:
    index: int
    deal: Deal
    created: bool
    before: dict[str, Any] | None = None
    changed: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _Refs:
    pipelines: dict[int, Pipeline]
    default_pipeline: Pipeline | None
    stages: dict[int, Stage]
    contacts: dict[int, Any]
    companies: dict[int, Any]
    owners: dict[int, User]
    by_id: dict[int, Deal]
    by_external: dict[str, Deal]


def next_positions(stage_ids: Collection[int]) -> dict[int, int]:
    """The first free card position at the end of each stage's column, in one query (bulk writes and imports
    append new cards with it)."""
    tops = dict(Deal.objects.filter(stage_id__in=stage_ids).values("stage_id").annotate(top=Max("position"))
                .values_list("stage_id", "top"))
    return {stage_id: (tops[stage_id] + 1) if tops.get(stage_id) is not None else 0 for stage_id in stage_ids}


@transaction.atomic
def deal_bulk_write(
    *,
    workspace: Workspace,
    actor: Any,
    items: Sequence[Mapping[str, Any]],
    membership: Membership | None = None,
    default_owner: User | None = None,
) -> list[BulkItemResult]:
    """Create or update each of ``items``: deal fields as for ``deal_create`` with references as ids (``pipeline``,
    ``stage``, ``owner``, ``contact``, ``company``), plus ``id`` or ``external_id`` to update. Returns one result per
    item, in order; two items naming the same deal are refused from the second on. A new deal without an ``owner``
    gets ``default_owner``. Raises ``InvalidFields`` only for the request as a whole (more than ``MAX_BULK_ITEMS``)."""
    bulk_size_check(items)
    results: dict[int, BulkItemResult] = {}
    refs = _refs_load(workspace, membership, items)
    now = clock.now()
    prepared: list[_Item] = []
    claimed: dict[tuple[str, Any], int] = {}  # ("id", pk) / ("external_id", key) → index of the item that has it
    for index, raw in enumerate(items):
        errors = FieldErrors()
        item = _prepare(workspace, index, raw, refs, membership, claimed, errors, now, default_owner)
        if errors or item is None:
            bulk_error(results, index, errors.errors or {"non_field_errors": ["This item could not be saved."]})
            continue
        prepared.append(item)
    created = [i for i in prepared if i.created]
    positions = next_positions({i.deal.stage_id for i in created})
    for item in created:
        item.deal.position = positions[item.deal.stage_id]
        positions[item.deal.stage_id] += 1
    updated = [i for i in prepared if not i.created and i.changed]
    insert_all_or_each([i.deal for i in created],
                       lost=lambda n: bulk_error(results, created[n].index, {"external_id": [RACE_LOST_MESSAGE]}))
    update_all_or_each([i.deal for i in updated], [i.changed for i in updated],
                       lost=lambda n: bulk_error(results, updated[n].index, {"external_id": [RACE_LOST_MESSAGE]}))
    saved = [i for i in prepared if i.index not in results]
    _history_and_timeline(workspace, actor, [i for i in saved if i.created], now)
    _audit(workspace, actor, saved)
    for item in saved:
        results[item.index] = BulkItemResult(index=item.index, id=item.deal.pk,
                                             status=bulk_saved_status(created=item.created,
                                                                      changed=bool(item.changed)))
    return [results[index] for index in range(len(items))]


def _ids(items: Sequence[Mapping[str, Any]], name: str) -> set[int]:
    return {v for item in items if isinstance(item, Mapping) and isinstance(v := item.get(name), int)
            and not isinstance(v, bool) and 0 < v < 2**63}


def _refs_load(workspace: Workspace, membership: Membership | None, items: Sequence[Mapping[str, Any]]) -> _Refs:
    pipelines = list(selectors.pipeline_list(workspace=workspace))
    default = next((p for p in sorted(pipelines, key=lambda p: (not p.is_default, p.position, p.pk))), None)
    stages = {stage.pk: stage for pipeline in pipelines for stage in pipeline.stages.all()}
    contact_ids, company_ids = _ids(items, "contact"), _ids(items, "company")
    contacts = ({c.pk: c for c in contact_selectors.contact_list(workspace=workspace, membership=membership)
                 .prefetch_related(None).filter(pk__in=contact_ids)} if contact_ids else {})
    companies = contact_selectors.companies_by_id(workspace=workspace, membership=membership, ids=company_ids)
    owner_ids = _ids(items, "owner")
    owners = ({m.user_id: m.user for m in Membership.objects.filter(workspace=workspace, user_id__in=owner_ids)
               .select_related("user")} if owner_ids else {})
    deal_ids = _ids(items, "id")
    keys = {k for item in items if isinstance(item, Mapping) and isinstance(k := item.get("external_id"), str) and k}
    by_id: dict[int, Deal] = {}
    by_external: dict[str, Deal] = {}
    if deal_ids or keys:
        # Every deal named, visible or not (an external id held by a colleague's deal must not be created twice);
        # visibility is checked per item.
        for deal in (Deal.objects.for_workspace(workspace).select_for_update(of=("self",))
                     .select_related("stage").filter(Q(pk__in=deal_ids) | Q(external_id__in=keys))):
            by_id[deal.pk] = deal
            if deal.external_id:
                by_external[deal.external_id] = deal
    return _Refs(pipelines={p.pk: p for p in pipelines}, default_pipeline=default, stages=stages,
                 contacts=contacts, companies=companies, owners=owners, by_id=by_id, by_external=by_external)


def _visible(deal: Deal, membership: Membership | None) -> bool:
    return not contact_selectors.sees_only_own(membership) or (membership is not None
                                                               and deal.owner_id == membership.user_id)


def _prepare(workspace: Workspace, index: int, raw: Mapping[str, Any], refs: _Refs, membership: Membership | None,
             claimed: dict[tuple[str, Any], int], errors: FieldErrors, now: Any,
             default_owner: User | None) -> _Item | None:
    """Validate one item and assign it to its new or loaded deal in memory; nothing is written here."""
    if not isinstance(raw, Mapping):
        errors.add("non_field_errors", "Expected an object of deal fields.")
        return None
    deal_id, key = raw.get("id"), raw.get("external_id")
    if key is not None and (not isinstance(key, str) or len(key.strip()) > 255):
        errors.add("external_id", "Give an id of at most 255 characters.")
        return None
    key = (key or "").strip()
    match: Deal | None = None
    if deal_id is not None:
        match = refs.by_id.get(deal_id) if isinstance(deal_id, int) else None
        if match is None or not _visible(match, membership):
            errors.add("id", "No such deal.")
            return None
        if key and key != match.external_id:
            errors.add("external_id", "The external id of a deal cannot change.")
            return None
    elif key:
        match = refs.by_external.get(key)
        if match is not None and not _visible(match, membership):
            errors.add("external_id", "This deal exists and is assigned to another member.")
            return None
    claims = ([("id", match.pk)] if match is not None else []) + ([("external_id", key)] if key else [])
    for claim in claims:
        if claim in claimed:
            errors.add("id" if deal_id is not None else "external_id",
                       f"Item {claimed[claim]} of this request names the same deal.")
            return None
    claimed.update({claim: index for claim in claims})
    allowed = (UPDATABLE_FIELDS | {"id", "external_id"}) if match is not None else CREATE_FIELDS
    for name in sorted(set(raw) - allowed):
        errors.add(name, MOVE_HINT if name in ("pipeline", "stage") else "Unknown field.")
    references = _references(raw, refs, errors)
    if errors:
        return None
    try:
        if match is None:
            if "owner" not in raw:
                references["owner"] = default_owner
            return _create(workspace, index, raw, key, references, refs, errors, now)
        return _update(workspace, index, match, raw, references, now)
    except InvalidFields as exc:
        errors.merge(exc)
        return None


def _references(raw: Mapping[str, Any], refs: _Refs, errors: FieldErrors) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for name, loaded in (("owner", refs.owners), ("contact", refs.contacts), ("company", refs.companies)):
        if name not in raw:
            continue
        value = raw[name]
        if value is None:
            found[name] = None
        elif value not in loaded:
            errors.add(name, "The owner must be a member of this workspace." if name == "owner"
                       else f"No such {name} in this workspace.")
        else:
            found[name] = loaded[value]
    return found


def _create(workspace: Workspace, index: int, raw: Mapping[str, Any], key: str, references: dict[str, Any],
            refs: _Refs, errors: FieldErrors, now: Any) -> _Item | None:
    pipeline = refs.pipelines.get(raw["pipeline"]) if raw.get("pipeline") is not None else refs.default_pipeline
    if pipeline is None:
        errors.add("pipeline", "No such pipeline in this workspace." if raw.get("pipeline") is not None
                   else "Create a pipeline first.")
        return None
    if raw.get("stage") is not None:
        stage = refs.stages.get(raw["stage"])
        if stage is None or stage.pipeline_id != pipeline.pk:
            errors.add("stage", "Choose a stage of the deal's pipeline.")
            return None
    else:
        stage = next(iter(pipeline.stages.all()), None)  # prefetched in board order
        if stage is None:
            errors.add("stage", "This pipeline has no stages.")
            return None
    values = _clean({"name": raw.get("name"), "value": raw.get("value"), "currency": raw.get("currency", "USD"),
                     "expected_close_date": raw.get("expected_close_date"), **{name: references.get(name)
                                                                              for name in REFERENCES}},
                    workspace=workspace)
    deal = Deal(workspace=workspace, pipeline=pipeline, stage=stage, external_id=key, created_at=now, updated_at=now,
                **values)
    _apply_status(deal, _status_for(stage.kind), lost_reason=raw.get("lost_reason") or None, now=now)
    return _Item(index=index, deal=deal, created=True)


def _update(workspace: Workspace, index: int, deal: Deal, raw: Mapping[str, Any], references: dict[str, Any], now: Any) -> _Item:
    changes = {name: raw[name] for name in raw if name in UPDATABLE_FIELDS and name not in REFERENCES}
    values = _clean({**changes, **references}, workspace=workspace)
    status = values.pop("status", None)
    before = snapshot(deal, DEAL_AUDIT_FIELDS)
    # Checked before anything is assigned, so a refused item leaves the loaded deal as it was.
    if status is not None or "lost_reason" in values:
        probe = Deal(status=deal.status, lost_reason=deal.lost_reason, closed_at=deal.closed_at)
        _apply_status(probe, status or deal.status, lost_reason=values.get("lost_reason"), now=now)
    for name, value in values.items():
        setattr(deal, name, value)
    if status is not None or "lost_reason" in values:
        _apply_status(deal, status or deal.status, lost_reason=values.get("lost_reason"), now=now)
    _, new = diff(before, snapshot(deal, DEAL_AUDIT_FIELDS))
    if new:
        deal.updated_at = now
    return _Item(index=index, deal=deal, created=False, before=before, changed=list(new))


def _history_and_timeline(workspace: Workspace, actor: Any, items: Sequence[_Item], now: Any) -> None:
    """A new deal's first stage-history row and its "created in" timeline entry, as ``deal_create`` writes them."""
    person = actor if getattr(actor, "is_authenticated", False) and not getattr(actor, "is_api_key", False) \
        and getattr(actor, "pk", None) is not None else None
    changed_by = actor.created_by if getattr(actor, "is_api_key", False) else person
    DealStageChange.objects.bulk_create([
        DealStageChange(deal=i.deal, to_stage=i.deal.stage, changed_by=changed_by, changed_at=now,
                        to_stage_name=i.deal.stage.name) for i in items])
    Activity.objects.bulk_create([
        Activity(workspace=workspace, kind=ActivityKind.STAGE_CHANGED, title=f"Deal created in {i.deal.stage.name}"[:255],
                 deal=i.deal, contact=i.deal.contact, company=i.deal.company, actor=person, occurred_at=now,
                 data={"deal": i.deal.pk, "to_stage": i.deal.stage_id}) for i in items])


def _audit(workspace: Workspace, actor: Any, items: Sequence[_Item]) -> None:
    entries: list[AuditEntry] = []
    for item in items:
        if item.created:
            entries.append(audit_entry_build(action="deal.created", actor=actor, workspace=workspace,
                                             target=item.deal, after=snapshot(item.deal, DEAL_AUDIT_FIELDS)))
        elif item.changed:
            old, new = diff(item.before or {}, snapshot(item.deal, DEAL_AUDIT_FIELDS))
            entries.append(audit_entry_build(action="deal.updated", actor=actor, workspace=workspace,
                                             target=item.deal, before=old, after=new))
    AuditEntry.objects.bulk_create(entries)
