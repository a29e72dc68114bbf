"""The campaign pages: list, editor, detail with progress and report, the polled fragment, actions, CSV."""

from __future__ import annotations

import pytest
from django.test import Client

from kith.accounts.tests.factories import MembershipFactory, UserFactory
from kith.campaigns.models import Campaign, CampaignStatus
from kith.campaigns.tests.support import contacts_make, segment_make
from kith.messaging.backends import memory
from kith.messaging.tests.factories import template_make

pytestmark = pytest.mark.django_db


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_alice_creates_sends_and_reads_a_campaign_in_the_pages(personas, settings, jobs):
    settings.KITH_MESSAGING_EMAIL_BACKEND = "memory"
    memory.outbox.clear()
    contacts_make(workspace=personas.acme, count=4)
    template = template_make(workspace=personas.acme, name="Newsletter")
    segment = segment_make(workspace=personas.acme)
    client = _client(personas.alice)
    assert client.get("/campaigns/").status_code == 200
    assert client.get("/campaigns/new/").status_code == 200

    bad = client.post("/campaigns/new/", {"name": "", "template": template.pk})
    assert bad.status_code == 400
    created = client.post("/campaigns/new/", {"name": "News", "template": template.pk, "segments": [segment.pk],
                                              "throttle_per_minute": 0, "track_opens": "on",
                                              "ab_sample_percent": 20, "ab_metric": "open",
                                              "ab_wait_minutes": 240})
    assert created.status_code == 302, created.content.decode()[:2000]
    campaign = Campaign.objects.get(name="News")
    detail = client.get(f"/campaigns/{campaign.pk}/")
    assert detail.status_code == 200 and b"Schedule" in detail.content

    with jobs():
        scheduled = client.post(f"/campaigns/{campaign.pk}/schedule/", {"schedule_kind": "now"})
    assert scheduled.status_code == 302
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.SENT and len(memory.outbox) == 4
    page = client.get(f"/campaigns/{campaign.pk}/").content.decode()
    assert 'data-testid="stat-sent">4<' in page
    fragment = client.get(f"/campaigns/{campaign.pk}/progress/").content.decode()
    assert 'data-testid="progress-sent">4<' in fragment and "hx-trigger" not in fragment  # polling stops
    csv = client.get(f"/campaigns/{campaign.pk}/recipients.csv")
    body = b"".join(csv.streaming_content).decode()
    assert body.splitlines()[0].lstrip("\ufeff").startswith("message_id,contact_id,email")
    assert len(body.splitlines()) == 5
    # an action the state does not allow is refused with a message, not an error page
    refused = client.post(f"/campaigns/{campaign.pk}/pause/", follow=True)
    assert refused.status_code == 200 and "cannot become paused" in refused.content.decode()
    memory.outbox.clear()


def test_a_viewer_cannot_change_campaigns(personas):
    viewer = UserFactory(email="vic@acme.test")
    MembershipFactory(workspace=personas.acme, user=viewer, role="viewer")
    template = template_make(workspace=personas.acme)
    client = _client(viewer)
    assert client.get("/campaigns/").status_code == 200
    response = client.post("/campaigns/new/", {"name": "X", "template": template.pk})
    assert response.status_code == 403
    assert not Campaign.objects.exists()
