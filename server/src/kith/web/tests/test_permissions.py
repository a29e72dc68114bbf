"""Who may open which page: owners and admins manage the workspace, other members read, outsiders see nothing."""

from __future__ import annotations

import pytest
from django.urls import reverse

from kith.accounts.models import Membership, Role
from kith.accounts.services import api_key_create, invitation_create

pytestmark = pytest.mark.django_db

ADMIN_PAGES = ["web:api_keys", "web:api_key_create", "web:audit_log", "web:workspace_settings"]


@pytest.mark.parametrize("name", ADMIN_PAGES)
def test_bob_the_rep_gets_the_403_page_on_admin_pages(personas, client_for, name):
    response = client_for(personas.bob).get(reverse(name))

    assert response.status_code == 403
    assert b"have access" in response.content
    assert b"Traceback" not in response.content


@pytest.mark.parametrize("name", ADMIN_PAGES)
def test_alice_the_owner_opens_admin_pages(personas, client_for, name):
    assert client_for(personas.alice).get(reverse(name)).status_code == 200


def test_bob_cannot_change_roles_not_even_his_own(personas, client_for):
    bob_membership = Membership.objects.get(user=personas.bob, workspace=personas.acme)
    alice_membership = Membership.objects.get(user=personas.alice, workspace=personas.acme)
    bob = client_for(personas.bob)

    for membership in (bob_membership, alice_membership):
        response = bob.post(reverse("web:member_role", args=[membership.pk]), {"role": "admin"})
        assert response.status_code == 403

    assert Membership.objects.get(pk=bob_membership.pk).role == Role.REP
    assert Membership.objects.get(pk=alice_membership.pk).role == Role.OWNER


def test_bob_cannot_invite_or_remove_people(personas, client_for):
    alice_membership = Membership.objects.get(user=personas.alice, workspace=personas.acme)
    bob = client_for(personas.bob)

    assert bob.post(reverse("web:members"), {"email": "eve@acme.test", "role": "admin"}).status_code == 403
    assert bob.post(reverse("web:member_remove", args=[alice_membership.pk])).status_code == 403
    assert Membership.objects.filter(pk=alice_membership.pk).exists()
    assert not personas.acme.invitations.exists()


def test_bob_sees_the_team_read_only(personas, client_for):
    response = client_for(personas.bob).get(reverse("web:members"))

    assert response.status_code == 200
    html = response.content.decode()
    assert "alice@acme.test" in html and "bob@acme.test" in html
    assert 'name="role"' not in html  # no role selects, no invite form
    assert "Remove" not in html


def test_the_sidebar_hides_admin_pages_from_bob(personas, client_for):
    html = client_for(personas.bob).get(reverse("web:home")).content.decode()

    assert reverse("web:members") in html
    for name in ADMIN_PAGES:
        assert f'href="{reverse(name)}"' not in html


def test_mallory_gets_404_for_acme_objects_and_changes_nothing(personas, client_for):
    key, _ = api_key_create(workspace=personas.acme, actor=personas.alice, name="acme", scopes=["read"])
    invitation = invitation_create(workspace=personas.acme, actor=personas.alice, email="x@acme.test", role="rep")
    bob_membership = Membership.objects.get(user=personas.bob, workspace=personas.acme)
    mallory = client_for(personas.mallory)

    urls = [
        reverse("web:member_role", args=[bob_membership.pk]),
        reverse("web:member_remove", args=[bob_membership.pk]),
        reverse("web:invitation_revoke", args=[invitation.pk]),
        reverse("web:api_key_revoke", args=[key.pk]),
    ]
    for url in urls:
        assert mallory.get(url).status_code == 404
        assert mallory.post(url, {"role": "viewer"}).status_code == 404

    key.refresh_from_db()
    invitation.refresh_from_db()
    assert key.revoked_at is None
    assert invitation.status == "pending"
    assert Membership.objects.get(pk=bob_membership.pk).role == Role.REP


def test_anonymous_visitors_are_sent_to_log_in(client):
    for name in ["web:home", "web:members", "web:api_keys", "web:audit_log", "web:workspace_settings"]:
        response = client.get(reverse(name))
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("account_login"))


def test_anonymous_visitors_get_404_on_object_routes(personas, client):
    membership = Membership.objects.get(user=personas.bob, workspace=personas.acme)

    assert client.get(reverse("web:member_role", args=[membership.pk])).status_code == 404
    assert client.post(reverse("web:member_remove", args=[membership.pk])).status_code == 404
