"""Import pages: upload, mapping with preview, progress (polled by HTMX) and summary, and the error report.

Thin: reads through ``kith.imports.selectors``, writes through ``kith.imports.services``. Only members who may
import (``kith.imports.permissions``) reach these pages; other workspaces' imports answer 404.
"""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods

from kith.contacts.errors import InvalidFields
from kith.core.errors import KithError
from kith.imports import selectors, services
from kith.imports.forms import MappingForm, UploadForm
from kith.imports.mapping import targets
from kith.imports.models import ImportJob, ImportKind, ImportStatus
from kith.imports.permissions import can_import
from kith.web.views.base import (
    MemberRequest,
    member_object_view,
    member_required,
    posted,
    render_confirm,
)


def _job(request: MemberRequest, pk: int) -> ImportJob:
    job = selectors.import_get(workspace=request.workspace, import_id=pk)
    if not can_import(request.membership, job.kind):
        raise PermissionDenied("Your role cannot import records of this kind.")
    return job


@member_required
def import_list(request: MemberRequest) -> HttpResponse:
    if not can_import(request.membership):
        raise PermissionDenied("Your role cannot import records.")
    jobs = selectors.import_list(workspace=request.workspace)[:50]
    return render(request, "imports/list.html", {"jobs": jobs})


@member_required
def import_upload(request: MemberRequest) -> HttpResponse:
    if not can_import(request.membership):
        raise PermissionDenied("Your role cannot import records.")
    kind = request.GET.get("kind", ImportKind.CONTACTS)
    form = UploadForm(posted(request), request.FILES or None,
                      initial={"kind": kind if kind in ImportKind.values else ImportKind.CONTACTS})
    # Only the kinds this member may import are offered (a marketer: contacts).
    form.fields["kind"].choices = [(value, label) for value, label in ImportKind.choices
                                   if can_import(request.membership, value)]
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            job = services.import_create(
                workspace=request.workspace, actor=request.user, membership=request.membership,
                kind=form.cleaned_data["kind"], file_name=upload.name, size=upload.size, chunks=upload.chunks())
        except KithError as exc:
            message = (" ".join(m for ms in exc.errors.values() for m in ms) if isinstance(exc, InvalidFields)
                       else exc.message)
            form.add_error("file" if exc.field in (None, "file") else None, message)
        else:
            return redirect("web:import_detail", pk=job.pk)
    return render(request, "imports/upload.html", {"form": form}, status=400 if form.errors else 200)


@member_object_view
def import_detail(request: MemberRequest, pk: int) -> HttpResponse:
    """A draft shows its mapping and preview (POST saves the mapping); a started import shows its progress."""
    job = _job(request, pk)
    if job.status != ImportStatus.DRAFT:
        return render(request, "imports/progress.html", {"job": job})
    found = targets(kind=job.kind, definitions=services.definitions_for(workspace=job.workspace, kind=job.kind))
    form = MappingForm(posted(request), job=job, targets=found)
    status = 200
    if request.method == "POST" and form.is_valid():
        try:
            job = services.import_configure(job=job, actor=request.user, mapping=form.mapping(),
                                            upsert_key=form.cleaned_data["upsert_key"],
                                            update_existing=form.cleaned_data["update_existing"])
        except InvalidFields as exc:
            for messages_ in exc.errors.values():
                for message in messages_:
                    form.add_error(None, message)
            status = 400
        except KithError as exc:
            form.add_error(None, exc.message)
            status = 400
        else:
            if request.POST.get("action") == "start":
                return _start(request, job)
            return redirect("web:import_detail", pk=job.pk)
    elif request.method == "POST":
        status = 400
    preview = selectors.import_preview(job=job)
    return render(request, "imports/mapping.html", {"job": job, "form": form, "preview": preview}, status=status)


def _start(request: MemberRequest, job: ImportJob) -> HttpResponse:
    try:
        services.import_start(job=job, actor=request.user)
    except KithError as exc:
        messages.error(request, exc.message)
    return redirect("web:import_detail", pk=job.pk)


@member_object_view
@require_GET
def import_progress(request: MemberRequest, pk: int) -> HttpResponse:
    """The progress block alone, polled by the progress page while the import runs."""
    job = _job(request, pk)
    return render(request, "imports/_progress.html", {"job": job})


@member_object_view
@require_http_methods(["GET", "POST"])
def import_cancel(request: MemberRequest, pk: int) -> HttpResponse:
    """GET asks first (the page works without JS); POST cancels."""
    job = _job(request, pk)
    if request.method == "GET":
        return render_confirm(request, title="Cancel this import?",
                              message="Rows already imported stay; the rest of the file is not read.",
                              confirm_label="Cancel import", cancel_url=reverse("web:import_detail", args=[job.pk]))
    try:
        services.import_cancel(job=job, actor=request.user)
    except KithError as exc:
        messages.error(request, exc.message)
    return redirect("web:import_detail", pk=job.pk)


@member_object_view
@require_http_methods(["GET", "POST"])
def import_resume(request: MemberRequest, pk: int) -> HttpResponse:
    """GET asks first; POST continues a failed import after its last committed row."""
    job = _job(request, pk)
    if request.method == "GET":
        return render_confirm(request, title="Resume this import?",
                              message="It continues after the last row that was imported; nothing is imported twice.",
                              confirm_label="Resume", cancel_url=reverse("web:import_detail", args=[job.pk]),
                              tone="primary")
    try:
        services.import_resume(job=job, actor=request.user)
    except KithError as exc:
        messages.error(request, exc.message)
    return redirect("web:import_detail", pk=job.pk)


@member_object_view
@require_GET
def import_error_report(request: MemberRequest, pk: int) -> FileResponse:
    job = _job(request, pk)
    path = selectors.error_report_path(job=job)
    if path is None:
        raise Http404("This import has no error report yet.")
    name = f"import-{job.pk}-errors.csv"
    return FileResponse(path.open("rb"), as_attachment=True, filename=name, content_type="text/csv")
