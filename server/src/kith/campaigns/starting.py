"""Starting a campaign (scheduled → sending with the audience snapshot) and the sweep that keeps campaigns moving
when a doorbell was lost: the rows (campaign status, batches, ``send_at``, ``ab_decide_at``) are the truth, the jobs
only ring. See ``kith.campaigns.sending`` for the send loop."""

from __future__ import annotations

import datetime as dt
import math

from django.db import transaction
from django.db.models import Q

from kith.campaigns import audience
from kith.campaigns.abtest import campaign_ab_decide_task
from kith.campaigns.models import BatchStatus, Campaign, CampaignBatch, CampaignStatus
from kith.campaigns.sending import senders_ring
from kith.core import clock
from kith.core.jobs import enqueue_on_commit, job
from kith.preferences.selectors import marketing_recipients


def campaign_start(*, campaign_id: int) -> bool:
    """Scheduled → sending, with the snapshot, in one transaction; True when this call started it. A campaign not
    yet due (an early doorbell) or no longer scheduled is left alone."""
    with transaction.atomic():
        campaign = Campaign.objects.select_for_update(of=("self",)).select_related("workspace", "template", "topic") \
            .filter(pk=campaign_id).first()
        if campaign is None or campaign.status != CampaignStatus.SCHEDULED:
            return False
        if campaign.send_at is not None and campaign.send_at > clock.now() + dt.timedelta(seconds=1):
            return False
        version_id = campaign.template.current_version_id
        if version_id is None:
            return False
        campaign.template_version_id = version_id
        campaign.status, campaign.started_at = CampaignStatus.SENDING, clock.now()
        campaign.save(update_fields=["template_version", "status", "started_at", "updated_at"])
        if campaign.ab_enabled:
            _ab_sample_start(campaign)
        else:
            audience.audience_insert(campaign=campaign, version_id=version_id)
            audience.batches_create(campaign=campaign)
        audience.counts_refresh(campaign=campaign)
        senders_ring(campaign=campaign)
    return True


def _ab_sample_start(campaign: Campaign) -> None:
    """Insert the A/B sample, one INSERT … SELECT per variant (ids of a variant are contiguous within this
    campaign), and schedule the decision."""
    variants = list(campaign.variants.select_related("template"))
    allowed = marketing_recipients(workspace=campaign.workspace, topic=campaign.topic)
    total = audience.audience(campaign).filter(pk__in=allowed.values("pk")).count()
    sample = math.ceil(total * campaign.ab_sample_percent / 100)
    for index, variant in enumerate(variants):
        share = sample // len(variants) + (1 if index < sample % len(variants) else 0)
        variant.template_version_id = (variant.template.current_version_id if variant.template
                                       else campaign.template_version_id)
        before = audience.ledger(campaign).order_by("-pk").values_list("pk", flat=True).first() or 0
        audience.sample_insert(campaign=campaign, variant=variant, version_id=variant.template_version_id,
                               size=share)
        last = audience.ledger(campaign).order_by("-pk").values_list("pk", flat=True).first() or 0
        variant.first_message_id, variant.last_message_id = before + 1, last
        variant.save(update_fields=["template_version", "first_message_id", "last_message_id"])
        if last > before:
            audience.batches_create(campaign=campaign, after_id=before, variant=variant, last_id=last,
                                    by_timezone=False)
    campaign.ab_decide_at = clock.now() + dt.timedelta(minutes=campaign.ab_wait_minutes)
    campaign.save(update_fields=["ab_decide_at"])
    enqueue_on_commit(campaign_ab_decide_task, campaign_id=campaign.pk, run_at=campaign.ab_decide_at)


@job(lease_seconds=1800)
def campaign_start_task(*, campaign_id: int) -> None:
    campaign_start(campaign_id=campaign_id)




def campaigns_sweep(*, now: dt.datetime) -> int:
    """Start scheduled campaigns whose time has come, decide overdue A/B tests, and re-ring sending campaigns that
    have a batch to claim (pending and due, or leased by a worker that died). Returns how many campaigns it rang."""
    rung = 0
    for campaign_id in Campaign.objects.filter(status=CampaignStatus.SCHEDULED, send_at__lte=now) \
            .values_list("pk", flat=True)[:100]:
        enqueue_on_commit(campaign_start_task, campaign_id=campaign_id)
        rung += 1
    for campaign_id in Campaign.objects.filter(status=CampaignStatus.SENDING, ab_enabled=True,
                                               ab_winner__isnull=True, ab_decide_at__lte=now) \
            .values_list("pk", flat=True)[:100]:
        enqueue_on_commit(campaign_ab_decide_task, campaign_id=campaign_id)
        rung += 1
    claimable = (Q(status=BatchStatus.PENDING, not_before__lte=now)
                 | Q(status=BatchStatus.RUNNING, lease_until__lt=now))
    stuck = CampaignBatch.objects.filter(claimable, campaign__status=CampaignStatus.SENDING) \
        .values_list("campaign_id", flat=True).distinct()[:100]
    for campaign in Campaign.objects.filter(pk__in=list(stuck)):
        senders_ring(campaign=campaign)
        rung += 1
    return rung


@job
def campaigns_sweep_task() -> None:
    campaigns_sweep(now=clock.now())
