"""The workspace's tracking switches (a card on the workspace settings page, posting here)."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_POST

from kith.tracking import services
from kith.tracking.forms import TrackingSettingsForm
from kith.web.views.base import MemberRequest, admin_required


@require_POST
@admin_required
def tracking_settings(request: MemberRequest) -> HttpResponse:
    # Unchecked boxes are absent from the POST: the form reads them as False, which is what the user chose.
    form = TrackingSettingsForm(request.POST)
    form.is_valid()  # two booleans: every POST is valid
    services.tracking_settings_update(workspace=request.workspace, actor=request.user,
                                      track_opens=form.cleaned_data["track_opens"],
                                      track_clicks=form.cleaned_data["track_clicks"])
    messages.success(request, "Tracking settings saved.")
    return redirect("web:workspace_settings")
