"""Team members and invitations. Every member may see the team; owners and admins manage it."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse

from kith.accounts import selectors, services
from kith.accounts.models import Membership, Role
from kith.core.errors import KithError
from kith.web.forms import (
    ROLE_DESCRIPTIONS,
    InvitationForm,
    MemberRoleForm,
    add_domain_error,
)
from kith.web.views.base import (
    MemberRequest,
    admin_object_view,
    member_required,
    posted,
    render_confirm,
    with_toast,
)


def _member_context(request: MemberRequest) -> dict[str, object]:
    workspace, membership = request.workspace, request.membership
    context: dict[str, object] = {
        "members": selectors.member_list(workspace=workspace),
        "role_choices": Role.choices,
        "roles": [(value, label, ROLE_DESCRIPTIONS[Role(value)]) for value, label in Role.choices],
        "can_manage": membership.is_admin,
        # Only owners grant or take away ownership (see member_set_role); the page disables what would fail.
        "can_manage_owners": membership.role == Role.OWNER,
    }
    if membership.is_admin:
        context["invitations"] = selectors.invitation_list(workspace=workspace).select_related("invited_by")
    return context


@member_required
def members(request: MemberRequest) -> HttpResponse:
    """The team list; POST invites someone (admins only)."""
    form = InvitationForm(posted(request))
    if request.method == "POST":
        if not request.membership.is_admin:
            raise PermissionDenied("Only the workspace's owners and admins can invite people.")
        if form.is_valid():
            try:
                invitation = services.invitation_create(
                    workspace=request.workspace,
                    actor=request.user,
                    email=form.cleaned_data["email"],
                    role=form.cleaned_data["role"],
                )
            except KithError as exc:
                add_domain_error(form, exc)
            else:
                messages.success(request, f"Invitation sent to {invitation.email}.")
                return redirect("web:members")
    context = _member_context(request) | {"form": form}
    status = 400 if form.is_bound and form.errors else 200
    return render(request, "web/members/list.html", context, status=status)


def _render_row(request: MemberRequest, membership: Membership, form: MemberRoleForm, saved: bool) -> HttpResponse:
    context = _member_context(request) | {"m": membership, "row_form": form, "saved": saved}
    return render(request, "web/members/_row.html", context)


@admin_object_view
def member_role(request: MemberRequest, pk: int) -> HttpResponse:
    """Change a member's role: inline from the team table through HTMX, or on its own page without JS."""
    membership = get_object_or_404(selectors.member_list(workspace=request.workspace), pk=pk)
    form = MemberRoleForm(posted(request), initial={"role": membership.role})
    saved = False
    if request.method == "POST":
        if form.is_valid():
            try:
                services.member_set_role(
                    membership=membership,
                    role=form.cleaned_data["role"],
                    actor=request.user,
                    actor_membership=request.membership,
                )
            except KithError as exc:
                add_domain_error(form, exc)
                membership.refresh_from_db()
            else:
                saved = True
        if request.htmx:
            # A partial swap, so the outcome is told by the row itself and by a toast instead of a redirect.
            response = _render_row(request, membership, form, saved)
            if saved:
                return with_toast(response, f"{membership.user.email} is now {membership.get_role_display()}.")
            problems = " ".join(str(error) for errors in form.errors.values() for error in errors)
            return with_toast(response, problems, "danger")
        if saved:
            messages.success(request, f"{membership.user.email} is now {membership.get_role_display()}.")
            return redirect("web:members")
    status = 400 if form.is_bound and form.errors else 200
    context = _member_context(request) | {"m": membership, "form": form}
    return render(request, "web/members/role.html", context, status=status)


@admin_object_view
def member_remove(request: MemberRequest, pk: int) -> HttpResponse:
    membership = get_object_or_404(selectors.member_list(workspace=request.workspace), pk=pk)
    is_self = membership.user_id == request.user.pk
    if request.method == "GET":
        who = "yourself" if is_self else membership.user.email
        return render_confirm(
            request,
            title="Leave this workspace?" if is_self else "Remove this member?",
            message=(
                f"This removes {who} from {request.workspace.name}. "
                "Their records stay; they lose access immediately and need a new invitation to come back."
            ),
            confirm_label="Leave workspace" if is_self else "Remove member",
            cancel_url=reverse("web:members"),
        )
    try:
        services.member_remove(membership=membership, actor=request.user, actor_membership=request.membership)
    except KithError as exc:
        messages.error(request, exc.message)
        return redirect("web:members")
    if is_self:
        messages.success(request, f"You left {request.workspace.name}.")
        return redirect("web:home")
    messages.success(request, f"{membership.user.email} was removed from {request.workspace.name}.")
    return redirect("web:members")


@admin_object_view
def invitation_revoke(request: MemberRequest, pk: int) -> HttpResponse:
    invitation = get_object_or_404(selectors.invitation_list(workspace=request.workspace), pk=pk)
    if request.method == "GET":
        return render_confirm(
            request,
            title="Revoke this invitation?",
            message=f"The link sent to {invitation.email} stops working. You can invite them again later.",
            confirm_label="Revoke invitation",
            cancel_url=reverse("web:members"),
        )
    try:
        services.invitation_revoke(invitation=invitation, actor=request.user)
    except KithError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"The invitation for {invitation.email} was revoked.")
    return redirect("web:members")
