"""The A/B decision: at ``ab_decide_at`` the variant with the best open (or click) rate among its sent sample wins,
and the rest of the audience is snapshotted with the winner and sent.

Rates count unique human opens/clicks (``tracking.MessageEngagement``: machine opens are folded apart), over the
variant's sent messages. A tie goes to the earlier variant (A before B), so the decision is deterministic.
"""

from __future__ import annotations

from django.db import transaction
from django.db.models import Count, Q

from kith.campaigns import audience
from kith.campaigns.models import AbMetric, Campaign, CampaignStatus, CampaignVariant
from kith.campaigns.sending import senders_ring
from kith.core import clock
from kith.core.jobs import job
from kith.messaging.models import MessageStatus

SENT_STATES = (MessageStatus.SENT, MessageStatus.DELIVERED, MessageStatus.BOUNCED, MessageStatus.COMPLAINED)


def variant_rates(*, campaign: Campaign) -> dict[int, tuple[int, int, int]]:
    """Per variant id: (sent, unique opens, unique clicks) of its sample."""
    out: dict[int, tuple[int, int, int]] = {}
    for variant in campaign.variants.all():
        if variant.first_message_id is None or variant.last_message_id is None:
            out[variant.pk] = (0, 0, 0)
            continue
        rows = audience.ledger(campaign).filter(pk__gte=variant.first_message_id, pk__lte=variant.last_message_id,
                                                status__in=SENT_STATES)
        totals = rows.aggregate(sent=Count("pk"),
                                opens=Count("pk", filter=Q(engagement__first_open_at__isnull=False)),
                                clicks=Count("pk", filter=Q(engagement__first_click_at__isnull=False)))
        out[variant.pk] = (totals["sent"], totals["opens"], totals["clicks"])
    return out


def winner_pick(*, campaign: Campaign) -> CampaignVariant | None:
    rates = variant_rates(campaign=campaign)
    best: tuple[float, CampaignVariant] | None = None
    for variant in campaign.variants.order_by("label"):
        sent, opens, clicks = rates[variant.pk]
        rate = ((clicks if campaign.ab_metric == AbMetric.CLICK else opens) / sent) if sent else 0.0
        if best is None or rate > best[0]:
            best = (rate, variant)
    return best[1] if best else None


def campaign_ab_decide(*, campaign_id: int) -> CampaignVariant | None:
    """Pick the winner once ``ab_decide_at`` has come; snapshot the rest of the audience with it and ring the
    senders. Idempotent: a decided campaign, or one not yet due, is left alone."""
    with transaction.atomic():
        campaign = Campaign.objects.select_for_update(of=("self",)).select_related("workspace", "topic").filter(
            pk=campaign_id).first()
        if campaign is None or not campaign.ab_enabled or campaign.ab_winner_id is not None:
            return None
        if campaign.status not in (CampaignStatus.SENDING, CampaignStatus.PAUSED):
            return None
        if campaign.ab_decide_at is None or campaign.ab_decide_at > clock.now():
            # An early doorbell: the delayed job rung at the start and ``campaigns_sweep`` come back later.
            return None
        winner = winner_pick(campaign=campaign)
        if winner is None:
            return None
        campaign.ab_winner = winner
        campaign.save(update_fields=["ab_winner", "updated_at"])
        before = audience.ledger(campaign).order_by("-pk").values_list("pk", flat=True).first() or 0
        version_id = winner.template_version_id or campaign.template_version_id
        assert version_id is not None
        audience.audience_insert(campaign=campaign, version_id=version_id)
        audience.batches_create(campaign=campaign, after_id=before, variant=winner)
        audience.counts_refresh(campaign=campaign)
        if campaign.status == CampaignStatus.SENDING:
            senders_ring(campaign=campaign)
    return winner


@job
def campaign_ab_decide_task(*, campaign_id: int) -> None:
    campaign_ab_decide(campaign_id=campaign_id)
