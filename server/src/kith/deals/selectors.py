"""Reads of pipelines, stages and deals.

Deals follow the contacts rule (``kith.contacts.selectors.sees_only_own``): a member limited to their own records
sees only the deals they own. Pipelines and stages are the workspace's shared structure: every member sees them.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import Count, F, Max, Prefetch, Q, QuerySet, Sum, Window
from django.db.models.functions import RowNumber

from kith.accounts.models import Membership, User, Workspace
from kith.contacts.selectors import sees_only_own
from kith.core.errors import NotFound
from kith.deals.models import (
    Deal,
    DealStageChange,
    DealStatus,
    Pipeline,
    Stage,
    StageKind,
)
from kith.timeline.models import Activity

# A column shows at most this many cards: beyond a screenful or two, scrolling a column stops being useful and the list view
# (paginated, same filters) is the better tool. Counts and totals in the column header still cover every deal.
BOARD_CARDS_PER_COLUMN = 50


def pipeline_list(*, workspace: Workspace) -> QuerySet[Pipeline]:
    """The workspace's pipelines in board order, each with its stages prefetched (one more query)."""
    return (Pipeline.objects.for_workspace(workspace)
            .prefetch_related(Prefetch("stages", queryset=Stage.objects.order_by("position", "id")))
            .order_by("position", "id"))


def pipeline_get(*, workspace: Workspace, pipeline_id: int) -> Pipeline:
    pipeline = pipeline_list(workspace=workspace).filter(pk=pipeline_id).first()
    if pipeline is None:
        raise NotFound("No such pipeline.")
    return pipeline


def pipeline_default(*, workspace: Workspace) -> Pipeline | None:
    """The default pipeline, else the first one; ``None`` when the workspace has none."""
    return pipeline_list(workspace=workspace).order_by("-is_default", "position", "id").first()


def stage_list(*, workspace: Workspace) -> QuerySet[Stage]:
    return Stage.objects.filter(pipeline__workspace=workspace).select_related("pipeline").order_by(
        "pipeline__position", "pipeline_id", "position", "id")


def stage_get(*, workspace: Workspace, stage_id: int) -> Stage:
    stage = stage_list(workspace=workspace).filter(pk=stage_id).first()
    if stage is None:
        raise NotFound("No such stage.")
    return stage


def deal_list(*, workspace: Workspace, membership: Membership | None) -> QuerySet[Deal]:
    """The deals ``membership`` may see, newest first, with what a list or card shows joined in (one query)."""
    queryset = (Deal.objects.for_workspace(workspace)
                .select_related("pipeline", "stage", "owner", "contact", "company")
                .order_by("-id"))
    if sees_only_own(membership):
        assert membership is not None
        queryset = queryset.filter(owner_id=membership.user_id)
    return queryset


def deal_get(*, workspace: Workspace, membership: Membership | None, deal_id: int) -> Deal:
    deal = deal_list(workspace=workspace, membership=membership).filter(pk=deal_id).first()
    if deal is None:
        raise NotFound("No such deal.")
    return deal


def deal_stage_history(*, deal: Deal) -> QuerySet[DealStageChange]:
    return deal.stage_changes.select_related("changed_by").order_by("-changed_at", "-id")


def deal_activities(*, deal: Deal, limit: int = 50) -> list[Activity]:
    return list(Activity.objects.filter(deal=deal).select_related("actor").order_by("-occurred_at", "-id")[:limit])


@dataclass
class BoardColumn:
    stage: Stage
    deals: list[Deal] = field(default_factory=list)
    count: int = 0
    totals: dict[str, Decimal] = field(default_factory=dict)  # currency → sum; values are never mixed

    @property
    def hidden(self) -> int:
        return self.count - len(self.deals)


def _board_filter(*, pipeline: Pipeline, membership: Membership | None, owner_id: int | None,
                  close_from: dt.date | None, close_to: dt.date | None) -> Q:
    # Open columns hold open deals; a deal closed explicitly while in an open stage leaves the board.
    condition = Q(pipeline=pipeline) & (Q(status=DealStatus.OPEN) | ~Q(stage__kind=StageKind.OPEN))
    if sees_only_own(membership):
        assert membership is not None
        condition &= Q(owner_id=membership.user_id)
    if owner_id is not None:
        condition &= Q(owner_id=owner_id)
    if close_from is not None:
        condition &= Q(expected_close_date__gte=close_from)
    if close_to is not None:
        condition &= Q(expected_close_date__lte=close_to)
    return condition


def deal_board(
    *,
    workspace: Workspace,
    membership: Membership | None,
    pipeline: Pipeline,
    owner_id: int | None = None,
    close_from: dt.date | None = None,
    close_to: dt.date | None = None,
) -> list[BoardColumn]:
    """The Kanban columns of ``pipeline`` in three queries whatever the number of deals: its stages (prefetched on
    ``pipeline`` when it came from ``pipeline_list``), one aggregate of count and value per (stage, currency), and one
    read of the first ``BOARD_CARDS_PER_COLUMN`` cards of every column (a window function numbers the cards per
    stage, so the per-column limit needs no query per column)."""
    condition = _board_filter(pipeline=pipeline, membership=membership, owner_id=owner_id,
                              close_from=close_from, close_to=close_to)
    base = Deal.objects.for_workspace(workspace).filter(condition)
    columns = {stage.pk: BoardColumn(stage=stage) for stage in pipeline.stages.all()}
    for row in base.order_by().values("stage_id", "currency").annotate(n=Count("id"), total=Sum("value")):
        column = columns.get(row["stage_id"])
        if column is not None:
            column.count += row["n"]
            column.totals[row["currency"]] = row["total"] or Decimal(0)
    ranked = (base.select_related("owner", "contact", "company")
              .annotate(rank=Window(RowNumber(), partition_by=[F("stage_id")], order_by=[F("position"), F("id")]))
              .filter(rank__lte=BOARD_CARDS_PER_COLUMN)
              .order_by("stage_id", "position", "id"))
    for deal in ranked:
        column = columns.get(deal.stage_id)
        if column is not None:
            column.deals.append(deal)
    return list(columns.values())


def board_version(*, workspace: Workspace, membership: Membership | None, pipeline: Pipeline) -> str:
    """A short fingerprint of what ``membership`` sees of ``pipeline``'s board: it changes when a visible deal is
    created, moved, edited or deleted, or a stage changes. Open boards poll it (two small aggregates) and re-read
    the board only when it moved, so a deal moved on one screen moves on the others within seconds."""
    deals = (deal_list(workspace=workspace, membership=membership).filter(pipeline=pipeline).order_by()
             .aggregate(n=Count("id"), latest=Max("updated_at")))
    stages = pipeline.stages.order_by().aggregate(n=Count("id"), latest=Max("updated_at"))
    parts = [deals["n"], deals["latest"], stages["n"], stages["latest"]]
    return hashlib.blake2s(repr(parts).encode(), digest_size=8).hexdigest()


def deal_owner_choices(*, workspace: Workspace) -> list[tuple[int, str]]:
    """Members who may own deals, for owner pickers and filters."""
    rows = (Membership.objects.filter(workspace=workspace).select_related("user")
            .order_by("user__full_name", "user__email"))
    return [(m.user_id, m.user.full_name or m.user.email) for m in rows]


def deal_owner_get(*, workspace: Workspace, user_id: int | None) -> User | None:
    """The member ``user_id`` as a possible owner; ``None`` when not given; ``NotFound`` when not a member."""
    if user_id is None:
        return None
    member = Membership.objects.select_related("user").filter(workspace=workspace, user_id=user_id).first()
    if member is None:
        raise NotFound("No such member.")
    return member.user
