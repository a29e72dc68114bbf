"""Logging a note, call or meeting on a deal (contacts and companies have theirs in ``kith.contacts.views``)."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_http_methods

from kith.contacts.forms import ActivityForm
from kith.core.errors import KithError
from kith.deals import selectors as deal_selectors
from kith.deals import views as deal_views
from kith.timeline.services import activity_log_manual
from kith.web.views.base import MemberRequest, member_object_view


@member_object_view
@require_http_methods(["GET", "POST"])
def deal_activity_log(request: MemberRequest, pk: int) -> HttpResponse:
    """The entry lands on the deal and on its contact's and company's timelines, like a call logged on a contact
    shows on its company."""
    deal = deal_selectors.deal_get(workspace=request.workspace, membership=request.membership, deal_id=pk)
    if request.method == "GET":  # the form lives on the deal page, which a GET (a reload after a POST) shows
        return deal_views.deal_detail(request, pk)
    if not request.membership.can_write:
        raise PermissionDenied("Viewers can look at deals but not change them.")
    form = ActivityForm(request.POST)
    if form.is_valid():
        try:
            activity = activity_log_manual(workspace=request.workspace, actor=request.user, deal=deal,
                                           contact=deal.contact, company=deal.company, **form.cleaned_data)
        except KithError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, f"{activity.get_kind_display()} logged.")
        return redirect("web:deal_detail", pk=deal.pk)
    messages.error(request, " ".join(e for errors in form.errors.values() for e in errors))
    return redirect("web:deal_detail", pk=deal.pk)
