"""The report: every number computed from the ledger and the tracking facts, machines left out."""

from __future__ import annotations

import pytest

from kith.campaigns import selectors, services
from kith.campaigns.tests.support import campaign_make, contacts_make
from kith.core import clock
from kith.messaging.backends import memory
from kith.messaging.models import Message, MessageStatus
from kith.timeline.models import Activity, ActivityKind
from kith.tracking.models import LinkClicks, MessageEngagement

pytestmark = pytest.mark.django_db


def test_report_counts_rates_links_and_status_breakdown(personas, settings, jobs):
    settings.KITH_MESSAGING_EMAIL_BACKEND = "memory"
    memory.outbox.clear()
    contacts_make(workspace=personas.acme, count=10)
    campaign = campaign_make(workspace=personas.acme)
    with jobs():
        services.campaign_schedule(campaign=campaign, actor=personas.alice)
    campaign.refresh_from_db()
    rows = list(Message.objects.filter(source_id=str(campaign.pk)).select_related("contact").order_by("pk"))
    now = clock.now()
    # given: 6 delivered, 1 bounced, 1 complained; 4 human opens, 1 machine-only open; 2 clickers
    Message.objects.filter(pk__in=[m.pk for m in rows[:6]]).update(delivered_at=now, status=MessageStatus.DELIVERED)
    Message.objects.filter(pk=rows[6].pk).update(status=MessageStatus.BOUNCED)
    Message.objects.filter(pk=rows[7].pk).update(status=MessageStatus.COMPLAINED)
    for m in rows[:4]:
        MessageEngagement.objects.create(message=m, workspace=personas.acme, contact=m.contact, first_open_at=now,
                                         opens=2)
    MessageEngagement.objects.create(message=rows[9], workspace=personas.acme, contact=rows[9].contact,
                                     machine_opens=3)
    MessageEngagement.objects.filter(message__in=rows[:2]).update(first_click_at=now, clicks=1)
    LinkClicks.objects.create(message=rows[0], link_index=0, clicks=3)
    LinkClicks.objects.create(message=rows[1], link_index=0, clicks=1)
    Activity.objects.create(workspace=personas.acme, kind=ActivityKind.UNSUBSCRIBED, title="Unsubscribed",
                            contact=rows[3].contact, occurred_at=now,
                            data={"message_id": rows[3].pk, "source_type": "campaign"})

    report = selectors.campaign_report(campaign=campaign)

    assert (report.sent, report.delivered, report.opened, report.clicked) == (10, 6, 4, 2)
    assert (report.bounced, report.complained, report.unsubscribed, report.machine_opens) == (1, 1, 1, 3)
    assert report.rates == {"delivered": 60.0, "opened": 40.0, "clicked": 20.0, "bounced": 10.0,
                            "unsubscribed": 10.0, "complained": 10.0}
    assert report.by_status == {"delivered": 6, "bounced": 1, "complained": 1, "sent": 2}
    assert report.links[0].url == "https://shop.example.com/new"
    assert (report.links[0].clicks, report.links[0].unique_clicks) == (4, 2)
    assert sum(point.sent for point in report.chart) == 10
    assert sum(point.opened for point in report.chart) == 4
    memory.outbox.clear()
