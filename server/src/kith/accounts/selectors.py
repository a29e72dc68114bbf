"""Reads for accounts. Every tenant-owned read starts from the caller's workspace."""

from __future__ import annotations

from django.db.models import QuerySet

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


def audit_list(*, workspace: Workspace) -> QuerySet[AuditEntry]:
    return AuditEntry.objects.filter(workspace=workspace).select_related("actor").order_by("-id")
