"""The audit log: the workspace's changes and its members' security events, newest first, paged by id."""

from __future__ import annotations

from urllib.parse import urlencode

from django.http import HttpResponse
from django.shortcuts import render

from kith.accounts import selectors
from kith.web.forms import AuditFilterForm
from kith.web.views.base import MemberRequest, admin_required

# Rows per page. Keyset paging (id < before) keeps every page one index range scan, however old the page.
PAGE_SIZE = 50


@admin_required
def audit_log(request: MemberRequest) -> HttpResponse:
    entries = selectors.audit_list(workspace=request.workspace)
    actions = list(entries.order_by("action").values_list("action", flat=True).distinct())
    form = AuditFilterForm(request.GET or None, actions=actions)
    action, before = "", None
    status = 200
    if form.is_bound:
        if form.is_valid():
            action, before = form.cleaned_data["action"], form.cleaned_data["before"]
        else:
            status = 400
    if action:
        entries = entries.filter(action=action)
    if before:
        entries = entries.filter(id__lt=before)
    page = list(entries[: PAGE_SIZE + 1])
    older_url = ""
    if len(page) > PAGE_SIZE:
        page = page[:PAGE_SIZE]
        older_url = "?" + urlencode({k: v for k, v in (("action", action), ("before", page[-1].pk)) if v})
    newest_url = "?" + urlencode({"action": action}) if action else "?"
    context = {
        "entries": page,
        "form": form,
        "action": action,
        "is_first_page": before is None,
        "older_url": older_url,
        "newest_url": newest_url,
    }
    return render(request, "web/audit/list.html", context, status=status)
