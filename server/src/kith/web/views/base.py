"""What every web view shares: the typed request, access decorators, confirmation pages and HTMX toasts."""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import wraps
from typing import TYPE_CHECKING, Any, TypeVar, cast

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from kith.core.errors import NotFound

if TYPE_CHECKING:
    from django_htmx.middleware import HtmxDetails

    from kith.accounts.models import Membership, User, Workspace


class KithRequest(HttpRequest):
    """A request after Kith's middleware ran: ``workspace``/``membership`` are set (``None`` without a workspace)."""

    user: User  # type: ignore[assignment]
    workspace: Workspace | None
    membership: Membership | None
    htmx: HtmxDetails


class MemberRequest(KithRequest):
    """A request from a member of the current workspace (what ``member_required`` guarantees)."""

    workspace: Workspace
    membership: Membership


View = TypeVar("View", bound=Callable[..., HttpResponse])


def member_required(view: View) -> View:
    """Log in first; without any workspace, go to the dashboard, which offers to create one."""

    @wraps(view)
    def wrapper(request: KithRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if request.membership is None:
            return redirect("web:home")
        return view(request, *args, **kwargs)

    return cast(View, wrapper)


def admin_required(view: View) -> View:
    """Pages that manage the workspace itself: owners and admins only, everyone else gets the 403 page."""

    @wraps(view)
    @member_required
    def wrapper(request: MemberRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.membership.is_admin:
            raise PermissionDenied("Only the workspace's owners and admins can open this page.")
        return view(request, *args, **kwargs)

    return cast(View, wrapper)


def admin_object_view(view: View) -> View:
    """Routes that name a workspace object in their path: GET confirms, POST acts.

    Anyone without a current workspace (anonymous visitors included) gets a plain 404 rather than a login redirect:
    these URLs are only reached from within the app, and answering 404 to every outsider keeps ids from another
    workspace indistinguishable from ids that do not exist.
    """

    @wraps(view)
    @require_http_methods(["GET", "POST"])
    def wrapper(request: KithRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.is_authenticated or request.membership is None:
            raise Http404("No such page.")
        if not request.membership.is_admin:
            raise PermissionDenied("Only the workspace's owners and admins can do this.")
        return view(request, *args, **kwargs)

    return cast(View, wrapper)


def posted(request: HttpRequest) -> QueryDict | None:
    """The data to bind a form to: the POST body on a POST — even an empty one, which must fail validation rather
    than look like a first visit (``request.POST or None`` would) — and nothing otherwise."""
    return request.POST if request.method == "POST" else None


def render_confirm(
    request: KithRequest,
    *,
    title: str,
    message: str,
    confirm_label: str,
    cancel_url: str,
    tone: str = "danger",
) -> HttpResponse:
    """A confirmation step: a modal's content for HTMX requests, a whole page otherwise (works without JS)."""
    context = {
        "title": title,
        "message": message,
        "confirm_label": confirm_label,
        "cancel_url": cancel_url,
        "tone": tone,
        "action_url": request.get_full_path(),
    }
    template = "web/includes/confirm_modal.html" if request.htmx else "web/confirm.html"
    return render(request, template, context)


def with_toast(response: HttpResponse, message: str, level: str = "success") -> HttpResponse:
    """Ask the page (through HTMX's ``HX-Trigger``) to show a toast; used where a partial swap replaces a redirect."""
    response["HX-Trigger"] = json.dumps({"kith:toast": {"message": message, "level": level}})
    return response


def member_object_view(view: View) -> View:
    """Routes naming a workspace object: outsiders (anonymous, API keys, other workspaces) get a plain 404, so ids
    from another workspace cannot be told from ids that do not exist; a domain ``NotFound`` becomes the 404 page."""

    @wraps(view)
    def wrapper(request: KithRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.is_authenticated or request.membership is None:
            raise Http404("No such page.")
        try:
            return view(request, *args, **kwargs)
        except NotFound as exc:
            raise Http404(exc.message) from exc

    return cast(View, wrapper)
