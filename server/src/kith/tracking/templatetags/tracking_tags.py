"""``{% tracking_settings_card %}``: the tracking card of the workspace settings page, with its own data."""

from __future__ import annotations

from typing import Any

from django import template

from kith.tracking.forms import TrackingSettingsForm
from kith.tracking.selectors import tracking_settings_get

register = template.Library()


@register.inclusion_tag("tracking/settings_card.html", takes_context=True)
def tracking_settings_card(context: template.Context) -> dict[str, Any]:
    request = context["request"]
    current = tracking_settings_get(workspace=request.workspace)
    form = TrackingSettingsForm(initial={"track_opens": current.track_opens, "track_clicks": current.track_clicks})
    return {"form": form, "csrf_token": context.get("csrf_token"), "request": request}
