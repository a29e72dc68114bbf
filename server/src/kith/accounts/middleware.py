"""Sets ``request.workspace`` and ``request.membership`` for logged-in users.

The current workspace is kept in the session (the workspace switcher changes it) and re-checked against the user's
memberships on every request, so removing a member takes effect immediately.
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from kith.accounts import selectors

SESSION_KEY = "kith_workspace_id"


class WorkspaceMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request.workspace = None  # type: ignore[attr-defined]
        request.membership = None  # type: ignore[attr-defined]
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            membership = None
            wanted = request.session.get(SESSION_KEY)
            if wanted is not None:
                membership = selectors.membership_get(user=user, workspace_id=wanted)
            if membership is None:
                membership = selectors.membership_list_for_user(user=user).first()
                if membership is not None:
                    request.session[SESSION_KEY] = membership.workspace_id
            if membership is not None:
                request.workspace = membership.workspace  # type: ignore[attr-defined]
                request.membership = membership  # type: ignore[attr-defined]
        return self.get_response(request)
