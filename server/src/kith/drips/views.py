"""The sequence pages: the list, and the editor with its steps (add, change day or template, move, delete) and the
per-step statistics. Thin: forms shape the input, services decide, errors land on the field they name."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods

from kith.core.errors import KithError
from kith.drips import selectors, services
from kith.drips.forms import SequenceForm, StepForm
from kith.drips.models import Sequence
from kith.web.forms import add_domain_error
from kith.web.views.base import (
    MemberRequest,
    member_object_view,
    member_required,
    posted,
    render_confirm,
)


def _require_writer(request: MemberRequest) -> None:
    if not request.membership.can_write:
        raise PermissionDenied("Viewers can look at sequences but not change them.")


def _initial(sequence: Sequence) -> dict[str, Any]:
    return {"name": sequence.name, "segment": sequence.segment_id or "", "enroll_event": sequence.enroll_event,
            "send_time": sequence.send_time.strftime("%H:%M"), "exit_events": ", ".join(sequence.exit_events),
            "goal_segment": sequence.goal_segment_id or "", "topic": sequence.topic_id or ""}


@member_required
@require_GET
def sequence_list(request: MemberRequest) -> HttpResponse:
    # Tens of sequences per workspace; the bound only keeps a runaway script from making a huge page.
    sequences = selectors.sequence_list(workspace=request.workspace)[:500]
    return render(request, "drips/sequence_list.html", {"sequences": sequences})


@member_required
def sequence_create(request: MemberRequest) -> HttpResponse:
    form = SequenceForm(posted(request), workspace=request.workspace, initial={"send_time": "09:00"})
    if request.method == "POST":
        _require_writer(request)
        if form.is_valid():
            try:
                sequence = services.sequence_create(workspace=request.workspace, actor=request.user,
                                                    data=form.cleaned_data)
            except KithError as exc:
                add_domain_error(form, exc)
            else:
                messages.success(request, f"Sequence “{sequence.name}” created. Add its steps.")
                return redirect("drips:sequence_edit", pk=sequence.pk)
    status = 400 if form.is_bound and form.errors else 200
    return render(request, "drips/sequence_form.html", {"form": form, "sequence": None}, status=status)


def _editor(request: MemberRequest, sequence: Sequence, *, form: SequenceForm | None = None,
            step_form: StepForm | None = None, status: int = 200) -> HttpResponse:
    stats = selectors.sequence_stats(sequence=sequence)
    context = {
        "sequence": sequence,
        "form": form or SequenceForm(workspace=request.workspace, initial=_initial(sequence)),
        "step_form": step_form or StepForm(workspace=request.workspace),
        "steps": stats["steps"], "enrollments": stats["enrollments"],
        "templates": StepForm(workspace=request.workspace).fields["template"].choices,
    }
    return render(request, "drips/sequence_edit.html", context, status=status)


@member_object_view
def sequence_edit(request: MemberRequest, pk: int) -> HttpResponse:
    sequence = selectors.sequence_get(workspace=request.workspace, sequence_id=pk)
    if request.method != "POST":
        return _editor(request, sequence)
    _require_writer(request)
    form = SequenceForm(request.POST, workspace=request.workspace)
    if form.is_valid():
        try:
            services.sequence_update(sequence=sequence, actor=request.user, data=form.cleaned_data)
        except KithError as exc:
            add_domain_error(form, exc)
            sequence.refresh_from_db()
        else:
            messages.success(request, "Sequence saved.")
            return redirect("drips:sequence_edit", pk=sequence.pk)
    return _editor(request, sequence, form=form, status=400)


@member_object_view
@require_http_methods(["GET", "POST"])
def sequence_switch(request: MemberRequest, pk: int) -> HttpResponse:
    sequence = selectors.sequence_get(workspace=request.workspace, sequence_id=pk)
    if request.method == "GET":
        return _editor(request, sequence)  # the form posting here lives on the editor
    _require_writer(request)
    try:
        if request.POST.get("active") == "1":
            services.sequence_activate(sequence=sequence, actor=request.user,
                                       enroll_current_members=request.POST.get("enroll_current_members") == "1")
            messages.success(request, "Sequence switched on.")
        else:
            services.sequence_deactivate(sequence=sequence, actor=request.user)
            messages.success(request, "Sequence switched off.")
    except KithError as exc:
        messages.error(request, exc.message)
    return redirect("drips:sequence_edit", pk=sequence.pk)


@member_object_view
@require_http_methods(["GET", "POST"])
def sequence_delete(request: MemberRequest, pk: int) -> HttpResponse:
    sequence = selectors.sequence_get(workspace=request.workspace, sequence_id=pk)
    if request.method == "GET":
        return render_confirm(request, title="Delete this sequence?", confirm_label="Delete sequence",
                              message=f"“{sequence.name}” stops at once: its steps and enrollments are deleted. "
                                      "Messages already sent stay in the ledger.",
                              cancel_url=reverse("drips:sequence_edit", args=[sequence.pk]))
    _require_writer(request)
    services.sequence_delete(sequence=sequence, actor=request.user)
    messages.success(request, f"Sequence “{sequence.name}” deleted.")
    return redirect("drips:sequence_list")


@member_object_view
@require_http_methods(["GET", "POST"])
def step_add(request: MemberRequest, pk: int) -> HttpResponse:
    sequence = selectors.sequence_get(workspace=request.workspace, sequence_id=pk)
    if request.method == "GET":
        return _editor(request, sequence)
    _require_writer(request)
    form = StepForm(request.POST, workspace=request.workspace)
    if form.is_valid():
        try:
            services.step_create(sequence=sequence, actor=request.user, data=form.cleaned_data)
        except KithError as exc:
            add_domain_error(form, exc)
        else:
            messages.success(request, "Step added.")
            return redirect("drips:sequence_edit", pk=sequence.pk)
    return _editor(request, sequence, step_form=form, status=400)


@member_object_view
@require_http_methods(["GET", "POST"])
def step_edit(request: MemberRequest, pk: int, step_pk: int) -> HttpResponse:
    sequence = selectors.sequence_get(workspace=request.workspace, sequence_id=pk)
    step = selectors.step_get(sequence=sequence, step_id=step_pk)
    if request.method == "GET":
        return _editor(request, sequence)
    _require_writer(request)
    form = StepForm(request.POST, workspace=request.workspace)
    if form.is_valid():
        try:
            services.step_update(step=step, actor=request.user, data=form.cleaned_data)
        except KithError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, "Step saved.")
    else:
        messages.error(request, " ".join(str(e) for errors in form.errors.values() for e in errors))
    return redirect("drips:sequence_edit", pk=sequence.pk)


@member_object_view
@require_http_methods(["GET", "POST"])
def step_move(request: MemberRequest, pk: int, step_pk: int) -> HttpResponse:
    sequence = selectors.sequence_get(workspace=request.workspace, sequence_id=pk)
    step = selectors.step_get(sequence=sequence, step_id=step_pk)
    if request.method == "GET":
        return _editor(request, sequence)
    _require_writer(request)
    order = list(selectors.step_list(sequence=sequence).values_list("pk", flat=True))
    index = order.index(step.pk)
    target = index - 1 if request.POST.get("direction") == "up" else index + 1
    if 0 <= target < len(order):
        order[index], order[target] = order[target], order[index]
        try:
            services.steps_reorder(sequence=sequence, actor=request.user, order=order)
        except KithError as exc:
            messages.error(request, exc.message)
    return redirect("drips:sequence_edit", pk=sequence.pk)


@member_object_view
@require_http_methods(["GET", "POST"])
def step_delete(request: MemberRequest, pk: int, step_pk: int) -> HttpResponse:
    sequence = selectors.sequence_get(workspace=request.workspace, sequence_id=pk)
    step = selectors.step_get(sequence=sequence, step_id=step_pk)
    if request.method == "GET":
        return render_confirm(request, title="Delete this step?", confirm_label="Delete step",
                              message=f"Step on day {step.day_offset} is removed; contacts waiting for it move on "
                                      "to the next step.",
                              cancel_url=reverse("drips:sequence_edit", args=[sequence.pk]))
    _require_writer(request)
    services.step_delete(step=step, actor=request.user)
    messages.success(request, "Step deleted.")
    return redirect("drips:sequence_edit", pk=sequence.pk)
