"""The segment pages: the list, and the editor whose definition box shows a live count (HTMX) as it changes."""

from __future__ import annotations

import json

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from kith.core.errors import KithError
from kith.segments import selectors, services
from kith.segments.errors import InvalidSegment
from kith.segments.forms import SegmentForm, definition_parse
from kith.segments.models import Segment
from kith.web.forms import add_domain_error
from kith.web.views.base import (
    MemberRequest,
    member_object_view,
    member_required,
    posted,
)


def _require_writer(request: MemberRequest) -> None:
    if not request.membership.can_write:
        raise PermissionDenied("Viewers can look at segments but not change them.")


@member_required
@require_GET
def segment_list(request: MemberRequest) -> HttpResponse:
    # A workspace has tens of segments, not thousands; the bound only keeps a runaway script from making a huge page.
    segments = selectors.segment_list(workspace=request.workspace)[:500]
    return render(request, "segments/segment_list.html", {"segments": segments})


@member_required
def segment_create(request: MemberRequest) -> HttpResponse:
    if request.method == "POST":
        _require_writer(request)
    return _editor(request, None)


@member_object_view
def segment_edit(request: MemberRequest, pk: int) -> HttpResponse:
    segment = selectors.segment_get(workspace=request.workspace, segment_id=pk)
    if request.method == "POST":
        _require_writer(request)
    return _editor(request, segment)


def _editor(request: MemberRequest, segment: Segment | None) -> HttpResponse:
    initial = {}
    if segment is not None:
        initial = {"name": segment.name, "definition": json.dumps(segment.definition, indent=2, ensure_ascii=False)}
    form = SegmentForm(posted(request), initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            if segment is None:
                segment = services.segment_create(workspace=request.workspace, actor=request.user,
                                                  name=data["name"], definition=data["definition"])
            else:
                services.segment_update(segment=segment, actor=request.user, data=data)
        except KithError as exc:
            add_domain_error(form, exc)
        else:
            messages.success(request, f"Segment “{segment.name}” saved.")
            return redirect("web:segment_edit", pk=segment.pk)
    status = 400 if form.is_bound and form.errors else 200
    return render(request, "segments/segment_form.html", {"form": form, "segment": segment}, status=status)


@member_required
@require_POST
def segment_preview(request: MemberRequest) -> HttpResponse:
    """The live count under the editor: the count and a few names, or the error naming the bad condition."""
    context: dict[str, object] = {}
    text = request.POST.get("definition", "")
    if not text.strip():
        return render(request, "segments/_preview.html", {"empty": True})  # a fresh editor: nothing to count yet
    try:
        definition = definition_parse(text)
        segment_id = request.POST.get("segment_id", "")
        condition = selectors.segment_condition(
            workspace=request.workspace, definition=definition,
            segment_id=int(segment_id) if segment_id.isascii() and segment_id.isdigit() else None)
        context["count"], context["sample"] = selectors.segment_preview(
            workspace=request.workspace, membership=request.membership, condition=condition)
    except (InvalidSegment, forms.ValidationError) as exc:
        context["error"] = exc.message if isinstance(exc, InvalidSegment) else " ".join(exc.messages)
    return render(request, "segments/_preview.html", context)
