"""A/B test of the subject: a sample split over the variants, the winner by open rate after the wait, the rest
sent the winner."""

from __future__ import annotations

import datetime as dt
import email

import pytest

from kith.campaigns import services
from kith.campaigns.abtest import campaign_ab_decide
from kith.campaigns.models import CampaignStatus
from kith.campaigns.tests.support import campaign_make, contacts_make
from kith.core import clock
from kith.messaging.backends import memory
from kith.messaging.models import Message
from kith.tracking.models import MessageEngagement

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _memory_backend(settings):
    settings.KITH_MESSAGING_EMAIL_BACKEND = "memory"
    memory.outbox.clear()
    yield
    memory.outbox.clear()


def subjects() -> list[str]:
    return [email.message_from_bytes(m.wire)["Subject"] for m in memory.outbox]


def opened(messages: list[Message], count: int) -> None:
    for message in messages[:count]:
        MessageEngagement.objects.create(message=message, workspace=message.workspace, contact=message.contact,
                                         first_open_at=clock.now(), last_open_at=clock.now(), opens=1)


@pytest.mark.parametrize(("opens_a", "opens_b", "winner"), [(1, 5, "B"), (6, 2, "A"), (3, 3, "A")])
def test_the_variant_with_the_better_open_rate_is_sent_to_the_rest(personas, jobs, opens_a, opens_b, winner):
    contacts_make(workspace=personas.acme, count=100)
    campaign = campaign_make(workspace=personas.acme, ab_enabled=True, ab_sample_percent=20, ab_wait_minutes=60,
                             variants=[{"subject": "Spring is here"}, {"subject": "20 % off today"}])
    start = dt.datetime(2030, 3, 1, 9, 0, tzinfo=dt.UTC)

    # when it starts, only the sample goes out: 10 recipients per variant
    with clock.frozen(start), jobs():
        services.campaign_schedule(campaign=campaign, actor=personas.alice)
    assert sorted(subjects()) == ["20 % off today"] * 10 + ["Spring is here"] * 10
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.SENDING
    assert campaign.ab_decide_at == start + dt.timedelta(minutes=60)
    a, b = campaign.variants.order_by("label")
    in_range = Message.objects.filter(source_id=str(campaign.pk)).order_by("pk")
    opened(list(in_range.filter(pk__gte=a.first_message_id, pk__lte=a.last_message_id)), opens_a)
    opened(list(in_range.filter(pk__gte=b.first_message_id, pk__lte=b.last_message_id)), opens_b)

    # before the wait is over nothing is decided
    with clock.frozen(start + dt.timedelta(minutes=59)):
        assert campaign_ab_decide(campaign_id=campaign.pk) is None
    assert len(memory.outbox) == 20

    # after it, the winner goes to the other 80
    with clock.frozen(start + dt.timedelta(minutes=61)), jobs():
        decided = campaign_ab_decide(campaign_id=campaign.pk)
    assert decided is not None and decided.label == winner
    expected = "Spring is here" if winner == "A" else "20 % off today"
    assert subjects()[20:] == [expected] * 80
    assert len({m.recipients[0] for m in memory.outbox}) == 100
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.SENT and campaign.ab_winner_id == decided.pk
    # deciding again changes nothing
    with clock.frozen(start + dt.timedelta(minutes=90)):
        assert campaign_ab_decide(campaign_id=campaign.pk) is None
    assert len(memory.outbox) == 100
