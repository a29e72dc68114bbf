"""Demo data for accounts: the demo login, the "Demo Co" workspace, its team, an open invitation and an API key.

Everything goes through ``kith.accounts.services`` so the demo carries the audit trail real use would leave.
Teammates join the way people do: an invitation is created and accepted.
"""

from __future__ import annotations

from dataclasses import dataclass

from allauth.account.models import EmailAddress

from kith.accounts.models import ApiKey, ApiKeyScope, Invitation, Membership, Role, User, Workspace
from kith.accounts.services import api_key_create, invitation_accept, invitation_create, workspace_create
from kith.core.demo import DemoContext

DEMO_EMAIL = "demo@kith.localhost"
DEMO_PASSWORD = "kith-demo"
DEMO_WORKSPACE_NAME = "Demo Co"
DEMO_API_KEY_NAME = "Demo integration"


@dataclass(frozen=True)
class Teammate:
    email: str
    full_name: str
    role: Role


# One person per role that behaves differently in the UI, so each view can be tried by logging in as them.
TEAMMATES = (
    Teammate("bob@kith.localhost", "Bob Rep", Role.REP),
    Teammate("mia@kith.localhost", "Mia Marketer", Role.MARKETER),
    Teammate("victor@kith.localhost", "Victor Viewer", Role.VIEWER),
)
PENDING_INVITE = Teammate("carol@kith.localhost", "Carol Manager", Role.MANAGER)


def _user_with_verified_email(*, email: str, full_name: str) -> tuple[User, bool]:
    """The user with this login, created with the demo password if missing.

    An existing user keeps their password: someone who changed it on purpose should not find it reset.
    The address is marked verified because allauth requires that before a first login (mandatory verification).
    """
    user = User.objects.filter(email=email).first()
    created = user is None
    if user is None:
        user = User.objects.create_user(email, DEMO_PASSWORD, full_name=full_name)
    EmailAddress.objects.update_or_create(user=user, email=email, defaults={"verified": True, "primary": True})
    return user, created


def demo_owner_and_workspace(context: DemoContext) -> None:
    owner, created = _user_with_verified_email(email=DEMO_EMAIL, full_name="Dana Demo")
    if created:
        context.say(f"created demo user {owner.email}")
    workspace = Workspace.objects.filter(
        name=DEMO_WORKSPACE_NAME, memberships__user=owner, memberships__role=Role.OWNER
    ).first()
    if workspace is None:
        workspace = workspace_create(name=DEMO_WORKSPACE_NAME, owner=owner, timezone_name="Europe/Berlin")
        context.say(f"created workspace {workspace.name}")
    context.owner, context.workspace = owner, workspace
    context.summary.append(f"Log in as {DEMO_EMAIL} with password {DEMO_PASSWORD} (owner of {DEMO_WORKSPACE_NAME}).")


def demo_team(context: DemoContext) -> None:
    owner, workspace = context.require_workspace()
    for teammate in TEAMMATES:
        user, _ = _user_with_verified_email(email=teammate.email, full_name=teammate.full_name)
        if Membership.objects.filter(workspace=workspace, user=user).exists():
            continue
        invitation = invitation_create(workspace=workspace, actor=owner, email=user.email, role=teammate.role)
        invitation_accept(invitation=invitation, user=user)
        context.say(f"{user.email} joined {workspace.name} as {teammate.role.label}")
    # Any earlier invitation of this address (open, accepted or revoked in the UI) counts as done.
    if not Invitation.objects.filter(workspace=workspace, email__iexact=PENDING_INVITE.email).exists():
        invitation_create(workspace=workspace, actor=owner, email=PENDING_INVITE.email, role=PENDING_INVITE.role)
        context.say(f"invited {PENDING_INVITE.email} as {PENDING_INVITE.role.label} (pending)")
    roles = ", ".join(f"{t.email} ({t.role.label})" for t in TEAMMATES)
    context.summary.append(f"Teammates, same password: {roles}.")


def demo_api_key(context: DemoContext) -> None:
    owner, workspace = context.require_workspace()
    key = ApiKey.objects.filter(workspace=workspace, name=DEMO_API_KEY_NAME).first()
    if key is None:
        # The secret is returned once and deliberately dropped: the demo prints nothing that grants access.
        key, _secret = api_key_create(
            workspace=workspace, actor=owner, name=DEMO_API_KEY_NAME, scopes=[ApiKeyScope.READ, ApiKeyScope.WRITE]
        )
        context.say(f"created API key {key.masked}")
    context.summary.append(
        f"API key {key.masked} ({key.name}) exists; its secret is never shown again. "
        "Create your own key under Settings → API keys to call /api/v1/."
    )


DEMO_STEPS = (demo_owner_and_workspace, demo_team, demo_api_key)
