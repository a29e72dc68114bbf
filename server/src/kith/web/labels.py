"""Human names for audit actions and audited object types, shared by the audit filter and the templates."""

from __future__ import annotations

from django.apps import apps

# Known actions. An action not listed here (a later feature's) is shown derived from its dotted name.
ACTION_LABELS = {
    "user.logged_in": "Signed in",
    "user.logged_out": "Signed out",
    "user.login_failed": "Failed sign-in",
    "user.password_changed": "Password changed",
    "user.mfa_added": "Two-factor method added",
    "user.mfa_removed": "Two-factor method removed",
    "user.mfa_reset": "Recovery codes regenerated",
    "workspace.created": "Workspace created",
    "workspace.updated": "Workspace settings changed",
    "member.joined": "Member joined",
    "member.role_changed": "Role changed",
    "member.removed": "Member removed",
    "invitation.created": "Invitation sent",
    "invitation.revoked": "Invitation revoked",
    "api_key.created": "API key created",
    "api_key.revoked": "API key revoked",
}


def action_label(action: str) -> str:
    if action in ACTION_LABELS:
        return ACTION_LABELS[action]
    subject, _, verb = action.partition(".")
    words = f"{subject.replace('_', ' ')} {verb.replace('_', ' ')}".strip()
    return words[:1].upper() + words[1:]


def target_type_label(target_type: str) -> str:
    """``accounts.apikey`` → ``API key``: the model's verbose name, or the raw label for a model that is gone."""
    try:
        model = apps.get_model(target_type)
    except (LookupError, ValueError):
        return target_type
    name = str(model._meta.verbose_name)
    return "API key" if name == "api key" else name[:1].upper() + name[1:]
