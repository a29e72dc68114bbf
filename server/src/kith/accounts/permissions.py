"""Who may call an API route: a member of the current workspace with a suitable role, or a key with the scope."""

from __future__ import annotations

from typing import Any

from rest_framework import permissions
from rest_framework.request import Request

from kith.accounts.models import ApiKey, ApiKeyScope

SAFE = permissions.SAFE_METHODS


class WorkspaceAccess(permissions.BasePermission):
    """Default for every API view.

    Keys: ``read`` for safe methods, ``write`` for the others; an events-only key reaches nothing here.
    Sessions: any member reads; viewers cannot write. Views that manage the workspace itself set
    ``admin_only = True``.
    """

    message = "You do not have access to this resource."

    def has_permission(self, request: Request, view: Any) -> bool:
        workspace = getattr(request._request, "workspace", None)
        if workspace is None or not request.user or not request.user.is_authenticated:
            return False
        if isinstance(request.auth, ApiKey):
            needed = ApiKeyScope.READ if request.method in SAFE else ApiKeyScope.WRITE
            if getattr(view, "admin_only", False) and request.method not in SAFE:
                # Keys may manage keys only with write scope; creating keys through a key is allowed by the issue.
                needed = ApiKeyScope.WRITE
            return request.auth.has_scope(needed)
        membership = getattr(request._request, "membership", None)
        if membership is None:
            return False
        if getattr(view, "admin_only", False) and not membership.is_admin:
            return False
        return request.method in SAFE or membership.can_write


class EventsScope(permissions.BasePermission):
    """For the event API: a key with the ``events`` or ``write`` scope."""

    def has_permission(self, request: Request, view: Any) -> bool:
        key = request.auth
        return isinstance(key, ApiKey) and (key.has_scope(ApiKeyScope.EVENTS) or key.has_scope(ApiKeyScope.WRITE))
