"""Writes of campaigns: drafts, and the state machine (draft → scheduled → sending → sent; paused; cancelled).

Every transition is one conditional UPDATE from the states ``TRANSITIONS`` allows, so two people (or a person and
a worker) acting at once cannot both win; the loser gets a ``Conflict`` (409). Starting, resuming and the A/B
decision ring the senders with ``enqueue_on_commit``; the rows stay the truth (``campaigns_due_sweep`` re-rings).
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Mapping
from typing import Any

from django.db import transaction

from kith.accounts.models import Workspace
from kith.campaigns.models import (
    TRANSITIONS,
    AbMetric,
    Campaign,
    CampaignStatus,
    CampaignVariant,
    ScheduleKind,
)
from kith.campaigns.sending import senders_ring
from kith.campaigns.starting import campaign_start_task
from kith.core import clock
from kith.core.audit import audit_record, snapshot
from kith.core.errors import Conflict, KithError, NotFound
from kith.core.jobs import enqueue_on_commit
from kith.messaging.models import Channel, Message, MessageStatus, SourceType, Template
from kith.preferences.models import Topic
from kith.segments.models import Segment

MAX_NAME_LENGTH = 200
MAX_THROTTLE = 1_000_000
MAX_VARIANTS = 5
AUDITED = ("name", "status", "schedule_kind", "send_at", "throttle_per_minute", "ab_enabled")
SIMPLE_FIELDS = ("from_name", "from_email", "reply_to", "track_opens", "track_clicks", "throttle_per_minute",
                 "ab_enabled", "ab_sample_percent", "ab_metric", "ab_wait_minutes")


def _workspace_object(model: Any, workspace: Workspace, pk: Any, field: str) -> Any:
    if not isinstance(pk, int) or isinstance(pk, bool):
        raise KithError("Give an id.", field=field)
    found = model.objects.filter(workspace=workspace, pk=pk).first()
    if found is None:
        raise NotFound(f"No such {field.rstrip('s').replace('_', ' ')}.", field=field)
    return found


def _template(workspace: Workspace, pk: Any, field: str = "template") -> Template:
    template = _workspace_object(Template, workspace, pk, field)
    if template.channel != Channel.EMAIL:
        raise KithError("Campaigns send e-mail: choose an e-mail template.", field=field)
    if template.current_version_id is None:
        raise KithError("This template has no content yet.", field=field)
    return template


def _segments(workspace: Workspace, ids: Any, field: str) -> list[Segment]:
    if not isinstance(ids, list | tuple):
        raise KithError("Give a list of segment ids.", field=field)
    return [_workspace_object(Segment, workspace, pk, field) for pk in dict.fromkeys(ids)]


def _clean(campaign: Campaign, data: Mapping[str, Any]) -> dict[str, Any]:
    """Apply ``data`` to ``campaign`` (unsaved) and return the related lists to write after the save."""
    workspace = campaign.workspace
    related: dict[str, Any] = {}
    if "name" in data:
        name = data["name"]
        if not isinstance(name, str) or not name.strip() or len(name.strip()) > MAX_NAME_LENGTH or "\x00" in name:
            raise KithError(f"Give a name of 1 to {MAX_NAME_LENGTH} characters.", field="name")
        campaign.name = name.strip()
    if "template" in data:
        campaign.template = _template(workspace, data["template"])
    if "segments" in data:
        related["segments"] = _segments(workspace, data["segments"], "segments")
    if "exclusion_segments" in data:
        related["exclusion_segments"] = _segments(workspace, data["exclusion_segments"], "exclusion_segments")
    if "topic" in data:
        topic = None if data["topic"] is None else _workspace_object(Topic, workspace, data["topic"], "topic")
        if topic is not None and topic.is_archived:
            raise KithError("This topic is archived.", field="topic")
        campaign.topic = topic
    for name in SIMPLE_FIELDS:
        if name in data:
            setattr(campaign, name, data[name])
    if campaign.throttle_per_minute is None or not 0 <= int(campaign.throttle_per_minute) <= MAX_THROTTLE:
        raise KithError(f"Give 0 (no limit) to {MAX_THROTTLE:,} messages per minute.", field="throttle_per_minute")
    if not 1 <= int(campaign.ab_sample_percent) <= 50:
        raise KithError("Test the variants on 1 to 50 % of the audience.", field="ab_sample_percent")
    if not 1 <= int(campaign.ab_wait_minutes) <= 60 * 24 * 7:
        raise KithError("Wait 1 minute to 7 days for the result.", field="ab_wait_minutes")
    if campaign.ab_metric not in AbMetric.values:
        raise KithError(f"Use one of: {', '.join(AbMetric.values)}.", field="ab_metric")
    if "variants" in data:
        related["variants"] = _variants(workspace, data["variants"])
    _clean_schedule(campaign, data)
    return related


def _variants(workspace: Workspace, items: Any) -> list[dict[str, Any]]:
    if not isinstance(items, list) or len(items) > MAX_VARIANTS:
        raise KithError(f"Give a list of up to {MAX_VARIANTS} variants.", field="variants")
    cleaned = []
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            raise KithError("Each variant is an object with a subject and/or a template.", field="variants")
        subject = item.get("subject", "")
        if not isinstance(subject, str) or len(subject) > 998 or "\x00" in subject:
            raise KithError("A variant's subject is text of at most 998 characters.", field="variants")
        template = item.get("template")
        cleaned.append({"label": chr(ord("A") + index), "subject": subject.strip(),
                        "template": None if template is None else _template(workspace, template, "variants")})
    return cleaned


def _clean_schedule(campaign: Campaign, data: Mapping[str, Any]) -> None:
    if "schedule_kind" in data:
        if data["schedule_kind"] not in ScheduleKind.values:
            raise KithError(f"Use one of: {', '.join(ScheduleKind.values)}.", field="schedule_kind")
        campaign.schedule_kind = data["schedule_kind"]
    for name in ("send_at", "local_date", "local_time"):
        if name in data:
            setattr(campaign, name, data[name])


def _schedule_check(campaign: Campaign) -> dt.datetime:
    """When sending starts; refuses a schedule that cannot run (a past time, a missing date)."""
    now = clock.now()
    if campaign.schedule_kind == ScheduleKind.NOW:
        return now
    if campaign.schedule_kind == ScheduleKind.AT:
        if campaign.send_at is None:
            raise KithError("Give the time to send at.", field="send_at")
        if campaign.send_at < now - dt.timedelta(minutes=1):
            raise KithError("This time has passed.", field="send_at")
        return campaign.send_at
    if campaign.local_date is None or campaign.local_time is None:
        raise KithError("Give the date and the local time to send at.", field="local_date")
    start = local_time_start(campaign.local_date, campaign.local_time)
    if local_time_end(campaign.local_date, campaign.local_time) < now:
        raise KithError("This date has passed in every timezone.", field="local_date")
    return start


# The first and the last timezones to reach a wall-clock time (UTC+14 and UTC-12).
_EARLIEST, _LATEST = zoneinfo.ZoneInfo("Etc/GMT-14"), zoneinfo.ZoneInfo("Etc/GMT+12")


def local_time_start(day: dt.date, time: dt.time) -> dt.datetime:
    return dt.datetime.combine(day, time, tzinfo=_EARLIEST)


def local_time_end(day: dt.date, time: dt.time) -> dt.datetime:
    return dt.datetime.combine(day, time, tzinfo=_LATEST)


def _write_related(campaign: Campaign, related: Mapping[str, Any]) -> None:
    if "segments" in related:
        campaign.segments.set(related["segments"])
    if "exclusion_segments" in related:
        campaign.exclusion_segments.set(related["exclusion_segments"])
    if "variants" in related:
        campaign.variants.all().delete()
        CampaignVariant.objects.bulk_create([CampaignVariant(campaign=campaign, **item)
                                             for item in related["variants"]])


@transaction.atomic
def campaign_create(*, workspace: Workspace, actor: Any, data: Mapping[str, Any]) -> Campaign:
    """Create a draft. ``name`` and ``template`` are required; everything else has a default."""
    missing = [name for name in ("name", "template") if name not in data]
    if missing:
        raise KithError("This field is required.", field=missing[0])
    campaign = Campaign(workspace=workspace, created_by=actor if getattr(actor, "is_authenticated", False) else None)
    related = _clean(campaign, data)
    campaign.save()
    _write_related(campaign, related)
    audit_record(action="campaign.created", actor=actor, workspace=workspace, target=campaign,
                 after=snapshot(campaign, AUDITED))
    return campaign


@transaction.atomic
def campaign_update(*, campaign: Campaign, actor: Any, data: Mapping[str, Any]) -> Campaign:
    """Change a draft (a scheduled campaign goes back to draft first: ``campaign_unschedule``)."""
    locked = Campaign.objects.select_for_update().get(pk=campaign.pk)
    if locked.status != CampaignStatus.DRAFT:
        raise Conflict(f"Only a draft can be changed; this campaign is {locked.get_status_display().lower()}.",
                       field="status")
    before = snapshot(locked, AUDITED)
    related = _clean(locked, data)
    locked.save()
    _write_related(locked, related)
    audit_record(action="campaign.updated", actor=actor, workspace=locked.workspace, target=locked, before=before,
                 after=snapshot(locked, AUDITED))
    return locked


def _transition(campaign: Campaign, *, to: str, **fields: Any) -> Campaign:
    """Move ``campaign`` to ``to`` with one conditional UPDATE from the states that may reach it."""
    sources = [state for state, targets in TRANSITIONS.items() if to in targets]
    updated = Campaign.objects.filter(pk=campaign.pk, status__in=sources).update(status=to, updated_at=clock.now(),
                                                                                  **fields)
    if updated != 1:
        current = Campaign.objects.values_list("status", flat=True).get(pk=campaign.pk)
        raise Conflict(f"A {CampaignStatus(current).label.lower()} campaign cannot become "
                       f"{CampaignStatus(to).label.lower()}.", field="status")
    campaign.refresh_from_db()
    return campaign


def _ready_check(campaign: Campaign) -> None:
    if not campaign.segments.exists():
        raise KithError("Choose at least one segment to send to.", field="segments")
    if campaign.template.current_version_id is None:
        raise KithError("This template has no content yet.", field="template")
    if campaign.ab_enabled and campaign.variants.count() < 2:
        raise KithError("An A/B test needs at least two variants.", field="variants")


@transaction.atomic
def campaign_schedule(*, campaign: Campaign, actor: Any, data: Mapping[str, Any] | None = None) -> Campaign:
    """Schedule a draft (optionally changing its schedule fields first). ``now`` starts sending right away."""
    locked = Campaign.objects.select_for_update().get(pk=campaign.pk)
    if locked.status != CampaignStatus.DRAFT:
        raise Conflict("Only a draft can be scheduled.", field="status")
    # The schedule is chosen here, not on the draft: without a kind, "schedule" means send now.
    _clean_schedule(locked, {"schedule_kind": ScheduleKind.NOW, **(data or {})})
    start_at = _schedule_check(locked)
    _ready_check(locked)
    locked.send_at = start_at
    locked.save(update_fields=["schedule_kind", "send_at", "local_date", "local_time", "updated_at"])
    locked = _transition(locked, to=CampaignStatus.SCHEDULED)
    audit_record(action="campaign.scheduled", actor=actor, workspace=locked.workspace, target=locked,
                 after=snapshot(locked, AUDITED))
    from_here = start_at if start_at > clock.now() else None
    enqueue_on_commit(campaign_start_task, campaign_id=locked.pk, run_at=from_here)
    return locked


@transaction.atomic
def campaign_unschedule(*, campaign: Campaign, actor: Any) -> Campaign:
    """A scheduled campaign back to draft, so it can be changed."""
    campaign = _transition(campaign, to=CampaignStatus.DRAFT, send_at=None)
    audit_record(action="campaign.unscheduled", actor=actor, workspace=campaign.workspace, target=campaign)
    return campaign


@transaction.atomic
def campaign_pause(*, campaign: Campaign, actor: Any) -> Campaign:
    """Stop sending. Workers check the state between messages, so it takes effect within a second or two; what
    was claimed before finishes, nothing more starts."""
    campaign = _transition(campaign, to=CampaignStatus.PAUSED)
    audit_record(action="campaign.paused", actor=actor, workspace=campaign.workspace, target=campaign)
    return campaign


@transaction.atomic
def campaign_resume(*, campaign: Campaign, actor: Any) -> Campaign:
    """Continue a paused campaign where it stopped (the ledger rows still queued are the rest)."""
    if campaign.status != CampaignStatus.PAUSED:
        raise Conflict("Only a paused campaign can be resumed.", field="status")
    campaign = _transition(campaign, to=CampaignStatus.SENDING)
    audit_record(action="campaign.resumed", actor=actor, workspace=campaign.workspace, target=campaign)
    senders_ring(campaign=campaign)
    return campaign


@transaction.atomic
def campaign_cancel(*, campaign: Campaign, actor: Any) -> Campaign:
    """Stop for good. Messages not yet claimed by a sender are removed from the ledger (they will never be sent,
    and the report should not show them as pending); what was sent stays."""
    campaign = _transition(campaign, to=CampaignStatus.CANCELLED, finished_at=clock.now())
    Message.objects.filter(source_type=SourceType.CAMPAIGN, source_id=campaign.source_id,
                           status=MessageStatus.QUEUED).delete()
    audit_record(action="campaign.cancelled", actor=actor, workspace=campaign.workspace, target=campaign)
    return campaign


@transaction.atomic
def campaign_delete(*, campaign: Campaign, actor: Any) -> None:
    if campaign.status != CampaignStatus.DRAFT:
        raise Conflict("Only a draft can be deleted; cancel the campaign instead.", field="status")
    audit_record(action="campaign.deleted", actor=actor, workspace=campaign.workspace, target=campaign,
                 before=snapshot(campaign, AUDITED))
    campaign.delete()
