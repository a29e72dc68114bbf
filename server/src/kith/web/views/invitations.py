"""Accepting an invitation from its e-mailed link, logged in or not."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from kith.accounts import services
from kith.accounts.adapters import PENDING_INVITATION_SESSION_KEY
from kith.accounts.middleware import SESSION_KEY
from kith.core.errors import KithError, NotFound
from kith.web.views.base import KithRequest


@require_http_methods(["GET", "POST"])
def invitation_accept(request: KithRequest, token: str) -> HttpResponse:
    """Show who invited whom; a logged-in user with the invited address joins with one POST.

    Anonymous visitors keep the token in the session and log in or sign up; the account adapter brings them back
    here afterwards (and skips creating a workspace of their own for a sign-up that came through an invitation).
    """
    try:
        invitation = services.invitation_from_token(token)
    except NotFound as exc:
        if request.session.get(PENDING_INVITATION_SESSION_KEY) == token:
            del request.session[PENDING_INVITATION_SESSION_KEY]
        return render(request, "web/invitations/invalid.html", {"message": exc.message}, status=404)

    if not request.user.is_authenticated:
        request.session[PENDING_INVITATION_SESSION_KEY] = token
        return render(request, "web/invitations/anonymous.html", {"invitation": invitation})

    error, status = "", 200
    if request.method == "POST":
        try:
            membership = services.invitation_accept(invitation=invitation, user=request.user)
        except KithError as exc:
            error, status = exc.message, exc.status_code
        else:
            request.session.pop(PENDING_INVITATION_SESSION_KEY, None)
            request.session[SESSION_KEY] = membership.workspace_id
            messages.success(request, f"Welcome to {invitation.workspace.name}!")
            return redirect("web:home")
    context = {
        "invitation": invitation,
        "token": token,
        "error": error,
        "wrong_user": request.user.email.lower() != invitation.email.lower(),
    }
    return render(request, "web/invitations/accept.html", context, status=status)
