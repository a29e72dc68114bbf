"""Task and notification pages: My tasks, create/edit/complete/reopen/delete, the notification list and the bell.
Thin: read through ``kith.tasks.selectors``, write through the services."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from kith.contacts.errors import InvalidFields
from kith.core import clock
from kith.core.errors import KithError
from kith.tasks import notifications, selectors, services
from kith.tasks.forms import TaskForm
from kith.tasks.models import Task
from kith.web.views.base import (
    KithRequest,
    MemberRequest,
    member_object_view,
    member_required,
    posted,
    render_confirm,
    with_toast,
)

NOTIFICATIONS_SHOWN = 50
HTMX_STOP_POLLING = 286


def _require_writer(request: MemberRequest) -> None:
    if not request.membership.can_write:
        raise PermissionDenied("Viewers can look at tasks but not change them.")


def _task(request: MemberRequest, pk: int) -> Task:
    return selectors.task_get(workspace=request.workspace, membership=request.membership, task_id=pk)


def _zone(request: MemberRequest) -> zoneinfo.ZoneInfo | Any:
    try:
        return zoneinfo.ZoneInfo(request.workspace.timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return timezone.get_default_timezone()


def _minute(value: dt.datetime) -> dt.datetime:
    """A stored time as the minute-precision picker shows it, in the active (workspace) zone."""
    return timezone.localtime(value).replace(second=0, microsecond=0)


def _next(request: MemberRequest, default: str) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()},
                                                  require_https=request.is_secure()):
        return target
    return default


def _errors_to_form(form: TaskForm, exc: KithError) -> None:
    if isinstance(exc, InvalidFields):
        for field, errors in exc.errors.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(exc.field if exc.field in form.fields else None, exc.message)


@member_required
@require_GET
def my_tasks(request: MemberRequest) -> HttpResponse:
    """The signed-in member's tasks: overdue, due today (workspace time zone), upcoming, recently done."""
    groups = selectors.my_tasks(workspace=request.workspace, user=request.user)
    context = {"groups": groups, "can_write": request.membership.can_write, "now": clock.now(),
               "next": request.get_full_path()}
    return render(request, "tasks/my_tasks.html", context)


@member_required
@require_http_methods(["GET", "POST"])
def task_create(request: MemberRequest) -> HttpResponse:
    """The full form (``?contact=&company=&deal=`` pre-link it); the panels of contact, company and deal pages post
    here too and come back to ``next``."""
    _require_writer(request)
    initial = {"assignee": request.user.pk,
               **{name: request.GET.get(name) for name in ("contact", "company", "deal") if request.GET.get(name)}}
    with timezone.override(_zone(request)):
        form = TaskForm(posted(request), workspace=request.workspace, initial=initial)
        if request.method == "POST" and form.is_valid():
            try:
                task = services.task_create(workspace=request.workspace, actor=request.user,
                                            data=form.service_data(subjects=True), membership=request.membership)
            except KithError as exc:
                _errors_to_form(form, exc)
            else:
                messages.success(request, f"Task “{task.title}” added.")
                return redirect(_next(request, reverse("web:my_tasks")))
        status = 400 if form.is_bound and form.errors else 200
        return render(request, "tasks/form.html", {"form": form, "task": None, "next": _next(request, "")},
                      status=status)


@member_object_view
@require_http_methods(["GET", "POST"])
def task_edit(request: MemberRequest, pk: int) -> HttpResponse:
    """One task: its form for writers (read-only details for viewers)."""
    task = _task(request, pk)
    with timezone.override(_zone(request)):
        initial = {"title": task.title, "due_at": _minute(task.due_at), "assignee": task.assignee_id,
                   "reminder_at": _minute(task.reminder_at) if task.reminder_at else None,
                   "email_reminder": task.email_reminder, "notes": task.notes}
        form = TaskForm(posted(request), workspace=request.workspace, initial=initial)
        if request.method == "POST":
            _require_writer(request)
            if form.is_valid():
                try:
                    services.task_update(task=task, actor=request.user, data=form.service_data(subjects=False),
                                         membership=request.membership)
                except KithError as exc:
                    _errors_to_form(form, exc)
                else:
                    messages.success(request, "Task saved.")
                    return redirect(_next(request, reverse("web:my_tasks")))
        status = 400 if form.is_bound and form.errors else 200
        context = {"form": form, "task": task, "can_write": request.membership.can_write, "next": _next(request, "")}
        return render(request, "tasks/form.html", context, status=status)


def _status_change(request: MemberRequest, pk: int, *, done: bool) -> HttpResponse:
    task = _task(request, pk)
    if request.method == "GET":  # the buttons live on the task's page, which a GET (a reload) shows
        return task_edit(request, pk)
    _require_writer(request)
    change = services.task_complete if done else services.task_reopen
    task = change(task=task, actor=request.user, membership=request.membership)
    toast = f"“{task.title}” {'completed' if done else 'reopened'}."
    if request.htmx:
        response = render(request, "tasks/_task_row.html",
                          {"task": task, "can_write": True, "now": clock.now(), "next": _next(request, "")})
        return with_toast(response, toast)
    messages.success(request, toast)
    return redirect(_next(request, reverse("web:my_tasks")))


@member_object_view
@require_http_methods(["GET", "POST"])
def task_complete(request: MemberRequest, pk: int) -> HttpResponse:
    return _status_change(request, pk, done=True)


@member_object_view
@require_http_methods(["GET", "POST"])
def task_reopen(request: MemberRequest, pk: int) -> HttpResponse:
    return _status_change(request, pk, done=False)


@member_object_view
@require_http_methods(["GET", "POST"])
def task_delete(request: MemberRequest, pk: int) -> HttpResponse:
    task = _task(request, pk)
    _require_writer(request)
    if request.method != "POST":
        return render_confirm(request, title="Delete task?", message=f"“{task.title}” will be deleted.",
                              confirm_label="Delete task", cancel_url=reverse("web:task_edit", kwargs={"pk": task.pk}))
    services.task_delete(task=task, actor=request.user)
    messages.success(request, f"Task “{task.title}” deleted.")
    return redirect("web:my_tasks")


# --- notifications -----------------------------------------------------------------------------------------
@member_required
@require_GET
def notification_list(request: MemberRequest) -> HttpResponse:
    rows = list(selectors.notification_list(workspace=request.workspace, user=request.user)[:NOTIFICATIONS_SHOWN])
    unread = selectors.notification_unread_count(workspace=request.workspace, user=request.user)
    return render(request, "tasks/notifications.html", {"notifications": rows, "unread": unread})


@require_GET
def notification_bell(request: KithRequest) -> HttpResponse:
    """The bell's badge alone; the nav polls it (``hx-trigger="every 30s"``). Once the session is gone, answer 286,
    which tells HTMX to stop polling: a login redirect would otherwise be followed and the login page swapped into
    the badge."""
    if not request.user.is_authenticated or request.membership is None:
        return HttpResponse(status=HTMX_STOP_POLLING)
    unread = selectors.notification_unread_count(workspace=request.workspace, user=request.user)
    return render(request, "tasks/_bell_count.html", {"unread": unread})


@member_object_view
@require_http_methods(["GET", "POST"])
def notification_read(request: MemberRequest, pk: int) -> HttpResponse:
    """Mark one notification read and open what it points to (its internal path)."""
    notification = selectors.notification_get(workspace=request.workspace, user=request.user, notification_id=pk)
    if request.method == "GET":  # the button lives on the notifications page, which a GET shows
        return notification_list(request)
    notifications.notification_mark_read(notification=notification)
    if request.POST.get("open") and notification.url:
        return redirect(notifications.internal_path(notification.url))
    return redirect("web:notification_list")


@member_required
@require_POST
def notification_read_all(request: MemberRequest) -> HttpResponse:
    marked = notifications.notification_mark_all_read(workspace=request.workspace, user=request.user)
    messages.success(request, f"{marked} notification{'s' if marked != 1 else ''} marked read." if marked
                     else "Nothing unread.")
    return redirect("web:notification_list")
