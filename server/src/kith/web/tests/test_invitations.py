"""Accepting an invitation from the e-mailed link: the right person joins, nobody else does."""

from __future__ import annotations

import re

import pytest
from django.core import signing
from django.urls import reverse

from kith.accounts.adapters import PENDING_INVITATION_SESSION_KEY
from kith.accounts.middleware import SESSION_KEY
from kith.accounts.models import Invitation, Membership, Role
from kith.accounts.services import invitation_create, invitation_from_token, invitation_token
from kith.accounts.tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db


def _invite_by_mail(personas, client_for, mailoutbox, capture, email: str) -> str:
    """Alice invites ``email`` through the team page; returns the path of the link in the mail."""
    with capture(execute=True):
        client_for(personas.alice).post(reverse("web:members"), {"email": email, "role": "manager"})
    (mail,) = [m for m in mailoutbox if m.to == [email]]
    match = re.search(r"https?://[^/\s]+(/invitations/[^\s]+/)", mail.body)
    assert match, mail.body
    return match.group(1)


def test_the_invited_address_accepts_and_becomes_a_member(
    personas, client_for, mailoutbox, django_capture_on_commit_callbacks
):
    link = _invite_by_mail(personas, client_for, mailoutbox, django_capture_on_commit_callbacks, "carol@acme.test")
    carol = UserFactory(email="carol@acme.test")
    client = client_for(carol)

    page = client.get(link)
    assert page.status_code == 200
    assert b"Join Acme as Manager" in page.content

    response = client.post(link, follow=True)

    membership = Membership.objects.get(workspace=personas.acme, user=carol)
    assert membership.role == Role.MANAGER
    assert client.session[SESSION_KEY] == personas.acme.pk
    assert b"Welcome to Acme!" in response.content
    assert Invitation.objects.get(workspace=personas.acme, email="carol@acme.test").status == "accepted"
    assert client.get(link).status_code == 404  # used up


def test_someone_else_logged_in_cannot_accept(personas, client_for, mailoutbox, django_capture_on_commit_callbacks):
    link = _invite_by_mail(personas, client_for, mailoutbox, django_capture_on_commit_callbacks, "carol@acme.test")
    client = client_for(personas.mallory)

    page = client.get(link)
    assert page.status_code == 200
    assert b"This invitation was sent to" in page.content

    response = client.post(link)

    assert response.status_code == 403
    assert b"This invitation was sent to carol@acme.test; log in with that address." in response.content
    assert not Membership.objects.filter(workspace=personas.acme, user=personas.mallory).exists()
    assert Invitation.objects.get(workspace=personas.acme, email="carol@acme.test").status == "pending"


def test_a_visitor_sees_who_invited_them_and_logging_in_brings_them_back(personas, client):
    carol = UserFactory(email="carol@acme.test")
    invitation = invitation_create(workspace=personas.acme, actor=personas.alice, email=carol.email, role="rep")
    link = reverse("web:invitation_accept", kwargs={"token": invitation_token(invitation)})

    page = client.get(link)
    assert page.status_code == 200
    assert b"Join Acme on Kith" in page.content
    assert b"carol@acme.test" in page.content
    # Tokens are timestamped, so compare what they point at rather than the strings.
    assert invitation_from_token(client.session[PENDING_INVITATION_SESSION_KEY]) == invitation

    login_page = client.get(reverse("account_login"))
    assert b"You're invited to join <strong>Acme</strong>" in login_page.content

    response = client.post(reverse("account_login"), {"login": carol.email, "password": PASSWORD})
    assert response.status_code == 302
    assert response["Location"] == link

    client.post(link)
    assert Membership.objects.filter(workspace=personas.acme, user=carol, role=Role.REP).exists()
    assert PENDING_INVITATION_SESSION_KEY not in client.session


@pytest.mark.parametrize("kind", ["forged", "well-signed but unknown"])
def test_a_bad_link_is_a_friendly_404(client, kind):
    token = "nonsense" if kind == "forged" else signing.dumps("no-such-key", salt="kith.accounts.invitation")

    response = client.get(reverse("web:invitation_accept", kwargs={"token": token}))

    assert response.status_code == 404
    assert b"This invitation can't be used" in response.content


def test_a_revoked_invitation_is_a_friendly_404_and_clears_the_pending_session(personas, client):
    invitation = invitation_create(workspace=personas.acme, actor=personas.alice, email="c@acme.test", role="rep")
    link = reverse("web:invitation_accept", kwargs={"token": invitation_token(invitation)})
    client.get(link)
    Invitation.objects.filter(pk=invitation.pk).update(status=Invitation.Status.REVOKED)

    response = client.get(link)

    assert response.status_code == 404
    assert PENDING_INVITATION_SESSION_KEY not in client.session


def test_signing_up_through_an_invitation_joins_that_workspace_instead_of_making_one(personas, client, mailoutbox):
    invitation = invitation_create(workspace=personas.acme, actor=personas.alice, email="dave@acme.test", role="rep")
    link = reverse("web:invitation_accept", kwargs={"token": invitation_token(invitation)})
    client.get(link)

    client.post(reverse("account_signup"), {"email": "dave@acme.test", "password1": PASSWORD, "password2": PASSWORD})
    (mail,) = [m for m in mailoutbox if m.to == ["dave@acme.test"]]
    confirm_path = re.search(r"https?://[^/\s]+(/accounts/confirm-email/[^\s]+/)", mail.body).group(1)
    response = client.post(confirm_path)

    assert response.status_code == 302
    assert response["Location"] == link
    client.post(link)
    dave = Membership.objects.get(user__email="dave@acme.test")
    assert dave.workspace == personas.acme
    assert Membership.objects.filter(user__email="dave@acme.test").count() == 1
