"""Pipelines with ordered stages, deals moving through them, and each deal's stage history."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q

from kith.core.models import TimeStampedModel, WorkspaceOwnedModel


class StageKind(models.TextChoices):
    OPEN = "open", "Open"
    WON = "won", "Won"
    LOST = "lost", "Lost"


class DealStatus(models.TextChoices):
    OPEN = "open", "Open"
    WON = "won", "Won"
    LOST = "lost", "Lost"


class Pipeline(WorkspaceOwnedModel):
    name = models.CharField(max_length=100)
    is_default = models.BooleanField(default=False)
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["workspace", "name"], name="pipeline_unique_name"),
            # At most one default per workspace: the board opens on it and new deals land in it.
            models.UniqueConstraint(fields=["workspace"], condition=Q(is_default=True),
                                    name="pipeline_one_default"),
        ]

    def __str__(self) -> str:
        return self.name


class Stage(TimeStampedModel):
    """A column of a pipeline. Stages belong to a workspace through their pipeline."""

    pipeline = models.ForeignKey(Pipeline, on_delete=models.CASCADE, related_name="stages")
    name = models.CharField(max_length=100)
    position = models.PositiveIntegerField(default=0)
    win_probability = models.PositiveSmallIntegerField(
        default=0, validators=[MinValueValidator(0), MaxValueValidator(100)]
    )
    kind = models.CharField(max_length=10, choices=StageKind.choices, default=StageKind.OPEN)

    class Meta:
        ordering = ["position", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(win_probability__lte=100), name="stage_probability_max_100"),
        ]
        # Stages are always read as "this pipeline's columns in order".
        indexes = [models.Index(fields=["pipeline", "position"], name="stage_pipeline_pos_idx")]

    def __str__(self) -> str:
        return self.name


class Deal(WorkspaceOwnedModel):
    pipeline = models.ForeignKey(Pipeline, on_delete=models.PROTECT, related_name="deals")
    stage = models.ForeignKey(Stage, on_delete=models.PROTECT, related_name="deals")
    name = models.CharField(max_length=255)
    value = models.DecimalField(max_digits=14, decimal_places=2, default=Decimal(0))
    currency = models.CharField(max_length=3, default="USD")
    expected_close_date = models.DateField(null=True, blank=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    contact = models.ForeignKey("contacts.Contact", null=True, blank=True, on_delete=models.SET_NULL,
                                related_name="deals")
    company = models.ForeignKey("contacts.Company", null=True, blank=True, on_delete=models.SET_NULL,
                                related_name="deals")
    status = models.CharField(max_length=10, choices=DealStatus.choices, default=DealStatus.OPEN)
    lost_reason = models.CharField(max_length=255, blank=True)
    # Order of the card within its stage column; gaps are allowed, ties fall back to id.
    position = models.IntegerField(default=0)
    closed_at = models.DateTimeField(null=True, blank=True)
    # The id the deal has in another system (imports, crmify); upsert matches on it when given.
    external_id = models.CharField(max_length=255, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["workspace", "external_id"], condition=~Q(external_id=""),
                                    name="deal_unique_external_id"),
            models.CheckConstraint(condition=Q(value__gte=0), name="deal_value_not_negative"),
            # A closed deal carries the time it closed; an open one does not.
            models.CheckConstraint(
                condition=(Q(status="open", closed_at__isnull=True) | (~Q(status="open") & Q(closed_at__isnull=False))),
                name="deal_closed_at_matches_status",
            ),
        ]
        indexes = [
            # The Kanban board: one pipeline's open deals, grouped by stage, in card order — and the per-stage
            # count/sum aggregate over the same rows.
            models.Index(fields=["pipeline", "status", "stage", "position"], name="deal_board_idx"),
            # The list/API default order and cursor pagination within a workspace.
            models.Index(fields=["workspace", "id"], name="deal_ws_id_idx"),
            # A rep limited to their own deals, and the ?owner= filter.
            models.Index(fields=["workspace", "owner", "id"], name="deal_ws_owner_idx"),
            # "Closing this month" filters on the board and list.
            models.Index(fields=["workspace", "expected_close_date"], name="deal_ws_close_idx"),
        ]

    def __str__(self) -> str:
        return self.name


class DealStageChange(models.Model):
    """One move of a deal between stages (the first row, with no ``from_stage``, is its creation)."""

    deal = models.ForeignKey(Deal, on_delete=models.CASCADE, related_name="stage_changes")
    from_stage = models.ForeignKey(Stage, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    to_stage = models.ForeignKey(Stage, null=True, on_delete=models.SET_NULL, related_name="+")
    changed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    # Names as they were, so the history still reads after a stage is renamed or deleted.
    from_stage_name = models.CharField(max_length=100, blank=True)
    to_stage_name = models.CharField(max_length=100, blank=True)
    changed_at = models.DateTimeField()

    class Meta:
        # The deal page lists its history newest first.
        indexes = [models.Index(fields=["deal", "-changed_at"], name="stagechange_deal_time_idx")]

    def __str__(self) -> str:
        return f"{self.deal_id}: {self.from_stage_id} → {self.to_stage_id}"
