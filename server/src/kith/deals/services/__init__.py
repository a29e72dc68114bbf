"""Writes of the deals app; import them from here. Every service is one transaction, takes keyword-only arguments
and writes its audit row; domain errors are ``InvalidFields`` (400, naming the field) or ``Conflict`` (409)."""

from kith.deals.services.bulk import deal_bulk_write
from kith.deals.services.conversion import lead_convert
from kith.deals.services.deals import (
    deal_create,
    deal_delete,
    deal_move_to_stage,
    deal_update,
    deals_bulk_move,
)
from kith.deals.services.pipelines import (
    DEFAULT_STAGES,
    StageSpec,
    pipeline_create,
    pipeline_delete,
    pipeline_update,
    stage_add,
    stage_delete,
    stage_reorder,
    stage_update,
)

__all__ = [
    "DEFAULT_STAGES",
    "StageSpec",
    "deal_bulk_write",
    "deal_create",
    "deal_delete",
    "deal_move_to_stage",
    "deal_update",
    "deals_bulk_move",
    "lead_convert",
    "pipeline_create",
    "pipeline_delete",
    "pipeline_update",
    "stage_add",
    "stage_delete",
    "stage_reorder",
    "stage_update",
]
