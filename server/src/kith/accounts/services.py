"""Writes for accounts: workspaces, memberships, invitations, API keys. Each writes its audit row."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from typing import Any

from django.conf import settings
from django.core import signing
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.text import slugify

from kith.accounts.models import ApiKey, ApiKeyScope, Invitation, Membership, Role, User, Workspace
from kith.core.audit import audit_record, diff, snapshot
from kith.core.errors import Conflict, KithError, NotFound, PermissionDenied
from kith.core.jobs import enqueue_on_commit, job

INVITATION_TTL = dt.timedelta(days=14)
_INVITATION_SALT = "kith.accounts.invitation"
# How stale last_used_at may get: one UPDATE per key per minute at most, not one per API call.
API_KEY_TOUCH_INTERVAL = dt.timedelta(seconds=60)


# --- workspaces --------------------------------------------------------------------------------------------
def _unique_slug(name: str) -> str:
    base = slugify(name)[:50] or "workspace"
    slug, n = base, 1
    while Workspace.objects.filter(slug=slug).exists():
        n += 1
        slug = f"{base}-{n}"
    return slug


@transaction.atomic
def workspace_create(*, name: str, owner: User, timezone_name: str = "UTC") -> Workspace:
    """Create a workspace with ``owner`` as its first member (role owner)."""
    name = name.strip()
    if not name:
        raise KithError("A workspace needs a name.", field="name")
    workspace = Workspace.objects.create(name=name, slug=_unique_slug(name), timezone=timezone_name)
    Membership.objects.create(workspace=workspace, user=owner, role=Role.OWNER)
    audit_record(
        action="workspace.created",
        actor=owner,
        workspace=workspace,
        target=workspace,
        after=snapshot(workspace, ["name", "slug", "timezone"]),
    )
    return workspace


@transaction.atomic
def workspace_update(*, workspace: Workspace, actor: Any, name: str, timezone_name: str) -> Workspace:
    name = name.strip()
    if not name:
        raise KithError("A workspace needs a name.", field="name")
    fields = ["name", "timezone"]
    before = snapshot(workspace, fields)
    workspace.name, workspace.timezone = name, timezone_name
    workspace.save(update_fields=fields)
    old, new = diff(before, snapshot(workspace, fields))
    if new:
        audit_record(action="workspace.updated", actor=actor, workspace=workspace, target=workspace, before=old,
                     after=new)
    return workspace


# --- memberships -------------------------------------------------------------------------------------------
def _owner_count(workspace: Workspace) -> int:
    return Membership.objects.filter(workspace=workspace, role=Role.OWNER).count()


@transaction.atomic
def member_set_role(*, membership: Membership, role: str, actor: Any, actor_membership: Membership | None) -> Membership:
    """Change a member's role. Only owners grant or take away ownership; the last owner stays an owner."""
    if role not in Role.values:
        raise KithError(f"Unknown role {role!r}.", field="role")
    touches_owner = Role.OWNER in (role, membership.role)
    if touches_owner and (actor_membership is None or actor_membership.role != Role.OWNER):
        raise PermissionDenied("Only an owner can grant or remove the owner role.")
    if membership.role == Role.OWNER and role != Role.OWNER and _owner_count(membership.workspace) == 1:
        raise Conflict("A workspace keeps at least one owner.", field="role")
    before = snapshot(membership, ["role"])
    membership.role = role
    membership.save(update_fields=["role"])
    audit_record(
        action="member.role_changed",
        actor=actor,
        workspace=membership.workspace,
        target=membership,
        target_label=membership.user.email,
        before=before,
        after=snapshot(membership, ["role"]),
    )
    return membership


@transaction.atomic
def member_remove(*, membership: Membership, actor: Any, actor_membership: Membership | None) -> None:
    if membership.role == Role.OWNER:
        if actor_membership is None or actor_membership.role != Role.OWNER:
            raise PermissionDenied("Only an owner can remove an owner.")
        if _owner_count(membership.workspace) == 1:
            raise Conflict("A workspace keeps at least one owner.")
    audit_record(
        action="member.removed",
        actor=actor,
        workspace=membership.workspace,
        target=membership,
        target_label=membership.user.email,
        before=snapshot(membership, ["user", "role"]),
    )
    membership.delete()


# --- invitations -------------------------------------------------------------------------------------------
def invitation_token(invitation: Invitation) -> str:
    """The token in the invitation link: the invitation's random key, signed with SECRET_KEY."""
    return signing.dumps(invitation.key, salt=_INVITATION_SALT)


def invitation_from_token(token: str) -> Invitation:
    try:
        key = signing.loads(token, salt=_INVITATION_SALT, max_age=INVITATION_TTL)
    except signing.BadSignature as exc:
        raise NotFound("This invitation link is not valid.") from exc
    invitation = Invitation.objects.select_related("workspace").filter(key=key).first()
    if invitation is None or not invitation.is_open:
        raise NotFound("This invitation is no longer open.")
    return invitation


@transaction.atomic
def invitation_create(*, workspace: Workspace, actor: Any, email: str, role: str) -> Invitation:
    """Invite ``email`` to the workspace; the e-mail goes out after commit (job ``invitation_send_task``)."""
    email = email.strip().lower()
    if role not in Role.values:
        raise KithError(f"Unknown role {role!r}.", field="role")
    if role == Role.OWNER:
        raise KithError("Invite as admin, then promote to owner.", field="role")
    if Membership.objects.filter(workspace=workspace, user__email__iexact=email).exists():
        raise Conflict(f"{email} is already a member.", field="email")
    Invitation.objects.filter(workspace=workspace, email__iexact=email, status=Invitation.Status.PENDING).update(
        status=Invitation.Status.REVOKED
    )
    invitation = Invitation.objects.create(
        workspace=workspace,
        email=email,
        role=role,
        key=secrets.token_urlsafe(32),
        invited_by=actor if isinstance(actor, User) else None,
        expires_at=timezone.now() + INVITATION_TTL,
    )
    audit_record(action="invitation.created", actor=actor, workspace=workspace, target=invitation,
                 after=snapshot(invitation, ["email", "role"]))
    enqueue_on_commit(invitation_send_task, invitation_id=invitation.pk)
    return invitation


def invitation_send_email(*, invitation: Invitation) -> None:
    url = settings.KITH_BASE_URL + reverse("web:invitation_accept", kwargs={"token": invitation_token(invitation)})
    context = {"invitation": invitation, "url": url}
    send_mail(
        subject=f"You are invited to {invitation.workspace.name} on Kith",
        message=render_to_string("accounts/email/invitation.txt", context),
        from_email=None,
        recipient_list=[invitation.email],
    )


@job
def invitation_send_task(*, invitation_id: int) -> None:
    invitation = Invitation.objects.select_related("workspace", "invited_by").filter(pk=invitation_id).first()
    if invitation is not None and invitation.is_open:
        invitation_send_email(invitation=invitation)


@transaction.atomic
def invitation_revoke(*, invitation: Invitation, actor: Any) -> None:
    invitation.status = Invitation.Status.REVOKED
    invitation.save(update_fields=["status"])
    audit_record(action="invitation.revoked", actor=actor, workspace=invitation.workspace, target=invitation)


@transaction.atomic
def invitation_accept(*, invitation: Invitation, user: User) -> Membership:
    """Join the workspace. The invitation is bound to its address: a forwarded link does not work for others."""
    if user.email.lower() != invitation.email.lower():
        raise PermissionDenied(f"This invitation was sent to {invitation.email}; log in with that address.")
    invitation = Invitation.objects.select_for_update().get(pk=invitation.pk)
    if not invitation.is_open:
        raise NotFound("This invitation is no longer open.")
    membership, _ = Membership.objects.get_or_create(
        workspace=invitation.workspace, user=user, defaults={"role": invitation.role}
    )
    invitation.status = Invitation.Status.ACCEPTED
    invitation.accepted_by = user
    invitation.save(update_fields=["status", "accepted_by"])
    audit_record(action="member.joined", actor=user, workspace=invitation.workspace, target=membership,
                 target_label=user.email, after={"role": membership.role})
    return membership


# --- API keys ----------------------------------------------------------------------------------------------
def _hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@transaction.atomic
def api_key_create(*, workspace: Workspace, actor: Any, name: str, scopes: list[str]) -> tuple[ApiKey, str]:
    """Create a key and return it with its full secret, which is never stored and cannot be shown again."""
    name = name.strip()
    if not name:
        raise KithError("Give the key a name so you can recognise it later.", field="name")
    unknown = sorted(set(scopes) - set(ApiKeyScope.values))
    if not scopes or unknown:
        raise KithError(f"Choose scopes among {', '.join(ApiKeyScope.values)}.", field="scopes")
    for _ in range(5):
        prefix = secrets.token_hex(4)
        secret = secrets.token_urlsafe(32)
        try:
            with transaction.atomic():
                key = ApiKey.objects.create(
                    workspace=workspace,
                    name=name,
                    prefix=prefix,
                    secret_hash=_hash_secret(secret),
                    scopes=sorted(set(scopes)),
                    created_by=actor if isinstance(actor, User) else getattr(actor, "created_by", None),
                )
            break
        except IntegrityError:  # prefix collision: 1 in 4 billion, try another
            continue
    else:
        raise Conflict("Could not allocate a key prefix; try again.")
    audit_record(action="api_key.created", actor=actor, workspace=workspace, target=key,
                 after=snapshot(key, ["name", "prefix", "scopes"]))
    return key, f"kith_{prefix}_{secret}"


@transaction.atomic
def api_key_revoke(*, api_key: ApiKey, actor: Any) -> ApiKey:
    if api_key.revoked_at is None:
        api_key.revoked_at = timezone.now()
        api_key.save(update_fields=["revoked_at"])
        audit_record(action="api_key.revoked", actor=actor, workspace=api_key.workspace, target=api_key)
    return api_key


def api_key_authenticate(raw: str) -> ApiKey | None:
    """The active key whose secret matches ``raw``, or ``None``. Touches last_used_at at most once a minute."""
    parts = raw.strip().split("_")
    if len(parts) < 3 or parts[0] != "kith":
        return None
    prefix, secret = parts[1], "_".join(parts[2:])
    key = ApiKey.objects.select_related("workspace", "created_by").filter(prefix=prefix, revoked_at=None).first()
    if key is None or not secrets.compare_digest(key.secret_hash, _hash_secret(secret)):
        return None
    now = timezone.now()
    if key.last_used_at is None or now - key.last_used_at > API_KEY_TOUCH_INTERVAL:
        ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
        key.last_used_at = now
    return key
