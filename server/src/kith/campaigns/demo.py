"""Demo data for campaigns: one sent newsletter with realistic numbers (delivered, opened, clicked, a bounce, a
complaint) spread over its first day, and one draft. The draft goes through the services; the sent one's audience
is snapshotted with the real ``audience_insert``, and its outcomes are written as a provider and readers would have
left them (no mail leaves a demo). Safe to run again: an existing campaign of that name is left alone."""

from __future__ import annotations

import datetime as dt
import random

from kith.campaigns import audience, services
from kith.campaigns.models import Campaign, CampaignStatus
from kith.core import clock
from kith.core.demo import DemoContext, DemoStep
from kith.messaging.models import Message, MessageStatus, Template
from kith.messaging.services import template_create
from kith.segments.models import Segment
from kith.segments.services import segment_create
from kith.tracking.models import LinkClicks, MessageEngagement

NAME = "March newsletter"
HTML = ("<p>Hi {{ contact.first_name | default('there') }},</p><p>Spring is here — see "
        '<a href="https://demo.example.com/new">what is new</a> and the '
        '<a href="https://demo.example.com/sale">spring sale</a>.</p>'
        '<p><a href="{{ unsubscribe_url }}">Unsubscribe</a></p>')


def campaigns_demo(context: DemoContext) -> None:
    owner, workspace = context.require_workspace()
    if Campaign.objects.for_workspace(workspace).filter(name=NAME).exists():
        context.say("Campaigns: already there.")
        return
    template = Template.objects.for_workspace(workspace).filter(name="Newsletter").first() or template_create(
        workspace=workspace, actor=owner, name="Newsletter",
        content={"subject": "What's new this spring, {{ contact.first_name | default('friend') }}", "html": HTML})
    segment = Segment.objects.for_workspace(workspace).filter(name="Everyone with an e-mail").first() or \
        segment_create(workspace=workspace, actor=owner, name="Everyone with an e-mail",
                       definition={"field": "email", "op": "is_set"})
    campaign = services.campaign_create(workspace=workspace, actor=owner, data={
        "name": NAME, "template": template.pk, "segments": [segment.pk]})
    started = clock.now() - dt.timedelta(days=3)
    Campaign.objects.filter(pk=campaign.pk).update(
        status=CampaignStatus.SENT, template_version=template.current_version, started_at=started,
        finished_at=started + dt.timedelta(minutes=4), send_at=started)
    campaign.refresh_from_db()
    audience.audience_insert(campaign=campaign, version_id=template.current_version_id)
    audience.counts_refresh(campaign=campaign)
    _outcomes(campaign, started)
    campaign.refresh_from_db(fields=["audience_count"])  # counts_refresh wrote it with an UPDATE
    services.campaign_create(workspace=workspace, actor=owner, data={
        "name": "April product update (draft)", "template": template.pk, "segments": [segment.pk]})
    context.say(f"Campaigns: “{NAME}” sent to {campaign.audience_count} contacts, and a draft.")


def _outcomes(campaign: Campaign, started: dt.datetime) -> None:
    rng = random.Random(campaign.pk)  # the same demo every time for the same campaign
    rows = list(audience.ledger(campaign).filter(status=MessageStatus.QUEUED).select_related("contact"))
    for index, message in enumerate(rows):
        message.status, message.sent_at = MessageStatus.SENT, started + dt.timedelta(seconds=index)
        message.finished_at = message.sent_at
        roll = rng.random()
        if roll < 0.03:
            message.status = MessageStatus.BOUNCED
        elif roll < 0.04:
            message.status, message.delivered_at = MessageStatus.COMPLAINED, message.sent_at
        else:
            message.status, message.delivered_at = MessageStatus.DELIVERED, message.sent_at
    Message.objects.bulk_update(rows, ["status", "sent_at", "finished_at", "delivered_at"])
    Message.objects.filter(pk__in=[m.pk for m in rows]).update(subject="What's new this spring")
    for message in rows:
        if message.status == MessageStatus.BOUNCED or rng.random() > 0.42:
            continue
        opened = message.sent_at + dt.timedelta(minutes=rng.randint(3, 20 * 60))
        clicked = opened + dt.timedelta(minutes=rng.randint(0, 30)) if rng.random() < 0.3 else None
        MessageEngagement.objects.create(
            message=message, workspace=campaign.workspace, contact=message.contact, first_open_at=opened,
            last_open_at=opened, opens=rng.randint(1, 3), machine_opens=rng.choice((0, 0, 1)),
            first_click_at=clicked, last_click_at=clicked, clicks=1 if clicked else 0, client_kind="mobile")
        if clicked:
            LinkClicks.objects.create(message=message, link_index=rng.choice((0, 0, 1)), clicks=1)


DEMO_STEPS: tuple[DemoStep, ...] = (campaigns_demo,)
