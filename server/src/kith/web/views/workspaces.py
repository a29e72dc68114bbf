"""The dashboard and the workspace itself: create, switch, settings."""

from __future__ import annotations

from dataclasses import dataclass

from allauth.mfa.utils import is_mfa_enabled
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from kith.accounts import selectors, services
from kith.accounts.middleware import SESSION_KEY
from kith.accounts.models import Membership
from kith.core.errors import KithError
from kith.web.forms import (
    WorkspaceForm,
    WorkspaceSwitchForm,
    add_domain_error,
    timezone_names,
)
from kith.web.overview import dashboard_overview
from kith.web.views.base import KithRequest, MemberRequest, admin_required, posted

# How many audit rows the dashboard previews; the audit log page has the rest.
RECENT_ACTIVITY = 6


@dataclass(frozen=True)
class SetupStep:
    """One line of the dashboard's "Get set up" checklist."""

    title: str
    text: str
    icon: str
    url: str
    action: str
    done: bool


def _setup_steps(*, membership: Membership, member_count: int, active_keys: int, mfa_enabled: bool) -> list[SetupStep]:
    workspace = membership.workspace
    steps = []
    if membership.is_admin:
        steps += [
            SetupStep("Invite your team", "Send invitations by e-mail and pick each person's role.", "person-plus",
                      reverse("web:members") + "#invite", "Invite people", member_count > 1),
            SetupStep("Create an API key", "Connect your website, shop or app so contacts and events flow in.",
                      "key", reverse("web:api_key_create"), "Create key", active_keys > 0),
            SetupStep("Set your time zone", "Reports and scheduled campaigns follow the workspace's time zone.",
                      "globe2", reverse("web:workspace_settings"), "Open settings", workspace.timezone != "UTC"),
        ]
    else:
        steps.append(SetupStep("Meet your team", f"See who else works in {workspace.name} and what they do.",
                               "people", reverse("web:members"), "View team", False))
    steps.append(SetupStep("Protect your account", "Turn on two-factor sign-in with an authenticator app.",
                           "shield-lock", reverse("mfa_index"), "Set up 2FA", mfa_enabled))
    return steps


@login_required
def home(request: KithRequest) -> HttpResponse:
    if request.membership is None or request.workspace is None:
        form = WorkspaceForm(initial={"name": f"{request.user.display_name}'s workspace", "timezone": "UTC"})
        return render(request, "web/workspaces/first.html", {"form": form, "timezones": timezone_names()})
    workspace, membership = request.workspace, request.membership
    member_count = selectors.member_list(workspace=workspace).count()
    mfa_enabled = is_mfa_enabled(request.user)
    active_keys = 0
    context: dict[str, object] = {"member_count": member_count, "mfa_enabled": mfa_enabled,
                                  "overview": dashboard_overview(workspace=workspace, membership=membership)}
    if membership.is_admin:
        active_keys = selectors.api_key_list(workspace=workspace).filter(revoked_at__isnull=True).count()
        context |= {
            "pending_invitations": selectors.invitation_list(workspace=workspace).count(),
            "active_keys": active_keys,
            "recent_activity": list(selectors.audit_list(workspace=workspace)[:RECENT_ACTIVITY]),
        }
    context["setup_steps"] = _setup_steps(
        membership=membership, member_count=member_count, active_keys=active_keys, mfa_enabled=mfa_enabled
    )
    return render(request, "web/dashboard.html", context)


@login_required
def workspace_create(request: KithRequest) -> HttpResponse:
    form = WorkspaceForm(posted(request), initial={"timezone": "UTC"})
    if request.method == "POST" and form.is_valid():
        try:
            workspace = services.workspace_create(
                name=form.cleaned_data["name"],
                owner=request.user,
                timezone_name=form.cleaned_data["timezone"],
            )
        except KithError as exc:
            add_domain_error(form, exc)
        else:
            request.session[SESSION_KEY] = workspace.pk
            messages.success(request, f"Welcome to {workspace.name}. You are its owner.")
            return redirect("web:home")
    status = 400 if form.is_bound and form.errors else 200
    context = {"form": form, "timezones": timezone_names()}
    return render(request, "web/workspaces/create.html", context, status=status)


@require_POST
@login_required
def workspace_switch(request: KithRequest) -> HttpResponse:
    """Make another of the user's workspaces the current one. A workspace they are not a member of is a 404."""
    form = WorkspaceSwitchForm(request.POST)
    membership = None
    if form.is_valid():
        membership = selectors.membership_get(user=request.user, workspace_id=form.cleaned_data["workspace"])
    if membership is None:
        raise Http404("You are not a member of that workspace.")
    request.session[SESSION_KEY] = membership.workspace_id
    messages.info(request, f"Switched to {membership.workspace.name}.")
    # Always land on the dashboard: the page we came from may show an object of the previous workspace.
    return redirect("web:home")


@admin_required
def workspace_settings(request: MemberRequest) -> HttpResponse:
    workspace = request.workspace
    form = WorkspaceForm(posted(request), initial={"name": workspace.name, "timezone": workspace.timezone})
    if request.method == "POST" and form.is_valid():
        try:
            services.workspace_update(
                workspace=workspace,
                actor=request.user,
                name=form.cleaned_data["name"],
                timezone_name=form.cleaned_data["timezone"],
            )
        except KithError as exc:
            add_domain_error(form, exc)
        else:
            messages.success(request, "Workspace settings saved.")
            return redirect("web:workspace_settings")
    status = 400 if form.is_bound and form.errors else 200
    context = {"form": form, "timezones": timezone_names()}
    return render(request, "web/workspaces/settings.html", context, status=status)
