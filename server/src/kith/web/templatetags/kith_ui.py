"""Template helpers for the Kith UI: Bootstrap form widgets with the right ARIA wiring, nav state, audit diffs."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from django import template
from django.forms import BoundField
from django.http import HttpRequest
from django.utils.safestring import SafeString

from kith.accounts.adapters import PENDING_INVITATION_SESSION_KEY
from kith.accounts.models import Invitation, Role
from kith.accounts.services import invitation_from_token
from kith.core.errors import NotFound
from kith.web import labels
from kith.web.forms import timezone_names

register = template.Library()

# Widgets that Bootstrap styles with a class other than ``form-control``.
_WIDGET_CLASSES = {
    "checkbox": "form-check-input",
    "select": "form-select",
    "selectmultiple": "form-select",
    "radioselect": "form-check-input",
    "checkboxselectmultiple": "form-check-input",
}


def field_ids(field: BoundField) -> tuple[str, str]:
    """The ids of the help text and of the error list, which the widget names in ``aria-describedby``."""
    base = field.auto_id or f"id_{field.html_name}"
    return f"{base}_help", f"{base}_error"


@register.filter
def control(field: BoundField, extra: str = "") -> SafeString:
    """Render a field's widget with Bootstrap's class, ``is-invalid`` and ``aria-describedby`` set."""
    css = [_WIDGET_CLASSES.get(field.widget_type, "form-control")]
    existing = field.field.widget.attrs.get("class")
    if existing:
        css.append(existing)
    if extra:
        css.append(extra)
    attrs: dict[str, Any] = {}
    help_id, error_id = field_ids(field)
    described = []
    if field.help_text:
        described.append(help_id)
    if field.errors:
        css.append("is-invalid")
        described.append(error_id)
        attrs["aria-invalid"] = "true"
    if described:
        attrs["aria-describedby"] = " ".join(described)
    attrs["class"] = " ".join(css)
    return field.as_widget(attrs=attrs)


@register.filter
def help_id(field: BoundField) -> str:
    return field_ids(field)[0]


@register.filter
def error_id(field: BoundField) -> str:
    return field_ids(field)[1]


@register.simple_tag
def nav_active(request: HttpRequest, prefixes: str) -> bool:
    """Whether the current view's name starts with one of the comma-separated ``prefixes`` (e.g. ``web:member``)."""
    match = getattr(request, "resolver_match", None)
    if match is None or not match.view_name:
        return False
    return any(match.view_name == p or match.view_name.startswith(p) for p in prefixes.split(",") if p)


@register.filter
def initials(user: Any) -> str:
    """Up to two letters for an avatar: from the full name, else from the e-mail address."""
    name = (getattr(user, "full_name", "") or "").strip()
    if name:
        parts = name.split()
        letters = parts[0][0] + (parts[-1][0] if len(parts) > 1 else "")
    else:
        letters = (getattr(user, "email", "") or "?")[:2]
    return letters.upper()


# Roles are colour-coded the same way everywhere so people learn to read them at a glance.
_ROLE_TONES = {
    Role.OWNER: "owner",
    Role.ADMIN: "admin",
    Role.MANAGER: "manager",
    Role.REP: "rep",
    Role.MARKETER: "marketer",
    Role.VIEWER: "viewer",
}


@register.filter
def role_tone(role: str) -> str:
    return _ROLE_TONES.get(role, "viewer")  # type: ignore[call-overload]


@register.filter
def role_label(role: str) -> str:
    try:
        return str(Role(role).label)
    except ValueError:
        return role


@dataclass(frozen=True)
class Change:
    """One line of an audit diff. ``kind`` is ``changed``, ``added`` or ``removed``."""

    field: str
    before: str
    after: str
    kind: str


def _show(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, list):
        return ", ".join(_show(v) for v in value) or "—"
    if isinstance(value, dict):
        return json.dumps(value, sort_keys=True)
    if isinstance(value, bool):
        return "yes" if value else "no"
    if value == "":
        return "(empty)"
    return str(value)


@register.filter
def audit_changes(entry: Any) -> list[Change]:
    """Before/after snapshots as readable lines: ``role: rep → manager``; created rows list only ``after``."""
    before = entry.before if isinstance(entry.before, dict) else {}
    after = entry.after if isinstance(entry.after, dict) else {}
    changes = []
    for key in list(dict.fromkeys([*before, *after])):
        label = key.replace("_", " ")
        if key in before and key in after:
            changes.append(Change(label, _show(before[key]), _show(after[key]), "changed"))
        elif key in after:
            changes.append(Change(label, "", _show(after[key]), "added"))
        else:
            changes.append(Change(label, _show(before[key]), "", "removed"))
    return changes


# Audit actions grouped by tone, so security-relevant rows stand out in the table.
_ACTION_TONES = {
    "user.login_failed": "danger",
    "api_key.revoked": "warning",
    "member.removed": "warning",
    "invitation.revoked": "warning",
    "user.mfa_removed": "warning",
}


@register.filter
def action_tone(action: str) -> str:
    if action in _ACTION_TONES:
        return _ACTION_TONES[action]
    if action.startswith("user."):
        return "security"
    return "neutral"


@register.filter
def safe_timezone(name: str) -> str:
    """``name`` if it is a zone this server knows, else UTC: a bad stored value must not break every page."""
    return name if name in timezone_names() else "UTC"


@register.simple_tag
def pending_invitation(request: HttpRequest) -> Invitation | None:
    """The open invitation whose token the visitor carries in the session, to remind them on log-in and sign-up."""
    token = request.session.get(PENDING_INVITATION_SESSION_KEY) if hasattr(request, "session") else None
    if not token:
        return None
    try:
        return invitation_from_token(token)
    except NotFound:
        return None


@register.filter
def get_item(mapping: Any, key: str) -> Any:
    """``mapping[key]`` or an empty string, for per-option descriptions in form templates."""
    try:
        return mapping.get(key, "")
    except AttributeError:
        return ""


@register.filter
def button_classes(tags: list[str] | None) -> str:
    """Bootstrap classes for django-allauth's ``{% element button tags="..." %}`` vocabulary."""
    tagset = set(tags or [])
    if "link" in tagset:
        variant = "btn-link"
    elif "danger" in tagset:
        # A delete among other actions (e-mail list, MFA panel) is outlined so it does not outshout the primary one.
        variant = "btn-outline-danger" if tagset & {"outline", "minor", "delete"} else "btn-danger"
    elif "cancel" in tagset:
        variant = "btn-light"
    elif "secondary" in tagset:
        variant = "btn-outline-secondary"
    elif "warning" in tagset:
        variant = "btn-warning"
    elif "outline" in tagset:
        variant = "btn-outline-primary"
    else:
        variant = "btn-primary"
    classes = ["btn", variant]
    if "prominent" in tagset:
        classes.append("kith-btn-wide")
    if tagset & {"panel", "tool", "minor"}:
        classes.append("btn-sm")
    return " ".join(classes)


@register.filter
def badge_classes(tags: list[str] | None) -> str:
    tagset = set(tags or [])
    for tone in ("success", "warning", "danger"):
        if tone in tagset:
            return f"kith-status kith-status--{tone}"
    return "kith-status kith-status--primary"


@register.filter
def action_label(action: str) -> str:
    return labels.action_label(action)


@register.filter
def target_type_label(target_type: str) -> str:
    return labels.target_type_label(target_type)
