"""django-allauth hooks: a new user gets a workspace of their own unless they are joining through an invitation."""

from __future__ import annotations

from typing import Any

from allauth.account.adapter import DefaultAccountAdapter
from django.http import HttpRequest

from kith.accounts.models import User

PENDING_INVITATION_SESSION_KEY = "kith_pending_invitation"


class AccountAdapter(DefaultAccountAdapter):
    def save_user(self, request: HttpRequest, user: User, form: Any, commit: bool = True) -> User:
        user = super().save_user(request, user, form, commit=commit)
        if commit and not request.session.get(PENDING_INVITATION_SESSION_KEY):
            from kith.accounts.services import workspace_create  # noqa: PLC0415 — allauth loads adapters early

            workspace_create(name=f"{user.display_name}'s workspace", owner=user)
        return user

    def get_login_redirect_url(self, request: HttpRequest) -> str:
        pending = request.session.get(PENDING_INVITATION_SESSION_KEY)
        if pending:
            from django.urls import reverse  # noqa: PLC0415

            return reverse("web:invitation_accept", kwargs={"token": pending})
        return super().get_login_redirect_url(request)

    def get_signup_redirect_url(self, request: HttpRequest) -> str:
        # allauth asks this one (not get_login_redirect_url) when a sign-up ends logged in, e.g. on confirming the
        # e-mail address; someone who signed up from an invitation link must land on that invitation too.
        if request.session.get(PENDING_INVITATION_SESSION_KEY):
            return self.get_login_redirect_url(request)
        return super().get_signup_redirect_url(request)
