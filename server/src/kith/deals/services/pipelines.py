"""Writes of pipelines and their stages. Each service is one transaction and writes its audit row."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Max

from kith.accounts.models import Workspace
from kith.contacts.errors import InvalidFields
from kith.core.audit import audit_record, diff, snapshot
from kith.core.errors import Conflict
from kith.deals.models import Deal, Pipeline, Stage, StageKind
from kith.deals.services.deals import deals_bulk_move

PIPELINE_AUDIT_FIELDS = ("name", "is_default", "position")
STAGE_AUDIT_FIELDS = ("pipeline", "name", "position", "win_probability", "kind")


@dataclass(frozen=True)
class StageSpec:
    name: str
    win_probability: int = 0
    kind: str = StageKind.OPEN


# What a new pipeline starts with when the caller names no stages: a common B2B sales funnel, editable afterwards.
DEFAULT_STAGES: tuple[StageSpec, ...] = (
    StageSpec("Qualification", 10),
    StageSpec("Needs analysis", 30),
    StageSpec("Proposal", 60),
    StageSpec("Negotiation", 80),
    StageSpec("Won", 100, StageKind.WON),
    StageSpec("Lost", 0, StageKind.LOST),
)


def _clean_name(value: Any, *, field: str = "name") -> str:
    name = str(value or "").strip()
    if not name:
        raise InvalidFields({field: ["Give a name."]})
    if len(name) > 100:
        raise InvalidFields({field: ["Use at most 100 characters."]})
    return name


def _clean_probability(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 100:
        raise InvalidFields({"win_probability": ["Give a whole number from 0 to 100."]})
    return value


def _clean_kind(value: Any) -> str:
    if value not in StageKind.values:
        raise InvalidFields({"kind": [f"Use one of: {', '.join(StageKind.values)}."]})
    return str(value)


def _save_pipeline(pipeline: Pipeline, **kwargs: Any) -> None:
    try:
        with transaction.atomic():
            pipeline.save(**kwargs)
    except IntegrityError as exc:
        raise InvalidFields({"name": ["A pipeline with this name exists."]}) from exc


def _clear_other_defaults(pipeline: Pipeline) -> None:
    Pipeline.objects.for_workspace(pipeline.workspace).filter(is_default=True).exclude(pk=pipeline.pk).update(
        is_default=False)


@transaction.atomic
def pipeline_create(
    *, workspace: Workspace, actor: Any, name: str, stages: Sequence[StageSpec] | None = None,
    is_default: bool = False,
) -> Pipeline:
    """Create a pipeline with ``stages`` (``DEFAULT_STAGES`` when ``None``). The workspace's first pipeline is its
    default; making another the default takes the flag from the previous one."""
    name = _clean_name(name)
    specs = DEFAULT_STAGES if stages is None else tuple(stages)
    if not specs:
        raise InvalidFields({"stages": ["A pipeline needs at least one stage."]})
    existing = Pipeline.objects.for_workspace(workspace)
    first = not existing.exists()
    position = (existing.aggregate(m=Max("position"))["m"] or 0) + (0 if first else 1)
    if is_default and not first:
        existing.filter(is_default=True).update(is_default=False)
    pipeline = Pipeline(workspace=workspace, name=name, is_default=is_default or first, position=position)
    _save_pipeline(pipeline)
    Stage.objects.bulk_create([
        Stage(pipeline=pipeline, name=_clean_name(spec.name), position=index,
              win_probability=_clean_probability(spec.win_probability), kind=_clean_kind(spec.kind))
        for index, spec in enumerate(specs)
    ])
    audit_record(action="pipeline.created", actor=actor, workspace=workspace, target=pipeline,
                 after=snapshot(pipeline, PIPELINE_AUDIT_FIELDS) | {"stages": [s.name for s in specs]})
    return pipeline


@transaction.atomic
def pipeline_update(*, pipeline: Pipeline, actor: Any, name: str | None = None,
                    is_default: bool | None = None) -> Pipeline:
    """Rename and/or make ``pipeline`` the default. Unsetting the only default is refused: the board needs one."""
    before = snapshot(pipeline, PIPELINE_AUDIT_FIELDS)
    if name is not None:
        pipeline.name = _clean_name(name)
    if is_default is True and not pipeline.is_default:
        _clear_other_defaults(pipeline)
        pipeline.is_default = True
    elif is_default is False and pipeline.is_default:
        raise InvalidFields({"is_default": ["Make another pipeline the default instead."]})
    old, new = diff(before, snapshot(pipeline, PIPELINE_AUDIT_FIELDS))
    if new:
        _save_pipeline(pipeline, update_fields=[*new, "updated_at"])
        audit_record(action="pipeline.updated", actor=actor, workspace=pipeline.workspace, target=pipeline,
                     before=old, after=new)
    return pipeline


@transaction.atomic
def pipeline_delete(*, pipeline: Pipeline, actor: Any) -> None:
    """Delete an empty pipeline and its stages. One holding deals is refused (deals are never deleted silently);
    the default passes its flag to the next pipeline."""
    if Deal.objects.filter(pipeline=pipeline).exists():
        raise Conflict("This pipeline has deals; move or delete them first.")
    audit_record(action="pipeline.deleted", actor=actor, workspace=pipeline.workspace, target=pipeline,
                 before=snapshot(pipeline, PIPELINE_AUDIT_FIELDS))
    was_default = pipeline.is_default
    workspace = pipeline.workspace
    pipeline.delete()
    if was_default:
        successor = Pipeline.objects.for_workspace(workspace).order_by("position", "id").first()
        if successor is not None:
            successor.is_default = True
            successor.save(update_fields=["is_default", "updated_at"])


@transaction.atomic
def stage_add(*, pipeline: Pipeline, actor: Any, name: str, win_probability: int = 0,
              kind: str = StageKind.OPEN) -> Stage:
    """Append a stage at the end of ``pipeline`` (reorder afterwards with ``stage_reorder``)."""
    last = pipeline.stages.aggregate(m=Max("position"))["m"]
    stage = Stage.objects.create(pipeline=pipeline, name=_clean_name(name), position=0 if last is None else last + 1,
                                 win_probability=_clean_probability(win_probability), kind=_clean_kind(kind))
    audit_record(action="stage.created", actor=actor, workspace=pipeline.workspace, target=stage,
                 after=snapshot(stage, STAGE_AUDIT_FIELDS))
    return stage


@transaction.atomic
def stage_update(*, stage: Stage, actor: Any, name: str | None = None, win_probability: int | None = None,
                 kind: str | None = None) -> Stage:
    """Rename a stage or change its probability or kind. Changing the kind does not reclassify deals already in
    it; their status changes when they next move."""
    before = snapshot(stage, STAGE_AUDIT_FIELDS)
    if name is not None:
        stage.name = _clean_name(name)
    if win_probability is not None:
        stage.win_probability = _clean_probability(win_probability)
    if kind is not None:
        stage.kind = _clean_kind(kind)
    old, new = diff(before, snapshot(stage, STAGE_AUDIT_FIELDS))
    if new:
        stage.save(update_fields=[*new, "updated_at"])
        audit_record(action="stage.updated", actor=actor, workspace=stage.pipeline.workspace, target=stage,
                     before=old, after=new)
    return stage


@transaction.atomic
def stage_reorder(*, pipeline: Pipeline, actor: Any, stage_ids: Sequence[int]) -> list[Stage]:
    """Put ``pipeline``'s stages in the order of ``stage_ids``, which must name each of them exactly once."""
    stages = {s.pk: s for s in Stage.objects.select_for_update().filter(pipeline=pipeline)}
    if sorted(stage_ids) != sorted(stages) or len(set(stage_ids)) != len(stage_ids):
        raise InvalidFields({"stages": ["List every stage of this pipeline exactly once."]})
    before = [s.pk for s in sorted(stages.values(), key=lambda s: (s.position, s.pk))]
    ordered = [stages[pk] for pk in stage_ids]
    for index, stage in enumerate(ordered):
        stage.position = index
    Stage.objects.bulk_update(ordered, ["position"])
    if before != list(stage_ids):
        audit_record(action="pipeline.stages_reordered", actor=actor, workspace=pipeline.workspace, target=pipeline,
                     before={"stages": before}, after={"stages": list(stage_ids)})
    return ordered


@transaction.atomic
def stage_delete(*, stage: Stage, actor: Any, move_deals_to: Stage | None = None) -> None:
    """Delete ``stage``. When it holds deals, ``move_deals_to`` (another stage of the same pipeline) must be given;
    they are moved there with one UPDATE and a stage-history row each. A pipeline keeps at least one stage."""
    pipeline = stage.pipeline
    if pipeline.stages.count() <= 1:
        raise Conflict("A pipeline needs at least one stage.")
    has_deals = Deal.objects.filter(stage=stage).exists()
    if has_deals:
        if move_deals_to is None:
            raise Conflict("This stage has deals; choose a stage to move them to.")
        if move_deals_to.pipeline_id != pipeline.pk or move_deals_to.pk == stage.pk:
            raise InvalidFields({"move_deals_to": ["Choose another stage of the same pipeline."]})
        deals_bulk_move(stage=stage, to=move_deals_to, actor=actor)
    audit_record(action="stage.deleted", actor=actor, workspace=pipeline.workspace, target=stage,
                 before=snapshot(stage, STAGE_AUDIT_FIELDS))
    stage.delete()
