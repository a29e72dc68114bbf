"""Save the current list layout as a view, and delete a view. The views menu and column chooser live on the list
pages themselves (``savedviews/_toolbar.html``); picking a view is just following its list URL."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.views.decorators.http import require_POST

from kith.core.errors import KithError
from kith.savedviews import selectors, services
from kith.savedviews.layout import LIST_URLS, column_keys
from kith.savedviews.models import ListKind
from kith.web.views.base import (
    MemberRequest,
    member_object_view,
    member_required,
    render_confirm,
)


def _list_url(kind: str, query: str = "") -> str:
    url = reverse(LIST_URLS[ListKind(kind)])
    return f"{url}?{query}" if query else url


@member_required
@require_POST
def saved_view_save(request: MemberRequest) -> HttpResponse:
    kind = request.POST.get("kind", "")
    if kind not in ListKind.values:
        messages.error(request, "Choose contacts, companies or deals.")
        return redirect("web:home")
    try:
        view = services.saved_view_save(
            workspace=request.workspace, membership=request.membership, actor=request.user, kind=kind,
            name=request.POST.get("name", ""), query=request.POST.get("query", ""),
            columns=column_keys(request.POST), sort=request.POST.get("sort", ""),
            shared=request.POST.get("shared") == "on")
    except KithError as exc:
        errors = getattr(exc, "errors", {exc.field or "view": [exc.message]})
        messages.error(request, " ".join(m for ms in errors.values() for m in ms))
        return redirect(_list_url(kind, request.POST.get("return_query", "")))
    messages.success(request, f"View “{view.name}” saved.")
    return redirect(_list_url(kind, view.list_query))


@member_object_view
def saved_view_delete(request: MemberRequest, pk: int) -> HttpResponse:
    view = selectors.saved_view_get(workspace=request.workspace, user=request.user, view_id=pk)
    if request.method != "POST":
        return render_confirm(request, title="Delete view?",
                              message=f"The view “{view.name}” will be deleted"
                                      f"{' for everyone in the workspace' if view.shared else ''}. "
                                      "Contacts and their data stay as they are.",
                              confirm_label="Delete view", cancel_url=_list_url(view.kind, view.list_query))
    try:
        services.saved_view_delete(view=view, membership=request.membership, actor=request.user)
    except KithError as exc:
        messages.error(request, exc.message)
        return redirect(_list_url(view.kind, view.list_query))
    messages.success(request, f"View “{view.name}” deleted.")
    return redirect(_list_url(view.kind))
