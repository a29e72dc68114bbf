"""Writes of tracking: the switches, and the aggregation job that folds hits into engagement facts."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from kith.core.audit import audit_record, snapshot
from kith.tracking.models import MessageTrackingOptions, TrackingSettings


@transaction.atomic
def tracking_settings_update(*, workspace: Any, actor: Any, track_opens: bool, track_clicks: bool) -> TrackingSettings:
    """Turn open or click tracking on or off for every message the workspace sends from now on (messages already
    sent keep their pixel and links)."""
    row, _ = TrackingSettings.objects.select_for_update().get_or_create(workspace=workspace)
    before = snapshot(row, ["track_opens", "track_clicks"])
    if (row.track_opens, row.track_clicks) != (track_opens, track_clicks):
        row.track_opens, row.track_clicks = track_opens, track_clicks
        row.save(update_fields=["track_opens", "track_clicks", "updated_at"])
        audit_record(action="tracking.settings_updated", actor=actor, workspace=workspace, target=row,
                     target_label="Tracking", before=before, after=snapshot(row, ["track_opens", "track_clicks"]))
    return row


def message_tracking_options_set(*, message: Any, track_opens: bool, track_clicks: bool) -> None:
    """Record a per-message opt-out. Call it in the transaction that queues the message, so the sender (which runs
    after commit) sees it. Nothing is written when both are on: that is the default."""
    if track_opens and track_clicks:
        return
    MessageTrackingOptions.objects.update_or_create(
        message=message, defaults={"track_opens": track_opens, "track_clicks": track_clicks})
