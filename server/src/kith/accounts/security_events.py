"""Security events from Django auth and django-allauth, recorded as audit rows (user-level: no workspace)."""

from __future__ import annotations

from typing import Any

from allauth.account.signals import password_changed, password_reset
from allauth.mfa.signals import authenticator_added, authenticator_removed, authenticator_reset
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver

from kith.core.audit import audit_record


@receiver(user_logged_in)
def _logged_in(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    audit_record(action="user.logged_in", actor=user, target=user)


@receiver(user_logged_out)
def _logged_out(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    if user is not None:
        audit_record(action="user.logged_out", actor=user, target=user)


@receiver(user_login_failed)
def _login_failed(sender: Any, credentials: dict[str, Any], request: Any = None, **kwargs: Any) -> None:
    attempted = str(credentials.get("email") or credentials.get("username") or "")[:200]
    audit_record(action="user.login_failed", actor=None, target_label=attempted)


@receiver(password_changed)
@receiver(password_reset)
def _password_changed(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    audit_record(action="user.password_changed", actor=user, target=user)


@receiver(authenticator_added)
def _mfa_added(sender: Any, request: Any, user: Any, authenticator: Any, **kwargs: Any) -> None:
    audit_record(action="user.mfa_added", actor=user, target=user, after={"type": authenticator.type})


@receiver(authenticator_removed)
def _mfa_removed(sender: Any, request: Any, user: Any, authenticator: Any, **kwargs: Any) -> None:
    audit_record(action="user.mfa_removed", actor=user, target=user, before={"type": authenticator.type})


@receiver(authenticator_reset)
def _mfa_reset(sender: Any, request: Any, user: Any, authenticator: Any, **kwargs: Any) -> None:
    audit_record(action="user.mfa_reset", actor=user, target=user, after={"type": authenticator.type})
