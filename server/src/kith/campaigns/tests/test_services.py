"""The campaign state machine and draft validation."""

from __future__ import annotations

import datetime as dt

import pytest

from kith.campaigns import services
from kith.campaigns.models import CampaignStatus
from kith.campaigns.tests.support import campaign_make, contacts_make
from kith.core import clock
from kith.core.errors import Conflict, KithError, NotFound
from kith.messaging.tests.factories import template_make
from kith.segments.models import Segment

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _quiet(settings):
    settings.KITH_MESSAGING_EMAIL_BACKEND = "memory"
    settings.KITH_CAMPAIGN_SENDERS = 0  # sending itself is tested in test_sending


def test_the_state_machine_allows_only_its_transitions(personas, jobs):
    contacts_make(workspace=personas.acme, count=3)
    campaign = campaign_make(workspace=personas.acme)
    alice = personas.alice
    later = clock.now() + dt.timedelta(days=1)

    # a draft can be neither paused, resumed nor unscheduled
    for service in (services.campaign_pause, services.campaign_resume, services.campaign_unschedule):
        with pytest.raises(Conflict):
            service(campaign=campaign, actor=alice)

    # scheduled for later: it cannot be changed, only put back to draft
    services.campaign_schedule(campaign=campaign, actor=alice, data={"schedule_kind": "at", "send_at": later})
    assert campaign.refresh_from_db() or campaign.status == CampaignStatus.SCHEDULED
    with pytest.raises(Conflict):
        services.campaign_update(campaign=campaign, actor=alice, data={"name": "Other"})
    with pytest.raises(Conflict):
        services.campaign_schedule(campaign=campaign, actor=alice)
    services.campaign_unschedule(campaign=campaign, actor=alice)
    services.campaign_update(campaign=campaign, actor=alice, data={"name": "Renamed"})

    # scheduled now: it starts sending
    with jobs():
        services.campaign_schedule(campaign=campaign, actor=alice)
    campaign.refresh_from_db()
    assert (campaign.status, campaign.name) == (CampaignStatus.SENDING, "Renamed")
    with pytest.raises(Conflict):
        services.campaign_resume(campaign=campaign, actor=alice)
    with pytest.raises(Conflict):
        services.campaign_delete(campaign=campaign, actor=alice)

    services.campaign_pause(campaign=campaign, actor=alice)
    with pytest.raises(Conflict):
        services.campaign_pause(campaign=campaign, actor=alice)
    services.campaign_resume(campaign=campaign, actor=alice)
    services.campaign_cancel(campaign=campaign, actor=alice)
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.CANCELLED
    for service in (services.campaign_pause, services.campaign_resume, services.campaign_cancel):
        with pytest.raises(Conflict):
            service(campaign=campaign, actor=alice)


def test_a_stale_copy_cannot_bypass_the_state_machine(personas):
    campaign = campaign_make(workspace=personas.acme)
    stale = type(campaign).objects.get(pk=campaign.pk)
    services.campaign_cancel(campaign=campaign, actor=personas.alice)
    # the stale object still says draft; the conditional UPDATE reads the row
    with pytest.raises(Conflict):
        services.campaign_pause(campaign=stale, actor=personas.alice)
    with pytest.raises(Conflict):
        services.campaign_schedule(campaign=stale, actor=personas.alice)


def test_schedule_refuses_what_cannot_run(personas):
    campaign = campaign_make(workspace=personas.acme, segments=[])
    with pytest.raises(KithError) as no_segment:
        services.campaign_schedule(campaign=campaign, actor=personas.alice)
    assert no_segment.value.field == "segments"
    campaign = campaign_make(workspace=personas.acme)
    with pytest.raises(KithError) as past:
        services.campaign_schedule(campaign=campaign, actor=personas.alice,
                                   data={"schedule_kind": "at", "send_at": clock.now() - dt.timedelta(hours=1)})
    assert past.value.field == "send_at"
    with pytest.raises(KithError) as no_date:
        services.campaign_schedule(campaign=campaign, actor=personas.alice, data={"schedule_kind": "local_time"})
    assert no_date.value.field == "local_date"
    with pytest.raises(KithError) as ab:
        services.campaign_update(campaign=campaign, actor=personas.alice, data={"ab_enabled": True})
        services.campaign_schedule(campaign=campaign, actor=personas.alice)
    assert ab.value.field == "variants"


def test_drafts_only_reference_objects_of_their_own_workspace(personas):
    foreign_template = template_make(workspace=personas.mallory_inc, name="Mallory's")
    foreign_segment = Segment.objects.create(workspace=personas.mallory_inc, name="Theirs", definition={"tag": "x"})
    with pytest.raises(NotFound) as template:
        campaign_make(workspace=personas.acme, template=foreign_template.pk)
    assert template.value.field == "template"
    with pytest.raises(NotFound) as segment:
        campaign_make(workspace=personas.acme, segments=[], exclusion_segments=[foreign_segment.pk])
    assert segment.value.field == "exclusion_segments"


def test_field_errors_name_the_field(personas):
    with pytest.raises(KithError) as name:
        campaign_make(workspace=personas.acme, name="  ")
    assert name.value.field == "name"
    with pytest.raises(KithError) as throttle:
        campaign_make(workspace=personas.acme, throttle_per_minute=-1)
    assert throttle.value.field == "throttle_per_minute"
    with pytest.raises(KithError) as sample:
        campaign_make(workspace=personas.acme, ab_sample_percent=90)
    assert sample.value.field == "ab_sample_percent"
