import pytest
from django.core import mail
from django.db import transaction

from kith.accounts.models import Invitation, Membership, Role
from kith.accounts.services import (
    invitation_accept,
    invitation_create,
    invitation_from_token,
    invitation_token,
    member_remove,
    member_set_role,
    workspace_create,
)
from kith.accounts.tests.factories import UserFactory
from kith.core.errors import Conflict, KithError, NotFound, PermissionDenied
from kith.core.models import AuditEntry

pytestmark = pytest.mark.django_db


def _membership(workspace, user):
    return Membership.objects.get(workspace=workspace, user=user)


def test_creating_a_workspace_makes_the_creator_its_owner_and_audits_it(personas):
    workspace = workspace_create(name="Globex", owner=personas.bob)

    assert _membership(workspace, personas.bob).role == Role.OWNER
    entry = AuditEntry.objects.get(workspace=workspace, action="workspace.created")
    assert entry.actor == personas.bob
    assert entry.after["name"] == "Globex"


def test_role_change_is_audited_with_before_and_after(personas):
    alice = _membership(personas.acme, personas.alice)
    bob = _membership(personas.acme, personas.bob)

    member_set_role(membership=bob, role=Role.MANAGER, actor=personas.alice, actor_membership=alice)

    entry = AuditEntry.objects.get(action="member.role_changed")
    assert (entry.before, entry.after, entry.actor_label) == ({"role": "rep"}, {"role": "manager"},
                                                               "alice@acme.test")


def test_an_admin_cannot_make_someone_owner_and_the_last_owner_stays(personas):
    alice = _membership(personas.acme, personas.alice)
    bob = _membership(personas.acme, personas.bob)
    member_set_role(membership=bob, role=Role.ADMIN, actor=personas.alice, actor_membership=alice)

    with pytest.raises(PermissionDenied):
        member_set_role(membership=alice, role=Role.VIEWER, actor=personas.bob, actor_membership=bob)
    with pytest.raises(PermissionDenied):
        member_set_role(membership=bob, role=Role.OWNER, actor=personas.bob, actor_membership=bob)
    with pytest.raises(Conflict):
        member_set_role(membership=alice, role=Role.ADMIN, actor=personas.alice, actor_membership=alice)
    with pytest.raises(Conflict):
        member_remove(membership=alice, actor=personas.alice, actor_membership=alice)
    assert _membership(personas.acme, personas.alice).role == Role.OWNER


def test_unknown_role_is_a_field_error(personas):
    alice = _membership(personas.acme, personas.alice)
    with pytest.raises(KithError) as raised:
        member_set_role(membership=alice, role="god", actor=personas.alice, actor_membership=alice)
    assert raised.value.field == "role"


def test_invitation_mails_a_signed_link_that_only_the_invited_address_can_use(
    personas, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        invitation = invitation_create(workspace=personas.acme, actor=personas.alice, email="Carol@Acme.test",
                                       role=Role.MARKETER)

    assert len(mail.outbox) == 1
    token = invitation_token(invitation)
    assert token in mail.outbox[0].body
    assert invitation_from_token(token) == invitation

    with pytest.raises(PermissionDenied):
        invitation_accept(invitation=invitation, user=personas.mallory)
    assert not Membership.objects.filter(workspace=personas.acme, user=personas.mallory).exists()

    carol = UserFactory(email="carol@acme.test")
    membership = invitation_accept(invitation=invitation, user=carol)
    assert membership.role == Role.MARKETER
    with pytest.raises(NotFound):
        invitation_from_token(token)  # used up


def test_a_tampered_invitation_token_is_not_found(personas):
    invitation = invitation_create(workspace=personas.acme, actor=personas.alice, email="carol@acme.test",
                                   role=Role.REP)
    token = invitation_token(invitation)
    # change a character of the signature that carries all 6 of its bits (the last may carry padding bits only)
    tampered = token[:-2] + ("B" if token[-2] == "A" else "A") + token[-1]
    assert tampered != token
    with pytest.raises(NotFound):
        invitation_from_token(tampered)


def test_reinviting_replaces_the_open_invitation(personas):
    first = invitation_create(workspace=personas.acme, actor=personas.alice, email="carol@acme.test", role="rep")
    second = invitation_create(workspace=personas.acme, actor=personas.alice, email="carol@acme.test", role="viewer")

    first.refresh_from_db()
    assert first.status == Invitation.Status.REVOKED
    assert second.status == Invitation.Status.PENDING


def test_inviting_a_member_is_a_conflict(personas):
    with pytest.raises(Conflict):
        invitation_create(workspace=personas.acme, actor=personas.alice, email="BOB@acme.test", role="rep")


def test_invitation_mail_is_not_sent_when_the_transaction_rolls_back(personas, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        with pytest.raises(RuntimeError), transaction.atomic():
            invitation_create(workspace=personas.acme, actor=personas.alice, email="carol@acme.test", role="rep")
            raise RuntimeError("the surrounding work failed")

    assert callbacks == []
    assert mail.outbox == []
    assert not Invitation.objects.filter(email="carol@acme.test").exists()
