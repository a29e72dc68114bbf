"""The dashboard, creating and switching workspaces, and workspace settings."""

from __future__ import annotations

import pytest
from django.urls import reverse

from kith.accounts.middleware import SESSION_KEY
from kith.accounts.models import Membership, Role, Workspace
from kith.accounts.tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_the_dashboard_welcomes_alice_to_acme_with_next_steps(personas, client_for):
    response = client_for(personas.alice).get(reverse("web:home"))

    assert response.status_code == 200
    html = response.content.decode()
    assert "<title>Dashboard · Acme · Kith</title>" in html
    assert "Welcome, Alice Owner" in html
    for step in ("Invite your team", "Create an API key", "Protect your account"):
        assert step in html
    assert f'href="{reverse("web:api_key_create")}"' in html


def test_a_user_without_any_workspace_is_offered_to_create_one(client_for):
    loner = UserFactory(email="loner@example.test")

    response = client_for(loner).get(reverse("web:home"))

    assert response.status_code == 200
    assert b"Create a workspace to get started" in response.content
    assert reverse("web:workspace_create").encode() in response.content


def test_pages_that_need_a_workspace_send_a_user_without_one_to_the_dashboard(client_for):
    loner = UserFactory(email="loner@example.test")

    response = client_for(loner).get(reverse("web:members"))

    assert response.status_code == 302
    assert response["Location"] == reverse("web:home")


def test_creating_a_workspace_makes_you_its_owner_and_switches_to_it(personas, client_for):
    client = client_for(personas.bob)

    response = client.post(reverse("web:workspace_create"), {"name": "Bob's Side Project", "timezone": "Europe/Berlin"})

    workspace = Workspace.objects.get(name="Bob's Side Project")
    assert response.status_code == 302
    assert workspace.timezone == "Europe/Berlin"
    assert Membership.objects.get(workspace=workspace, user=personas.bob).role == Role.OWNER
    assert client.session[SESSION_KEY] == workspace.pk
    assert b"Bob&#x27;s Side Project" in client.get(reverse("web:home")).content


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({}, "This field is required."),
        ({"name": "", "timezone": "UTC"}, "This field is required."),
        ({"name": "   ", "timezone": "UTC"}, "This field is required."),
        ({"name": "Ok", "timezone": "Mars/Olympus_Mons"}, "Use an IANA time zone name such as Europe/Berlin."),
        ({"name": "x" * 101, "timezone": "UTC"}, "Ensure this value has at most 100 characters"),
    ],
)
def test_a_bad_new_workspace_comes_back_with_field_errors(personas, client_for, data, message):
    response = client_for(personas.alice).post(reverse("web:workspace_create"), data)

    assert response.status_code == 400
    assert message in response.content.decode()
    assert Workspace.objects.count() == 2


def test_switching_to_another_of_your_workspaces(personas, client_for):
    Membership.objects.create(workspace=personas.mallory_inc, user=personas.alice, role=Role.VIEWER)
    client = client_for(personas.alice)

    response = client.post(reverse("web:workspace_switch"), {"workspace": personas.mallory_inc.pk}, follow=True)

    assert client.session[SESSION_KEY] == personas.mallory_inc.pk
    assert b"Switched to Mallory Inc." in response.content
    assert b"<title>Dashboard \xc2\xb7 Mallory Inc \xc2\xb7 Kith</title>" in response.content


@pytest.mark.parametrize("value", ["mallory_inc", "999999", "not-a-number", ""])
def test_switching_to_a_workspace_you_are_not_in_is_refused(personas, client_for, value):
    client = client_for(personas.alice)
    client.get(reverse("web:home"))  # the middleware stores Acme as the current workspace
    workspace_id = personas.mallory_inc.pk if value == "mallory_inc" else value

    response = client.post(reverse("web:workspace_switch"), {"workspace": workspace_id})

    assert response.status_code == 404
    assert client.session[SESSION_KEY] == personas.acme.pk


def test_switching_needs_a_post(personas, client_for):
    assert client_for(personas.alice).get(reverse("web:workspace_switch")).status_code == 405


def test_the_switcher_lists_only_your_workspaces(personas, client_for):
    html = client_for(personas.alice).get(reverse("web:home")).content.decode()

    assert f'value="{personas.acme.pk}"' in html
    assert "Mallory Inc" not in html


def test_alice_renames_the_workspace_and_sets_its_time_zone(personas, client_for):
    response = client_for(personas.alice).post(
        reverse("web:workspace_settings"), {"name": "Acme Corp", "timezone": "America/New_York"}, follow=True
    )

    personas.acme.refresh_from_db()
    assert (personas.acme.name, personas.acme.timezone) == ("Acme Corp", "America/New_York")
    assert b"Workspace settings saved." in response.content


def test_an_unknown_time_zone_is_rejected_and_nothing_changes(personas, client_for):
    response = client_for(personas.alice).post(
        reverse("web:workspace_settings"), {"name": "Renamed", "timezone": "Europe/Atlantis"}
    )

    assert response.status_code == 400
    assert b"Use an IANA time zone name such as Europe/Berlin." in response.content
    personas.acme.refresh_from_db()
    assert (personas.acme.name, personas.acme.timezone) == ("Acme", "UTC")
