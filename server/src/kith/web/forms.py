"""Forms of the web UI. They check shape and choices; the services in ``kith.accounts.services`` own the rules."""

from __future__ import annotations

import functools
import zoneinfo

from django import forms

from kith.accounts.models import ApiKeyScope, Role
from kith.core.errors import KithError
from kith.web.labels import action_label


@functools.cache
def timezone_names() -> tuple[str, ...]:
    """Every IANA zone name the server knows, sorted; read once because the lookup walks the tz database."""
    return tuple(sorted(zoneinfo.available_timezones()))


class WorkspaceForm(forms.Form):
    name = forms.CharField(
        label="Workspace name",
        max_length=100,
        widget=forms.TextInput(attrs={"autocomplete": "organization", "placeholder": "Acme Inc."}),
    )
    timezone = forms.CharField(
        label="Time zone",
        max_length=64,
        initial="UTC",
        help_text="An IANA time zone such as Europe/Berlin or America/New_York. Reports and schedules use it.",
        widget=forms.TextInput(attrs={"list": "kith-timezones", "autocomplete": "off", "spellcheck": "false"}),
    )

    def clean_name(self) -> str:
        name = self.cleaned_data["name"].strip()
        if not name:
            raise forms.ValidationError("A workspace needs a name.")
        return name

    def clean_timezone(self) -> str:
        value = self.cleaned_data["timezone"].strip()
        if value not in timezone_names():
            raise forms.ValidationError("Use an IANA time zone name such as Europe/Berlin.")
        return value


# Owners are made by promotion, never by invitation (see ``invitation_create``).
INVITABLE_ROLES = [(value, label) for value, label in Role.choices if value != Role.OWNER]

ROLE_DESCRIPTIONS = {
    Role.OWNER: "Everything, including ownership and deleting the workspace.",
    Role.ADMIN: "Manages members, API keys, settings and the audit log.",
    Role.MANAGER: "Works with all CRM records and the team's pipeline.",
    Role.REP: "Works with contacts and deals; can be limited to their own.",
    Role.MARKETER: "Runs campaigns, segments and workflows.",
    Role.VIEWER: "Reads everything, changes nothing.",
}


class InvitationForm(forms.Form):
    email = forms.EmailField(
        label="E-mail address",
        widget=forms.EmailInput(attrs={"autocomplete": "off", "placeholder": "name@company.com"}),
    )
    role = forms.ChoiceField(label="Role", choices=INVITABLE_ROLES, initial=Role.REP)


class MemberRoleForm(forms.Form):
    role = forms.ChoiceField(label="Role", choices=Role.choices)


class ApiKeyForm(forms.Form):
    name = forms.CharField(
        label="Name",
        max_length=100,
        help_text="Say what uses the key, e.g. “Website sign-up form” — it helps when you rotate or revoke it.",
        widget=forms.TextInput(attrs={"autocomplete": "off", "placeholder": "Storefront integration"}),
    )
    scopes = forms.MultipleChoiceField(
        label="Scopes",
        choices=ApiKeyScope.choices,
        widget=forms.CheckboxSelectMultiple,
        initial=[ApiKeyScope.READ],
        error_messages={"required": "Choose at least one scope."},
    )

    def clean_name(self) -> str:
        name = self.cleaned_data["name"].strip()
        if not name:
            raise forms.ValidationError("Give the key a name so you can recognise it later.")
        return name


SCOPE_DESCRIPTIONS = {
    ApiKeyScope.READ: "Read contacts, deals, campaigns and reports.",
    ApiKeyScope.WRITE: "Create, change and delete records (includes sending events).",
    ApiKeyScope.EVENTS: "Only send tracking events — the safe choice for websites and apps.",
}


class WorkspaceSwitchForm(forms.Form):
    workspace = forms.IntegerField(min_value=1, widget=forms.HiddenInput)


class AuditFilterForm(forms.Form):
    action = forms.ChoiceField(label="Action", required=False)
    before = forms.IntegerField(required=False, min_value=1, widget=forms.HiddenInput)

    def __init__(self, *args: object, actions: list[str], **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.fields["action"].choices = [("", "All actions"), *((a, action_label(a)) for a in actions)]  # type: ignore[attr-defined]


def add_domain_error(form: forms.Form, error: KithError) -> None:
    """Show a service's ``KithError`` on the field it names, or above the form when it names none we render."""
    field = error.field if error.field in form.fields else None
    form.add_error(field, error.message)
