"""Reads of tracking: the switches in force for one message, and engagement statistics with machines left out."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import Count, Q, QuerySet, Sum

from kith.tracking.models import (
    MessageEngagement,
    MessageTrackingOptions,
    TrackingSettings,
)


@dataclass(frozen=True)
class TrackingPolicy:
    opens: bool
    clicks: bool


def tracking_settings_get(*, workspace: Any) -> TrackingSettings:
    """The workspace's switches (an unsaved all-on row when it never changed them)."""
    found = TrackingSettings.objects.filter(workspace=workspace).first()
    return found if found is not None else TrackingSettings(workspace=workspace)


def tracking_policy(*, workspace: Any, message_id: int) -> TrackingPolicy:
    """What may be tracked in one message: on only when both the workspace and the message allow it."""
    workspace_row = TrackingSettings.objects.filter(workspace=workspace).values_list(
        "track_opens", "track_clicks").first() or (True, True)
    message_row = MessageTrackingOptions.objects.filter(message_id=message_id).values_list(
        "track_opens", "track_clicks").first() or (True, True)
    return TrackingPolicy(opens=workspace_row[0] and message_row[0], clicks=workspace_row[1] and message_row[1])


@dataclass(frozen=True)
class EngagementStats:
    """Unique counts are of messages; machine opens and clicks are reported, never counted as people's."""

    unique_opens: int
    unique_clicks: int
    opens: int
    clicks: int
    machine_opens: int
    machine_clicks: int


def engagement_stats(*, messages: QuerySet[Any]) -> EngagementStats:
    """Statistics over ``messages`` (a queryset of ``messaging.Message``, already limited to one workspace)."""
    totals = MessageEngagement.objects.filter(message__in=messages.values("pk")).aggregate(
        unique_opens=Count("pk", filter=Q(first_open_at__isnull=False)),
        unique_clicks=Count("pk", filter=Q(first_click_at__isnull=False)),
        opens=Sum("opens"), clicks=Sum("clicks"), machine_opens=Sum("machine_opens"),
        machine_clicks=Sum("machine_clicks"))
    return EngagementStats(**{name: value or 0 for name, value in totals.items()})
