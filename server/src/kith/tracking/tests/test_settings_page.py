"""The tracking card of the workspace settings page: admins switch tracking; others cannot."""

from __future__ import annotations

import pytest
from django.test import Client

from kith.core.models import AuditEntry
from kith.tracking.models import TrackingSettings
from kith.tracking.selectors import tracking_policy

pytestmark = pytest.mark.django_db


def _client(user):
    client = Client(enforce_csrf_checks=False)
    client.force_login(user)
    return client


def test_the_settings_page_shows_the_switches_on_by_default(personas):
    response = _client(personas.alice).get("/settings/")
    body = response.content.decode()
    assert response.status_code == 200 and "Open and click tracking" in body
    assert 'name="track_opens"' in body and "checked" in body.split('name="track_opens"')[1].split(">")[0]


def test_an_owner_turns_click_tracking_off_and_it_is_audited(personas):
    response = _client(personas.alice).post("/settings/tracking/", {"track_opens": "on"})
    assert response.status_code == 302 and response["Location"] == "/settings/"
    row = TrackingSettings.objects.get(workspace=personas.acme)
    assert (row.track_opens, row.track_clicks) == (True, False)
    assert tracking_policy(workspace=personas.acme, message_id=1).clicks is False
    entry = AuditEntry.objects.get(action="tracking.settings_updated")
    assert entry.before["track_clicks"] is True and entry.after["track_clicks"] is False
    body = _client(personas.alice).get("/settings/").content.decode()
    assert "checked" not in body.split('name="track_clicks"')[1].split(">")[0]


def test_a_rep_cannot_switch_tracking_and_other_workspaces_are_untouched(personas):
    assert _client(personas.bob).post("/settings/tracking/", {}).status_code == 403
    _client(personas.mallory).post("/settings/tracking/", {})
    assert not TrackingSettings.objects.filter(workspace=personas.acme).exists()
    assert TrackingSettings.objects.get(workspace=personas.mallory_inc).track_opens is False


def test_the_switch_needs_a_csrf_token_and_a_post(personas):
    client = Client(enforce_csrf_checks=True)
    client.force_login(personas.alice)
    assert client.post("/settings/tracking/", {}).status_code == 403
    assert _client(personas.alice).get("/settings/tracking/").status_code == 405
    assert not TrackingSettings.objects.exists()
