"""Reads for accounts. Every tenant-owned read starts from the caller's workspace."""

from __future__ import annotations

from django.db.models import Q, QuerySet
from django.db.models.functions import Lower

from kith.accounts.models import ApiKey, Invitation, Membership, User, Workspace
from kith.core.models import AuditEntry


def membership_list_for_user(*, user: User) -> QuerySet[Membership]:
    return Membership.objects.filter(user=user).select_related("workspace").order_by("workspace__name")


def membership_get(*, user: User, workspace_id: int) -> Membership | None:
    return Membership.objects.select_related("workspace").filter(user=user, workspace_id=workspace_id).first()


def member_list(*, workspace: Workspace) -> QuerySet[Membership]:
    return Membership.objects.filter(workspace=workspace).select_related("user").order_by("user__email")


def invitation_list(*, workspace: Workspace) -> QuerySet[Invitation]:
    return Invitation.objects.filter(workspace=workspace, status=Invitation.Status.PENDING).order_by("-created_at")


def api_key_list(*, workspace: Workspace) -> QuerySet[ApiKey]:
    return ApiKey.objects.filter(workspace=workspace).select_related("created_by").order_by("-created_at")


# User-level security events (logins, failed logins, password and MFA changes) carry no workspace; a workspace's log
# shows those of its current members. Failed logins have no actor, so they match on the attempted address.
_SECURITY_EVENT_PREFIX = "user."


def audit_list(*, workspace: Workspace) -> QuerySet[AuditEntry]:
    """The workspace's audit rows plus its members' user-level security events, newest first, in one query.

    Membership is tested with subqueries rather than a join so an actor who belongs to several workspaces does not
    multiply rows.
    """
    member_ids = Membership.objects.filter(workspace=workspace).values("user_id")
    member_emails = Membership.objects.filter(workspace=workspace).values(email_lc=Lower("user__email"))
    security = Q(workspace__isnull=True, action__startswith=_SECURITY_EVENT_PREFIX)
    return (
        AuditEntry.objects.alias(target_lc=Lower("target_label"))
        .filter(
            Q(workspace=workspace)
            | (security & Q(actor_id__in=member_ids))
            | (security & Q(actor__isnull=True, target_lc__in=member_emails))
        )
        .select_related("actor")
        .order_by("-id")
    )
