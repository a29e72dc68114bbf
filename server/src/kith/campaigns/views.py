"""Campaign pages: the list, the draft editor, and the campaign page with its live progress bar (HTMX polls
``campaign_progress`` every two seconds while sending) and the report; CSV export of the recipients."""

from __future__ import annotations

import datetime as dt

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods

from kith.campaigns import selectors, services
from kith.campaigns.forms import CampaignForm, ScheduleForm
from kith.campaigns.models import Campaign, CampaignStatus
from kith.core.errors import KithError
from kith.core.exports import ExportFormat, export_response
from kith.messaging.models import MessageStatus
from kith.web.forms import add_domain_error
from kith.web.views.base import (
    MemberRequest,
    member_object_view,
    member_required,
    posted,
    render_confirm,
)

RECIPIENTS_SHOWN = 100


def _require_writer(request: MemberRequest) -> None:
    if not request.membership.can_write:
        raise PermissionDenied("Viewers can look at campaigns but not change them.")


@member_required
@require_GET
def campaign_list(request: MemberRequest) -> HttpResponse:
    campaigns = selectors.campaign_list(workspace=request.workspace)[:500]
    return render(request, "campaigns/campaign_list.html", {"campaigns": campaigns})


@member_required
def campaign_create(request: MemberRequest) -> HttpResponse:
    if request.method == "POST":
        _require_writer(request)
    return _editor(request, None)


@member_object_view
def campaign_edit(request: MemberRequest, pk: int) -> HttpResponse:
    campaign = selectors.campaign_get(workspace=request.workspace, campaign_id=pk)
    if request.method == "POST":
        _require_writer(request)
    if not campaign.is_draft:
        messages.info(request, "Only a draft can be changed.")
        return redirect("campaigns:detail", pk=campaign.pk)
    return _editor(request, campaign)


def _editor(request: MemberRequest, campaign: Campaign | None) -> HttpResponse:
    initial = CampaignForm.initial_for(campaign) if campaign else {}
    form = CampaignForm(posted(request), initial=initial, workspace=request.workspace)
    if request.method == "POST" and form.is_valid():
        try:
            if campaign is None:
                campaign = services.campaign_create(workspace=request.workspace, actor=request.user,
                                                    data=form.service_data())
            else:
                services.campaign_update(campaign=campaign, actor=request.user, data=form.service_data())
        except KithError as exc:
            add_domain_error(form, exc)
        else:
            messages.success(request, f"Campaign “{campaign.name}” saved.")
            return redirect("campaigns:detail", pk=campaign.pk)
    status = 400 if form.is_bound and form.errors else 200
    return render(request, "campaigns/campaign_form.html", {"form": form, "campaign": campaign}, status=status)


@member_object_view
@require_GET
def campaign_detail(request: MemberRequest, pk: int) -> HttpResponse:
    campaign = selectors.campaign_get(workspace=request.workspace, campaign_id=pk)
    return render(request, "campaigns/campaign_detail.html", _detail_context(request, campaign, ScheduleForm()))


def _detail_context(request: MemberRequest, campaign: Campaign, schedule_form: ScheduleForm) -> dict[str, object]:
    report = selectors.campaign_report(campaign=campaign)
    wanted = request.GET.get("status", "")
    wanted = wanted if wanted in MessageStatus.values else ""
    return {
        "campaign": campaign, "progress": selectors.campaign_progress(campaign=campaign), "report": report,
        "chart": selectors.chart_svg_points(report.chart), "schedule_form": schedule_form,
        "recipients": selectors.recipient_list(campaign=campaign, status=wanted)[:RECIPIENTS_SHOWN],
        "status_filter": wanted, "statuses": MessageStatus.choices,
        "segments": campaign.segments.all(), "exclusions": campaign.exclusion_segments.all(),
        "polling": campaign.status in (CampaignStatus.SENDING, CampaignStatus.SCHEDULED),
    }


@member_object_view
@require_GET
def campaign_progress(request: MemberRequest, pk: int) -> HttpResponse:
    """The polled fragment; it stops polling (no hx-trigger) once the campaign is no longer sending."""
    campaign = selectors.campaign_get(workspace=request.workspace, campaign_id=pk)
    return render(request, "campaigns/_progress.html", {
        "campaign": campaign, "progress": selectors.campaign_progress(campaign=campaign),
        "polling": campaign.status in (CampaignStatus.SENDING, CampaignStatus.SCHEDULED)})


@member_object_view
@require_http_methods(["GET", "POST"])
def campaign_schedule(request: MemberRequest, pk: int) -> HttpResponse:
    campaign = selectors.campaign_get(workspace=request.workspace, campaign_id=pk)
    if request.method == "GET":  # the schedule form lives on the campaign page
        return render(request, "campaigns/campaign_detail.html", _detail_context(request, campaign, ScheduleForm()))
    _require_writer(request)
    form = ScheduleForm(request.POST)
    if form.is_valid():
        data = dict(form.cleaned_data)
        if data.get("send_at") is not None and timezone.is_naive(data["send_at"]):
            data["send_at"] = data["send_at"].replace(tzinfo=dt.UTC)
        try:
            services.campaign_schedule(campaign=campaign, actor=request.user, data=data)
        except KithError as exc:
            add_domain_error(form, exc)
        else:
            messages.success(request, "Sending started." if data["schedule_kind"] == "now" else "Scheduled.")
            return redirect("campaigns:detail", pk=campaign.pk)
    return render(request, "campaigns/campaign_detail.html", _detail_context(request, campaign, form), status=400)


def _state_view(service_name: str, done: str, question: str):  # type: ignore[no-untyped-def]
    @member_object_view
    @require_http_methods(["GET", "POST"])
    def view(request: MemberRequest, pk: int) -> HttpResponse:
        campaign = selectors.campaign_get(workspace=request.workspace, campaign_id=pk)
        if request.method == "GET":  # without JavaScript the buttons' confirmation step is a page
            return render_confirm(request, title=question, message=f"Campaign “{campaign.name}”.",
                                  confirm_label=question.rstrip("?"),
                                  cancel_url=reverse("campaigns:detail", args=[campaign.pk]),
                                  tone="danger" if service_name == "campaign_cancel" else "primary")
        _require_writer(request)
        try:
            getattr(services, service_name)(campaign=campaign, actor=request.user)
        except KithError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, done)
        return redirect("campaigns:detail", pk=campaign.pk)

    view.__name__ = service_name
    return view


campaign_pause = _state_view("campaign_pause", "Paused.", "Pause sending?")
campaign_resume = _state_view("campaign_resume", "Sending resumed.", "Resume sending?")
campaign_cancel = _state_view("campaign_cancel", "Cancelled.", "Cancel this campaign for good?")
campaign_unschedule = _state_view("campaign_unschedule", "Back to draft.", "Put back to draft?")


@member_object_view
@require_GET
def campaign_export(request: MemberRequest, pk: int) -> HttpResponse:
    campaign = selectors.campaign_get(workspace=request.workspace, campaign_id=pk)
    rows = selectors.recipient_list(campaign=campaign)
    filename = f"campaign-{campaign.pk}-recipients-{timezone.now():%Y%m%d-%H%M%S}"
    return export_response(rows, selectors.recipient_export_columns(), export_format=ExportFormat.CSV,  # type: ignore[return-value]
                           filename=filename)
