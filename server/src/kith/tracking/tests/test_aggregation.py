"""The background half: hits folded into engagement, per-link counts, timeline and scores — once, machines apart."""

from __future__ import annotations

import datetime as dt

import pytest

from kith.contacts.models import Contact
from kith.core import clock
from kith.messaging.models import Message
from kith.timeline.models import Activity, ActivityKind
from kith.tracking.aggregation import (
    CLICK_POINTS,
    HIT_RETENTION,
    OPEN_POINTS,
    tracking_aggregate,
)
from kith.tracking.models import (
    AggregationCursor,
    Hit,
    HitKind,
    LinkClicks,
    MessageEngagement,
)
from kith.tracking.recording import hit_record
from kith.tracking.selectors import engagement_stats
from kith.tracking.tests.helpers import sent_message

pytestmark = pytest.mark.django_db

CHROME = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36"
OUTLOOK = "Microsoft Outlook 16.0.17126; Microsoft Outlook 16.0.17126; ms-office; MSOffice 16"
GMAIL_PROXY = "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)"


@pytest.fixture
def message(personas):
    return sent_message(workspace=personas.acme)


def _hit(message: Message, kind: int, *, at: dt.datetime, ua: str = CHROME, ip: str = "203.0.113.7",
         link: int | None = None) -> None:
    with clock.frozen(at):
        hit_record(message_id=message.pk, kind=kind, user_agent=ua, ip=ip, link_index=link)


def _aggregate(at: dt.datetime) -> int:
    with clock.frozen(at):
        return tracking_aggregate()


def test_running_the_aggregation_twice_counts_every_hit_once(message):
    t = clock.now()
    _hit(message, HitKind.OPEN, at=t, ua=OUTLOOK)
    _hit(message, HitKind.OPEN, at=t + dt.timedelta(seconds=5), ua=OUTLOOK)
    _hit(message, HitKind.CLICK, at=t + dt.timedelta(seconds=9), link=0)
    assert _aggregate(t + dt.timedelta(minutes=5)) == 3
    assert _aggregate(t + dt.timedelta(minutes=6)) == 0
    engagement = MessageEngagement.objects.get(message=message)
    assert (engagement.opens, engagement.clicks, engagement.machine_opens) == (2, 1, 0)
    assert engagement.first_open_at == t and engagement.client_kind == "desktop"
    assert LinkClicks.objects.get(message=message, link_index=0).clicks == 1
    # A later hit is added to what was there, not recounted with it.
    _hit(message, HitKind.CLICK, at=t + dt.timedelta(minutes=7), link=0)
    assert _aggregate(t + dt.timedelta(minutes=9)) == 1
    engagement.refresh_from_db()
    assert (engagement.opens, engagement.clicks) == (2, 2)
    assert LinkClicks.objects.get(message=message, link_index=0).clicks == 2
    assert Activity.objects.filter(kind=ActivityKind.EMAIL_OPENED).count() == 1


def test_hits_younger_than_the_settle_window_wait_for_the_next_run(message):
    t = clock.now()
    _hit(message, HitKind.OPEN, at=t)
    assert _aggregate(t + dt.timedelta(seconds=10)) == 0
    assert not MessageEngagement.objects.exists()
    assert AggregationCursor.objects.get().last_hit_id == 0
    assert _aggregate(t + dt.timedelta(minutes=2)) == 1


def test_privacy_proxy_opens_are_kept_out_of_unique_opens(personas, message):
    t = clock.now()
    other = sent_message(workspace=personas.acme, email="grace@example.com")
    _hit(message, HitKind.OPEN, at=t, ua="Mozilla/5.0", ip="17.58.1.20")  # Apple Mail Privacy Protection
    _hit(message, HitKind.OPEN, at=t, ua=GMAIL_PROXY, ip="66.102.8.1")
    _hit(message, HitKind.OPEN, at=t, ua=OUTLOOK, ip="17.1.2.3")  # any client behind Apple's network
    _hit(other, HitKind.OPEN, at=t, ua=OUTLOOK)
    _aggregate(t + dt.timedelta(minutes=5))
    stats = engagement_stats(messages=Message.objects.filter(workspace=personas.acme))
    assert (stats.unique_opens, stats.opens, stats.machine_opens) == (1, 1, 3)
    machine_only = MessageEngagement.objects.get(message=message)
    assert machine_only.first_open_at is None and machine_only.machine_opens == 3
    assert not Activity.objects.filter(kind=ActivityKind.EMAIL_OPENED, contact=message.contact).exists()
    message.contact.refresh_from_db()
    assert message.contact.engagement_score == 0


def test_a_followed_honeypot_marks_the_recipients_clicks_as_a_scanners(message):
    t = clock.now()
    for link in (0, 1):
        _hit(message, HitKind.CLICK, at=t, link=link)
    _hit(message, HitKind.HONEYPOT, at=t + dt.timedelta(seconds=1), link=2)
    _aggregate(t + dt.timedelta(minutes=5))
    engagement = MessageEngagement.objects.get(message=message)
    assert engagement.scanner_detected
    assert (engagement.clicks, engagement.machine_clicks, engagement.first_click_at) == (0, 2, None)
    assert list(LinkClicks.objects.order_by("link_index").values_list("clicks", "machine_clicks")) == [(0, 1), (0, 1)]
    # Later clicks of the same message stay a scanner's.
    _hit(message, HitKind.CLICK, at=t + dt.timedelta(minutes=10), link=0)
    _aggregate(t + dt.timedelta(minutes=15))
    engagement.refresh_from_db()
    assert (engagement.clicks, engagement.machine_clicks) == (0, 3)
    assert not Activity.objects.filter(kind=ActivityKind.EMAIL_CLICKED).exists()


def test_clicks_within_seconds_of_sending_and_from_scanner_agents_are_machine_clicks(personas):
    fresh = sent_message(workspace=personas.acme, sent_ago=dt.timedelta(seconds=0))
    t = fresh.sent_at
    _hit(fresh, HitKind.CLICK, at=t + dt.timedelta(seconds=3), link=0)  # at delivery: a gateway's scanner
    _hit(fresh, HitKind.CLICK, at=t + dt.timedelta(minutes=20), link=1, ua="python-requests/2.31")
    _hit(fresh, HitKind.CLICK, at=t + dt.timedelta(minutes=20), link=1, ip="40.107.3.4")  # Exchange Online
    _aggregate(t + dt.timedelta(minutes=30))
    engagement = MessageEngagement.objects.get(message=fresh)
    assert (engagement.clicks, engagement.machine_clicks) == (0, 3)


def test_people_s_opens_and_clicks_reach_the_timeline_and_the_engagement_score_once(message):
    t = clock.now()
    _hit(message, HitKind.OPEN, at=t, ua=OUTLOOK)
    _hit(message, HitKind.CLICK, at=t + dt.timedelta(seconds=30), link=1)
    _hit(message, HitKind.CLICK, at=t + dt.timedelta(seconds=40), link=1)
    _aggregate(t + dt.timedelta(minutes=5))
    _aggregate(t + dt.timedelta(minutes=10))
    contact = Contact.objects.get(pk=message.contact_id)
    assert contact.engagement_score == OPEN_POINTS + CLICK_POINTS
    opened = Activity.objects.get(kind=ActivityKind.EMAIL_OPENED)
    clicked = Activity.objects.get(kind=ActivityKind.EMAIL_CLICKED)
    assert opened.contact_id == clicked.contact_id == contact.pk
    assert opened.occurred_at == t and opened.data["message_id"] == message.pk
    assert clicked.data["url"] == "https://shop.example.com/sale" and "shop.example.com/sale" in clicked.title


def test_hits_of_a_deleted_message_are_skipped(personas, message):
    t = clock.now()
    _hit(message, HitKind.OPEN, at=t, ua=OUTLOOK)
    Message.objects.filter(pk=message.pk).delete()
    assert _aggregate(t + dt.timedelta(minutes=5)) == 1
    assert not MessageEngagement.objects.exists()


def test_folded_hits_are_pruned_after_the_retention_and_their_facts_stay(message):
    t = clock.now()
    _hit(message, HitKind.OPEN, at=t, ua=OUTLOOK)
    _aggregate(t + dt.timedelta(minutes=5))
    _hit(message, HitKind.OPEN, at=t + HIT_RETENTION, ua=OUTLOOK)  # not folded yet at the next run
    _aggregate(t + HIT_RETENTION + dt.timedelta(seconds=30))
    assert list(Hit.objects.values_list("occurred_at", flat=True)) == [t + HIT_RETENTION]
    assert MessageEngagement.objects.get(message=message).opens == 1
