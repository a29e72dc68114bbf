"""The team page: inline role changes, removing members, inviting and revoking — and bad input on each."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse

from kith.accounts.models import Invitation, Membership, Role
from kith.accounts.services import invitation_create
from kith.core.models import AuditEntry

pytestmark = pytest.mark.django_db


@pytest.fixture
def bob_membership(personas) -> Membership:
    return Membership.objects.get(user=personas.bob, workspace=personas.acme)


def test_alice_changes_bobs_role_inline_and_gets_the_row_back(personas, client_for, bob_membership):
    response = client_for(personas.alice).post(
        reverse("web:member_role", args=[bob_membership.pk]), {"role": "manager"}, HTTP_HX_REQUEST="true"
    )

    assert response.status_code == 200
    html = response.content.decode()
    assert html.lstrip().startswith(f'<tr id="member-{bob_membership.pk}"')
    assert '<option value="manager" selected>' in html
    toast = json.loads(response["HX-Trigger"])["kith:toast"]
    assert toast == {"message": "bob@acme.test is now Manager.", "level": "success"}
    assert Membership.objects.get(pk=bob_membership.pk).role == Role.MANAGER
    assert AuditEntry.objects.filter(action="member.role_changed", workspace=personas.acme).exists()


def test_without_htmx_a_role_change_redirects_with_a_message(personas, client_for, bob_membership):
    client = client_for(personas.alice)
    response = client.post(reverse("web:member_role", args=[bob_membership.pk]), {"role": "viewer"}, follow=True)

    assert response.redirect_chain[-1][0] == reverse("web:members")
    assert b"bob@acme.test is now Viewer." in response.content


@pytest.mark.parametrize(("data", "message"), [({"role": "god"}, "Select a valid choice"), ({}, "required")])
def test_an_unknown_role_is_a_field_error_not_a_crash(personas, client_for, bob_membership, data, message):
    response = client_for(personas.alice).post(reverse("web:member_role", args=[bob_membership.pk]), data)

    assert response.status_code == 400
    assert message in response.content.decode()
    assert Membership.objects.get(pk=bob_membership.pk).role == Role.REP


def test_the_last_owner_cannot_step_down_and_the_row_says_why(personas, client_for):
    alice_membership = Membership.objects.get(user=personas.alice, workspace=personas.acme)

    response = client_for(personas.alice).post(
        reverse("web:member_role", args=[alice_membership.pk]), {"role": "admin"}, HTTP_HX_REQUEST="true"
    )

    assert response.status_code == 200
    assert "A workspace keeps at least one owner." in response.content.decode()
    assert json.loads(response["HX-Trigger"])["kith:toast"]["level"] == "danger"
    assert '<option value="owner" selected>' in response.content.decode()
    assert Membership.objects.get(pk=alice_membership.pk).role == Role.OWNER


def test_an_admin_cannot_hand_out_ownership(personas, client_for, bob_membership):
    bob_membership.role = Role.ADMIN
    bob_membership.save(update_fields=["role"])

    response = client_for(personas.bob).post(
        reverse("web:member_role", args=[bob_membership.pk]), {"role": "owner"}
    )

    assert response.status_code == 400
    assert b"Only an owner can grant or remove the owner role." in response.content
    assert Membership.objects.get(pk=bob_membership.pk).role == Role.ADMIN


def test_removing_a_member_asks_first_then_removes(personas, client_for, bob_membership):
    client = client_for(personas.alice)
    url = reverse("web:member_remove", args=[bob_membership.pk])

    confirm = client.get(url)
    assert confirm.status_code == 200
    assert b"Remove this member?" in confirm.content
    assert Membership.objects.filter(pk=bob_membership.pk).exists()

    modal = client.get(url, HTTP_HX_REQUEST="true")
    assert b"<html" not in modal.content and b'id="kith-modal-title"' in modal.content

    response = client.post(url, follow=True)
    assert b"bob@acme.test was removed from Acme." in response.content
    assert not Membership.objects.filter(pk=bob_membership.pk).exists()


def test_removing_the_last_owner_is_refused_with_a_message(personas, client_for):
    alice_membership = Membership.objects.get(user=personas.alice, workspace=personas.acme)

    response = client_for(personas.alice).post(reverse("web:member_remove", args=[alice_membership.pk]), follow=True)

    assert response.status_code == 200
    assert b"A workspace keeps at least one owner." in response.content
    assert Membership.objects.filter(pk=alice_membership.pk).exists()


def test_inviting_sends_the_link_by_mail(personas, client_for, mailoutbox, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(personas.alice).post(
            reverse("web:members"), {"email": "Carol@Acme.test", "role": "marketer"}, follow=True
        )

    assert b"Invitation sent to carol@acme.test." in response.content
    invitation = Invitation.objects.get(workspace=personas.acme, email="carol@acme.test")
    assert invitation.role == Role.MARKETER
    assert [m.to for m in mailoutbox] == [["carol@acme.test"]]
    assert "/invitations/" in mailoutbox[0].body


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"email": "not-an-address", "role": "rep"}, "Enter a valid email address."),
        ({"email": "x@acme.test", "role": "owner"}, "Select a valid choice."),
        ({}, "This field is required."),
        ({"email": "", "role": "rep"}, "This field is required."),
        ({"email": "bob@acme.test", "role": "rep"}, "bob@acme.test is already a member."),
    ],
)
def test_bad_invitations_come_back_with_field_errors(personas, client_for, data, message):
    response = client_for(personas.alice).post(reverse("web:members"), data)

    assert response.status_code == 400
    assert message in response.content.decode()
    assert 'aria-invalid="true"' in response.content.decode()
    assert not Invitation.objects.filter(workspace=personas.acme).exists()


def test_revoking_an_invitation(personas, client_for):
    invitation = invitation_create(workspace=personas.acme, actor=personas.alice, email="c@acme.test", role="rep")
    client = client_for(personas.alice)
    url = reverse("web:invitation_revoke", args=[invitation.pk])

    assert b"Revoke this invitation?" in client.get(url).content
    response = client.post(url, follow=True)

    assert b"The invitation for c@acme.test was revoked." in response.content
    invitation.refresh_from_db()
    assert invitation.status == Invitation.Status.REVOKED
    assert client.get(url).status_code == 404  # no longer pending


def test_the_team_page_lists_pending_invitations_for_admins(personas, client_for):
    invitation_create(workspace=personas.acme, actor=personas.alice, email="pending@acme.test", role="viewer")

    assert b"pending@acme.test" in client_for(personas.alice).get(reverse("web:members")).content
    assert b"pending@acme.test" not in client_for(personas.bob).get(reverse("web:members")).content
