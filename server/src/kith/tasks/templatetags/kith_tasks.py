"""Template tags of tasks and notifications: the tasks panel of contact, company and deal pages, and the unread
count of the notification bell. Both read through ``kith.tasks.selectors`` with the request's workspace and
membership, so the panel shows exactly what the API would."""

from __future__ import annotations

from typing import Any

from django import template
from django.urls import reverse

from kith.core import clock
from kith.tasks import selectors
from kith.tasks.forms import TaskForm

register = template.Library()


@register.inclusion_tag("tasks/_panel.html", takes_context=True)
def tasks_panel(context: template.Context, *, contact: Any = None, company: Any = None, deal: Any = None) -> dict:
    request = context["request"]
    membership = request.membership
    tasks = selectors.tasks_for_subject(workspace=request.workspace, membership=membership, contact=contact,
                                        company=company, deal=deal)
    subject = {"contact": contact.pk if contact else None, "company": company.pk if company else None,
               "deal": deal.pk if deal else None}
    form = TaskForm(workspace=request.workspace, initial={"assignee": request.user.pk, **subject},
                    auto_id="panel-task-%s")
    return {"request": request, "tasks": tasks, "form": form, "now": clock.now(),
            "can_write": membership.can_write, "next": request.get_full_path(), "csrf_token": context.get("csrf_token"),
            "action": reverse("web:task_create")}


@register.simple_tag(takes_context=True)
def notifications_unread(context: template.Context) -> int:
    request = context.get("request")
    if request is None or getattr(request, "workspace", None) is None or not request.user.is_authenticated:
        return 0
    return selectors.notification_unread_count(workspace=request.workspace, user=request.user)
