"""API keys: list, create (the secret is shown exactly once), revoke. Owners and admins only."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.cache import add_never_cache_headers

from kith.accounts import selectors, services
from kith.core.errors import KithError
from kith.web.forms import SCOPE_DESCRIPTIONS, ApiKeyForm, add_domain_error
from kith.web.views.base import (
    MemberRequest,
    admin_object_view,
    admin_required,
    posted,
    render_confirm,
)


@admin_required
def api_keys(request: MemberRequest) -> HttpResponse:
    keys = selectors.api_key_list(workspace=request.workspace)
    return render(request, "web/api_keys/list.html", {"api_keys": keys})


@admin_required
def api_key_create(request: MemberRequest) -> HttpResponse:
    form = ApiKeyForm(posted(request))
    if request.method == "POST" and form.is_valid():
        try:
            key, raw = services.api_key_create(
                workspace=request.workspace,
                actor=request.user,
                name=form.cleaned_data["name"],
                scopes=form.cleaned_data["scopes"],
            )
        except KithError as exc:
            add_domain_error(form, exc)
        else:
            # The secret goes straight into this response and nowhere else (no session, no redirect), so it cannot
            # be shown twice; no-store keeps it out of the browser's and any proxy's cache.
            response = render(request, "web/api_keys/created.html", {"api_key": key, "raw_key": raw})
            add_never_cache_headers(response)
            return response
    status = 400 if form.is_bound and form.errors else 200
    context = {"form": form, "scope_descriptions": SCOPE_DESCRIPTIONS}
    return render(request, "web/api_keys/create.html", context, status=status)


@admin_object_view
def api_key_revoke(request: MemberRequest, pk: int) -> HttpResponse:
    key = get_object_or_404(selectors.api_key_list(workspace=request.workspace), pk=pk)
    if not key.is_active:
        messages.info(request, f"The key “{key.name}” was already revoked.")
        return redirect("web:api_keys")
    if request.method == "GET":
        return render_confirm(
            request,
            title="Revoke this API key?",
            message=(
                f"Requests signed with “{key.name}” ({key.masked}) fail from now on. "
                "This cannot be undone; create a new key for anything that still needs access."
            ),
            confirm_label="Revoke key",
            cancel_url=reverse("web:api_keys"),
        )
    try:
        services.api_key_revoke(api_key=key, actor=request.user)
    except KithError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"The key “{key.name}” was revoked.")
    return redirect("web:api_keys")
