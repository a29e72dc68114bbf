"""The workspace's pages for topics and the suppression list. Owners and admins only: the suppression list holds
the addresses of every contact, also those a rep limited to their own records may not see."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET

from kith.contacts.views._common import keyset_page
from kith.core.errors import KithError, NotFound
from kith.preferences import selectors, services
from kith.preferences.forms import SuppressionAddForm, SuppressionImportForm, TopicForm
from kith.preferences.models import Topic
from kith.web.forms import add_domain_error
from kith.web.views.base import (
    MemberRequest,
    admin_object_view,
    admin_required,
    posted,
    render_confirm,
)


def _topic(request: MemberRequest, pk: int) -> Topic:
    try:
        return selectors.topic_get(workspace=request.workspace, topic_id=pk)
    except NotFound as exc:
        raise Http404(exc.message) from exc


@admin_required
@require_GET
def topic_list(request: MemberRequest) -> HttpResponse:
    topics = selectors.topic_list(workspace=request.workspace, include_archived=True)
    return render(request, "preferences/topic_list.html", {"topics": topics})


@admin_required
def topic_create(request: MemberRequest) -> HttpResponse:
    form = TopicForm(posted(request))
    if request.method == "POST" and form.is_valid():
        try:
            topic = services.topic_create(workspace=request.workspace, actor=request.user, data=form.cleaned_data)
        except KithError as exc:
            add_domain_error(form, exc)
        else:
            messages.success(request, f"Topic “{topic.name}” added.")
            return redirect("web:topic_list")
    status = 400 if form.is_bound and form.errors else 200
    return render(request, "preferences/topic_form.html", {"form": form, "topic": None}, status=status)


@admin_object_view
def topic_edit(request: MemberRequest, pk: int) -> HttpResponse:
    topic = _topic(request, pk)
    initial = {"name": topic.name, "description": topic.description, "default_subscribed": topic.default_subscribed}
    form = TopicForm(posted(request), initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            services.topic_update(topic=topic, actor=request.user, data=form.cleaned_data)
        except KithError as exc:
            add_domain_error(form, exc)
        else:
            messages.success(request, f"Topic “{topic.name}” saved.")
            return redirect("web:topic_list")
    status = 400 if form.is_bound and form.errors else 200
    return render(request, "preferences/topic_form.html", {"form": form, "topic": topic}, status=status)


@admin_object_view
def topic_archive(request: MemberRequest, pk: int) -> HttpResponse:
    """GET confirms, POST archives (or restores an archived topic)."""
    topic = _topic(request, pk)
    archive = not topic.is_archived
    if request.method == "GET":
        message = (f"“{topic.name}” leaves the preference page and takes no new campaigns. Contacts' choices are "
                   "kept, so restoring it later loses nothing." if archive else
                   f"“{topic.name}” comes back on the preference page with every contact's earlier choice.")
        return render_confirm(request, title="Archive this topic?" if archive else "Restore this topic?",
                              message=message, confirm_label="Archive" if archive else "Restore",
                              cancel_url=reverse("web:topic_list"), tone="danger" if archive else "primary")
    services.topic_archive(topic=topic, actor=request.user, archived=archive)
    messages.success(request, f"Topic “{topic.name}” {'archived' if archive else 'restored'}.")
    return redirect("web:topic_list")


@admin_required
def suppression_list(request: MemberRequest) -> HttpResponse:
    """The list with search (HTMX swaps the results), and the form to add an address by hand."""
    search = request.GET.get("q", "").strip()[:100]
    form = SuppressionAddForm(posted(request))
    if request.method == "POST" and form.is_valid():
        try:
            entry = services.suppression_add_manual(workspace=request.workspace, actor=request.user,
                                                    address=form.cleaned_data["address"])
        except KithError as exc:
            add_domain_error(form, exc)
        else:
            messages.success(request, f"{entry.address} gets no marketing e-mail from now on.")
            return redirect("web:suppression_list")
    page = keyset_page(selectors.suppression_list(workspace=request.workspace, search=search), request.GET.get("after"))
    query = request.GET.copy()
    query.pop("after", None)
    context = {"page": page, "search": search, "query": query.urlencode(), "form": form,
               "import_form": SuppressionImportForm()}
    if request.htmx and not request.htmx.boosted and request.method == "GET":
        return render(request, "preferences/_suppression_results.html", context)
    status = 400 if form.is_bound and form.errors else 200
    return render(request, "preferences/suppression_list.html", context, status=status)


@admin_required
def suppression_import(request: MemberRequest) -> HttpResponse:
    form = SuppressionImportForm(posted(request), request.FILES if request.method == "POST" else None)
    result = None
    if request.method == "POST" and form.is_valid():
        try:
            result = services.suppression_import(workspace=request.workspace, actor=request.user,
                                                 text=form.cleaned_data["file"])
        except KithError as exc:
            add_domain_error(form, exc)
    status = 400 if form.is_bound and form.errors else 200
    return render(request, "preferences/suppression_import.html", {"form": form, "result": result}, status=status)


@admin_object_view
def suppression_remove(request: MemberRequest, pk: int) -> HttpResponse:
    try:
        entry = selectors.suppression_get(workspace=request.workspace, suppression_id=pk)
    except NotFound as exc:
        raise Http404(exc.message) from exc
    if request.method == "GET":
        return render_confirm(request, title="Remove from the suppression list?",
                              message=f"Marketing e-mail may reach {entry.address} again (unless its contact opted "
                                      f"out). It was listed as: {entry.get_reason_display().lower()}.",
                              confirm_label="Remove", cancel_url=reverse("web:suppression_list"))
    services.suppression_remove(suppression=entry, actor=request.user)
    messages.success(request, f"{entry.address} was removed from the suppression list.")
    return redirect("web:suppression_list")
