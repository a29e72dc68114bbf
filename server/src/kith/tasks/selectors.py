"""Reads of tasks and notifications.

Tasks follow the CRM rule (``kith.contacts.selectors.sees_only_own``): a member limited to their own records sees the
tasks assigned to them, plus tasks on records they may see (every linked contact, company and deal is theirs).
Everyone else in the workspace sees every task. Notifications are private: each user reads only their own, in the
current workspace; API keys have no inbox.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from dataclasses import dataclass
from typing import Any

from django.db.models import Q, QuerySet

from kith.accounts.models import Membership, Workspace
from kith.contacts.selectors import sees_only_own
from kith.core import clock
from kith.core.errors import NotFound
from kith.tasks.models import Notification, Task, TaskStatus

# The Done section of My tasks shows the latest completions; older ones stay reachable through the API.
DONE_SHOWN = 20
# A subject's panel lists this many open tasks (then links to My tasks / the API for the rest).
PANEL_LIMIT = 20


def visible_condition(membership: Membership | None) -> Q:
    """The tasks ``membership`` may see, as a condition (empty: everything in the workspace)."""
    if not sees_only_own(membership):
        return Q()
    assert membership is not None
    user_id = membership.user_id
    on_own_records = (
        (Q(contact__isnull=False) | Q(company__isnull=False) | Q(deal__isnull=False))
        & (Q(contact__isnull=True) | Q(contact__owner_id=user_id))
        & (Q(company__isnull=True) | Q(company__owner_id=user_id))
        & (Q(deal__isnull=True) | Q(deal__owner_id=user_id))
    )
    return Q(assignee_id=user_id) | on_own_records


def task_list(*, workspace: Workspace, membership: Membership | None) -> QuerySet[Task]:
    """The tasks ``membership`` may see, newest first, with assignee and subjects joined (one query)."""
    return (Task.objects.for_workspace(workspace).filter(visible_condition(membership))
            .select_related("assignee", "contact", "company", "deal").order_by("-id"))


def task_get(*, workspace: Workspace, membership: Membership | None, task_id: int) -> Task:
    task = task_list(workspace=workspace, membership=membership).filter(pk=task_id).first()
    if task is None:
        raise NotFound("No such task.")
    return task


def tasks_for_subject(
    *, workspace: Workspace, membership: Membership | None, contact: Any = None, company: Any = None, deal: Any = None
) -> list[Task]:
    """Open tasks of one contact, company or deal, soonest due first (the panel on its page)."""
    queryset = task_list(workspace=workspace, membership=membership).filter(status=TaskStatus.OPEN)
    if contact is not None:
        queryset = queryset.filter(contact=contact)
    elif company is not None:
        queryset = queryset.filter(company=company)
    elif deal is not None:
        queryset = queryset.filter(deal=deal)
    else:
        return []
    return list(queryset.order_by("due_at", "id")[:PANEL_LIMIT])


@dataclass(frozen=True)
class MyTasks:
    overdue: list[Task]
    today: list[Task]
    upcoming: list[Task]
    done: list[Task]

    @property
    def is_empty(self) -> bool:
        return not (self.overdue or self.today or self.upcoming or self.done)


def day_bounds(*, workspace: Workspace, now: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    """Start of today and of tomorrow in the workspace's time zone (what "due today" means to its people)."""
    try:
        zone: dt.tzinfo = zoneinfo.ZoneInfo(workspace.timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        zone = dt.UTC
    local = now.astimezone(zone)
    start = dt.datetime.combine(local.date(), dt.time(), tzinfo=zone)
    return start, dt.datetime.combine(local.date() + dt.timedelta(days=1), dt.time(), tzinfo=zone)


def my_tasks(*, workspace: Workspace, user: Any) -> MyTasks:
    """The user's tasks in four groups. Open tasks come from one read of the partial index (assignee, due_at) where
    status is open; done tasks from one read of the done index."""
    now = clock.now()
    _, tomorrow_start = day_bounds(workspace=workspace, now=now)
    base = Task.objects.for_workspace(workspace).filter(assignee=user).select_related("contact", "company", "deal")
    overdue, today, upcoming = [], [], []
    for task in base.filter(status=TaskStatus.OPEN).order_by("due_at", "id"):
        if task.due_at < now:
            overdue.append(task)
        elif task.due_at < tomorrow_start:
            today.append(task)
        else:
            upcoming.append(task)
    done = list(base.filter(status=TaskStatus.DONE).order_by("-completed_at", "-id")[:DONE_SHOWN])
    return MyTasks(overdue=overdue, today=today, upcoming=upcoming, done=done)


def member_user_id_set(*, workspace: Workspace, user_ids: set[int]) -> set[int]:
    """Which of ``user_ids`` are members of ``workspace`` (assignees must be), in one query."""
    if not user_ids:
        return set()
    return set(Membership.objects.filter(workspace=workspace, user_id__in=user_ids).values_list("user_id", flat=True))


def assignee_choices(*, workspace: Workspace) -> list[tuple[int, str]]:
    rows = (Membership.objects.filter(workspace=workspace).select_related("user")
            .order_by("user__full_name", "user__email"))
    return [(m.user_id, m.user.full_name or m.user.email) for m in rows]


# --- notifications -----------------------------------------------------------------------------------------
def notification_list(*, workspace: Workspace, user: Any) -> QuerySet[Notification]:
    """The user's notifications in this workspace, newest first. API keys (no ``pk``) have none."""
    if getattr(user, "pk", None) is None:
        return Notification.objects.none()
    return Notification.objects.for_workspace(workspace).filter(recipient_id=user.pk).order_by("-id")


def notification_get(*, workspace: Workspace, user: Any, notification_id: int) -> Notification:
    notification = notification_list(workspace=workspace, user=user).filter(pk=notification_id).first()
    if notification is None:
        raise NotFound("No such notification.")
    return notification


def notification_unread_count(*, workspace: Workspace, user: Any) -> int:
    return notification_list(workspace=workspace, user=user).filter(read_at__isnull=True).count()
