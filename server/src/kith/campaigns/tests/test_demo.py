"""``kith_demo`` includes a sent campaign with realistic numbers, and running it again adds nothing."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command

from kith.campaigns import selectors
from kith.campaigns.models import Campaign, CampaignStatus

pytestmark = pytest.mark.django_db


def test_the_demo_has_a_sent_campaign_with_a_report():
    call_command("kith_demo", stdout=io.StringIO())
    sent = Campaign.objects.get(name="March newsletter")
    assert sent.status == CampaignStatus.SENT
    report = selectors.campaign_report(campaign=sent)
    assert report.sent == sent.audience_count > 0
    assert 0 < report.opened < report.sent and 0 < report.clicked <= report.opened
    assert report.bounced > 0 or report.sent < 30

    call_command("kith_demo", stdout=io.StringIO())
    assert Campaign.objects.filter(name="March newsletter").count() == 1
    assert Campaign.objects.count() == 2
