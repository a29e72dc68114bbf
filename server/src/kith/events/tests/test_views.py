"""The event settings pages: who may open them, the write key shown once, the trait mapping, the debugger."""

from __future__ import annotations

import pytest
from django.test import Client

from kith.accounts.models import ApiKey
from kith.contacts.services import custom_field_definition_create
from kith.events.models import EventSettings

pytestmark = pytest.mark.django_db


def client_for(user):
    client = Client()
    client.force_login(user)
    return client


def test_only_owners_and_admins_open_the_event_pages(personas):
    for url in ("/settings/events/", "/settings/events/debugger/"):
        assert client_for(personas.alice).get(url).status_code == 200
        assert client_for(personas.bob).get(url).status_code == 403
        assert Client().get(url).status_code == 302
    assert client_for(personas.bob).post("/settings/events/write-key/").status_code == 403
    assert not ApiKey.objects.filter(scopes=["events"]).exists()


def test_a_write_key_is_created_with_the_events_scope_and_shown_once(personas):
    alice = client_for(personas.alice)

    response = alice.post("/settings/events/write-key/")

    key = ApiKey.objects.get(workspace=personas.acme, scopes=["events"])
    assert response.status_code == 200
    assert f"kith_{key.prefix}_" in response.content.decode()
    assert "no-store" in response["Cache-Control"]
    listing = alice.get("/settings/events/").content.decode()
    assert key.masked in listing and f"kith_{key.prefix}_" not in listing.replace(key.masked, "")


def test_the_write_key_form_needs_csrf(personas):
    client = Client(enforce_csrf_checks=True)
    client.force_login(personas.alice)

    assert client.post("/settings/events/write-key/").status_code == 403


def test_saving_the_trait_mapping_validates_targets(personas):
    custom_field_definition_create(workspace=personas.acme, actor=personas.alice, object_type="contact",
                                   key="plan", label="Plan", field_type="text")
    alice = client_for(personas.alice)

    bad = alice.post("/settings/events/", {"mapping": "planName = attributes.nope\nx = owner"})
    good = alice.post("/settings/events/", {"mapping": "planName = attributes.plan\nlastName =\n# comment"})
    garbage = alice.post("/settings/events/", {"mapping": "no equals sign here"})

    assert bad.status_code == 400 and "planName" in bad.content.decode()
    assert good.status_code == 302
    assert EventSettings.objects.get(workspace=personas.acme).trait_mapping == {"planName": "attributes.plan",
                                                                                "lastName": ""}
    assert garbage.status_code == 400 and "Line 1" in garbage.content.decode()


def test_the_debugger_lists_recent_events_escaped_and_refreshes_by_htmx(send, personas):
    send("/v1/track", {"userId": "u-1", "event": "<script>alert(1)</script>", "messageId": "dbg"})
    alice = client_for(personas.alice)

    page = alice.get("/settings/events/debugger/").content.decode()
    rows = alice.get("/settings/events/debugger/", HTTP_HX_REQUEST="true").content.decode()

    assert 'hx-trigger="every 3s"' in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in rows and "<script>alert(1)" not in rows
    assert "<html" not in rows
    assert "Processed" in rows


def test_the_debugger_shows_no_other_workspaces_events(send, personas, mallory_write_key):
    send("/v1/track", {"userId": "u-1", "event": "Mallory Secret", "messageId": "m"}, key=mallory_write_key)

    assert "Mallory Secret" not in client_for(personas.alice).get("/settings/events/debugger/").content.decode()
