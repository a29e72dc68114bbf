"""The workflow pages: the list, the builder (settings, the flow of steps with a form per step, the funnel, a test
run), and the contact page's run history panel. Views shape input with forms and call the services; validation
errors from the services are shown next to the step they name."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from kith.contacts import selectors as contact_selectors
from kith.contacts.errors import InvalidFields
from kith.core.errors import KithError
from kith.web.forms import add_domain_error
from kith.web.views.base import (
    MemberRequest,
    member_object_view,
    member_required,
    posted,
)
from kith.workflows import selectors, services
from kith.workflows.editing import step_put, step_remove
from kith.workflows.forms import (
    KIND_LABELS,
    AddStepForm,
    EnrollForm,
    StepForm,
    WorkflowSettingsForm,
    step_summary,
    step_targets_labelled,
)
from kith.workflows.models import RunState, Workflow

# The roles that may change workflows (a workflow can message every contact), as in the API.
WRITER_ROLES = frozenset({"owner", "admin", "manager"})


def _can_edit(request: MemberRequest) -> bool:
    return request.membership.role in WRITER_ROLES


def _require_editor(request: MemberRequest) -> None:
    if not _can_edit(request):
        raise PermissionDenied("Only owners, admins and managers change workflows.")


@member_required
@require_GET
def workflow_list(request: MemberRequest) -> HttpResponse:
    rows = (selectors.workflow_list(workspace=request.workspace)
            .annotate(entered=Count("runs"), waiting=Count("runs", filter=Q(runs__state=RunState.WAITING)),
                      failed=Count("runs", filter=Q(runs__state=RunState.FAILED)))[:500])
    return render(request, "workflows/workflow_list.html", {"workflows": rows, "can_edit": _can_edit(request)})


@member_required
def workflow_create(request: MemberRequest) -> HttpResponse:
    _require_editor(request)
    form = WorkflowSettingsForm(posted(request), workspace=request.workspace,
                                initial={"trigger_kind": "event", "reentry": "once"})
    if request.method == "POST" and form.is_valid():
        try:
            workflow = services.workflow_create(workspace=request.workspace, actor=request.user,
                                                data=form.service_data())
        except InvalidFields as exc:
            _field_errors(form, exc)
        except KithError as exc:
            add_domain_error(form, exc)
        else:
            messages.success(request, "Workflow created as a draft. Add its steps.")
            return redirect("workflows:builder", pk=workflow.pk)
    status = 400 if form.is_bound and form.errors else 200
    return render(request, "workflows/workflow_new.html", {"form": form}, status=status)


def _field_errors(form: Any, exc: InvalidFields) -> None:
    for name, problems in exc.errors.items():
        target = name.split(".")[-1] if name.startswith("trigger_config.") else name
        for problem in problems:
            form.add_error(target if target in form.fields else None, problem)


def _steps(workflow: Workflow) -> list[dict[str, Any]]:
    return list(workflow.current_version.definition["steps"]) if workflow.current_version else []


def _builder(request: MemberRequest, workflow: Workflow, *, settings_form: Any = None,
             step_errors: dict[str, list[str]] | None = None, step_forms: dict[str, StepForm] | None = None,
             pending: StepForm | None = None, pending_after: str = "", status: int = 200,
             enroll_form: EnrollForm | None = None) -> HttpResponse:
    steps = _steps(workflow)
    ids = [step["id"] for step in steps]
    funnel = selectors.workflow_funnel(workflow=workflow)
    by_step = {row.step_id: row for row in funnel.steps}
    step_errors = step_errors or {}
    cards = []
    for index, step in enumerate(steps):
        form = (step_forms or {}).get(step["id"]) or StepForm(kind=step["kind"], workspace=request.workspace,
                                                               step=step, step_ids=ids, prefix=f"s{index}")
        cards.append({"step": step, "label": KIND_LABELS.get(step["kind"], step["kind"]), "form": form,
                      "summary": step_summary(step), "targets": step_targets_labelled(step),
                      "errors": step_errors.get(step["id"], []), "funnel": by_step.get(step["id"]),
                      "prefix": f"s{index}"})
    context = {
        "workflow": workflow, "cards": cards, "funnel": funnel, "can_edit": _can_edit(request),
        "settings_form": settings_form or WorkflowSettingsForm(
            workspace=request.workspace, initial=WorkflowSettingsForm.initial_for(workflow)),
        "add_form": AddStepForm(step_ids=ids), "pending": pending, "pending_after": pending_after,
        "pending_label": KIND_LABELS.get(pending.kind, "") if pending else "",
        "pending_errors": step_errors.get("__pending__", []),
        "step_errors_workflow": step_errors.get("__workflow__", []),
        "enroll_form": enroll_form or EnrollForm(),
        "runs": selectors.run_list(workspace=request.workspace, membership=request.membership,
                                   workflow=workflow)[:20],
    }
    return render(request, "workflows/builder.html", context, status=status)


@member_object_view
def workflow_builder(request: MemberRequest, pk: int) -> HttpResponse:
    workflow = selectors.workflow_get(workspace=request.workspace, workflow_id=pk)
    if request.method != "POST":
        return _builder(request, workflow)
    _require_editor(request)
    form = WorkflowSettingsForm(request.POST, workspace=request.workspace)
    if form.is_valid():
        try:
            services.workflow_update(workflow=workflow, actor=request.user, data=form.service_data())
        except InvalidFields as exc:
            _field_errors(form, exc)
        except KithError as exc:
            add_domain_error(form, exc)
        else:
            messages.success(request, "Settings saved.")
            return redirect("workflows:builder", pk=workflow.pk)
    return _builder(request, workflow, settings_form=form, status=400)


def _definition_errors(exc: InvalidFields) -> dict[str, list[str]]:
    """``definition.steps.<id>.<setting>`` → messages per step id ("setting: message")."""
    found: dict[str, list[str]] = {}
    for name, problems in exc.errors.items():
        parts = name.split(".", 3)
        step_id = parts[2] if len(parts) > 2 and parts[:2] == ["definition", "steps"] else "__workflow__"
        setting = parts[3] if len(parts) > 3 else ""
        found.setdefault(step_id, []).extend(f"{setting}: {p}" if setting else p for p in problems)
    return found


def _save_definition(request: MemberRequest, workflow: Workflow, definition: dict[str, Any], *,
                     on_error: Any) -> HttpResponse:
    try:
        services.workflow_update(workflow=workflow, actor=request.user, data={"definition": definition})
    except InvalidFields as exc:
        return on_error(_definition_errors(exc))
    except KithError as exc:
        return on_error({"__workflow__": [exc.message]})
    messages.success(request, "Steps saved as a new version; runs already going keep theirs.")
    return redirect("workflows:builder", pk=workflow.pk)


@member_object_view
@require_http_methods(["GET", "POST"])
def step_new(request: MemberRequest, pk: int) -> HttpResponse:
    """Show the settings form of a new step of the chosen kind (nothing is saved until that form is)."""
    workflow = selectors.workflow_get(workspace=request.workspace, workflow_id=pk)
    if request.method != "POST":
        return _builder(request, workflow)  # a reload of a page this form answered
    _require_editor(request)
    ids = [step["id"] for step in _steps(workflow)]
    form = AddStepForm(request.POST, step_ids=ids)
    if not form.is_valid():
        messages.error(request, "Choose a step kind.")
        return redirect("workflows:builder", pk=workflow.pk)
    kind, after = form.cleaned_data["kind"], form.cleaned_data["after"]
    number = len(ids) + 1
    while f"{kind}-{number}" in ids:
        number += 1
    pending = StepForm(kind=kind, workspace=request.workspace, step={"id": f"{kind}-{number}"}, step_ids=ids,
                       prefix="new")
    return _builder(request, workflow, pending=pending, pending_after=after)


@member_object_view
@require_http_methods(["GET", "POST"])
def step_save(request: MemberRequest, pk: int) -> HttpResponse:
    """Save one step's form: a changed step (``replaces``) or a new one (``kind`` + ``after``)."""
    workflow = selectors.workflow_get(workspace=request.workspace, workflow_id=pk)
    if request.method != "POST":
        return _builder(request, workflow)  # a reload of a page this form answered
    _require_editor(request)
    steps = _steps(workflow)
    ids = [step["id"] for step in steps]
    replaces = request.POST.get("replaces") or None
    if replaces is not None:
        current = next((step for step in steps if step["id"] == replaces), None)
        if current is None:
            messages.error(request, "That step is no longer in the workflow.")
            return redirect("workflows:builder", pk=workflow.pk)
        kind, prefix = current["kind"], f"s{ids.index(replaces)}"
    else:
        kind, prefix = request.POST.get("kind", ""), "new"
        if kind not in KIND_LABELS:
            messages.error(request, "Choose a step kind.")
            return redirect("workflows:builder", pk=workflow.pk)
        current = {}
    after = request.POST.get("after", "")
    form = StepForm(request.POST, kind=kind, workspace=request.workspace, step=current or {}, step_ids=ids,
                    prefix=prefix)

    def failed(errors: dict[str, list[str]]) -> HttpResponse:
        if replaces is None:
            pending_errors = [m for messages_ in errors.values() for m in messages_]
            return _builder(request, workflow, pending=form, pending_after=after,
                            step_errors={"__pending__": pending_errors}, status=400)
        return _builder(request, workflow, step_errors=errors, step_forms={replaces: form}, status=400)

    if not form.is_valid():
        return failed({replaces or "__pending__": ["Correct the fields marked below."]})
    definition = step_put(workflow.current_version.definition if workflow.current_version else None,
                          step=form.step(), replaces=replaces, after=after or None)
    return _save_definition(request, workflow, definition, on_error=failed)


@member_object_view
@require_http_methods(["GET", "POST"])
def step_delete(request: MemberRequest, pk: int) -> HttpResponse:
    workflow = selectors.workflow_get(workspace=request.workspace, workflow_id=pk)
    if request.method != "POST":
        return _builder(request, workflow)  # a reload of a page this form answered
    _require_editor(request)
    if workflow.current_version is None:
        return redirect("workflows:builder", pk=workflow.pk)
    definition = step_remove(workflow.current_version.definition, step_id=request.POST.get("step", ""))
    if not definition["steps"]:
        messages.error(request, "A workflow keeps at least one step.")
        return redirect("workflows:builder", pk=workflow.pk)
    return _save_definition(request, workflow, definition,
                            on_error=lambda errors: _builder(request, workflow, step_errors=errors, status=400))


@member_object_view
@require_http_methods(["GET", "POST"])
def workflow_switch(request: MemberRequest, pk: int) -> HttpResponse:
    """Activate or pause."""
    workflow = selectors.workflow_get(workspace=request.workspace, workflow_id=pk)
    if request.method != "POST":
        return _builder(request, workflow)  # a reload of a page this form answered
    _require_editor(request)
    try:
        if request.POST.get("to") == "active":
            services.workflow_activate(workflow=workflow, actor=request.user)
            messages.success(request, "Workflow activated: new contacts enter on its trigger.")
        else:
            services.workflow_pause(workflow=workflow, actor=request.user)
            messages.success(request, "Workflow paused: nobody new enters; runs going continue.")
    except InvalidFields as exc:
        messages.error(request, " ".join(p for problems in exc.errors.values() for p in problems))
    except KithError as exc:
        messages.error(request, exc.message)
    return redirect("workflows:builder", pk=workflow.pk)


@member_object_view
@require_http_methods(["GET", "POST"])
def workflow_test_run(request: MemberRequest, pk: int) -> HttpResponse:
    """Enroll one contact (by e-mail or id): the builder's test run, also for drafts."""
    workflow = selectors.workflow_get(workspace=request.workspace, workflow_id=pk)
    if request.method != "POST":
        return _builder(request, workflow)  # a reload of a page this form answered
    _require_editor(request)
    form = EnrollForm(request.POST)
    if form.is_valid():
        needle = form.cleaned_data["contact"].strip()
        visible = contact_selectors.contact_list(workspace=request.workspace, membership=request.membership)
        contact = (visible.filter(pk=int(needle)) if needle.isdigit() and len(needle) < 18 else
                   visible.filter(email=needle.lower())).first()
        if contact is None:
            form.add_error("contact", "No contact with this e-mail address or id.")
        else:
            try:
                entered = services.workflow_enroll(workflow=workflow, actor=request.user, contact_ids=[contact.pk])
            except KithError as exc:
                add_domain_error(form, exc)
            else:
                if entered:
                    messages.success(request, f"{contact.email or contact.pk} entered the workflow.")
                else:
                    messages.warning(request, "Not entered: the entry condition or re-entry rule keeps them out.")
                return redirect("workflows:builder", pk=workflow.pk)
    return _builder(request, workflow, enroll_form=form, status=400)


@member_object_view
def contact_runs(request: MemberRequest, pk: int) -> HttpResponse:
    """The contact page's panel: this contact's runs (newest first) and a manual "enroll" form."""
    contact = contact_selectors.contact_get(workspace=request.workspace, membership=request.membership,
                                            contact_id=pk)
    if request.method == "POST":
        _require_editor(request)
        workflow_id = request.POST.get("workflow", "")
        if workflow_id.isdigit() and len(workflow_id) < 18:
            workflow = selectors.workflow_get(workspace=request.workspace, workflow_id=int(workflow_id))
            try:
                entered = services.workflow_enroll(workflow=workflow, actor=request.user, contact_ids=[contact.pk])
            except KithError as exc:
                messages.error(request, exc.message)
            else:
                (messages.success if entered else messages.warning)(
                    request, f"Entered “{workflow.name}”." if entered else
                    "Not entered: the entry condition or re-entry rule keeps this contact out.")
        return redirect("web:contact_detail", pk=contact.pk)
    runs = selectors.run_list(workspace=request.workspace, membership=request.membership, contact_id=contact.pk)[:20]
    workflows = selectors.workflow_list(workspace=request.workspace).filter(current_version__isnull=False)
    return render(request, "workflows/_contact_runs.html", {
        "contact": contact, "runs": runs, "workflows": workflows, "can_edit": _can_edit(request)})
