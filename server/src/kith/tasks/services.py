"""Writes of tasks: create, update, complete, reopen, delete, and bulk create/update.

One set-based path serves them all (``task_write_many``): references are resolved in one query per kind through the
caller's visibility, rows are written with one ``bulk_create``/``bulk_update``, and audit rows, timeline entries and
"assigned to you" notifications are inserted in one statement each. The single-object services run it with one item
and raise its field errors, so the UI, the API and bulk calls cannot drift apart.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.urls import reverse

from kith.accounts.models import Membership, Workspace
from kith.contacts import selectors as contact_selectors
from kith.contacts.bulk import (  # noqa: F401  (MAX_BULK_ITEMS is re-exported for the API)
    MAX_BULK_ITEMS,
    UPDATE_BATCH_SIZE,
    BulkStatus,
    bulk_saved_status,
    bulk_size_check,
)
from kith.contacts.errors import FieldErrors, InvalidFields
from kith.contacts.services._common import audit_entry_build
from kith.core import clock
from kith.core.audit import audit_record, diff, snapshot
from kith.core.models import AuditEntry
from kith.deals import selectors as deal_selectors
from kith.tasks import selectors
from kith.tasks.models import Notification, NotificationKind, Task, TaskStatus
from kith.timeline.models import Activity, ActivityKind
from kith.timeline.services import NOTE_MAX_CHARS, sanitize_note_html

AUDIT_FIELDS = ("title", "due_at", "assignee", "contact", "company", "deal", "status", "completed_at",
                "reminder_at", "email_reminder")
WRITABLE = frozenset({"title", "notes", "due_at", "assignee", "contact", "company", "deal", "status", "reminder_at",
                      "email_reminder"})
REFERENCES = ("contact", "company", "deal")


# The statuses every bulk endpoint shares (kith.contacts.bulk); the old name stays for callers of this module.
WriteStatus = BulkStatus


@dataclass(frozen=True)
class WriteResult:
    index: int
    status: WriteStatus
    task: Task | None = None
    errors: dict[str, list[str]] | None = None

    @property
    def id(self) -> int | None:
        return self.task.pk if self.task is not None else None


@dataclass
class _Item:
    index: int
    raw: Mapping[str, Any]
    task: Task
    created: bool
    before: dict[str, Any] | None = None
    changed: list[str] = field(default_factory=list)
    completed: bool = False
    reopened: bool = False
    reassigned: bool = False


@dataclass(frozen=True)
class _Refs:
    """Everything the items name, loaded once through the caller's visibility."""

    contacts: dict[int, Any]
    companies: dict[int, Any]
    deals: dict[int, Any]
    members: set[int]
    tasks: dict[int, Task]


def task_url(task: Task) -> str:
    return reverse("web:task_edit", kwargs={"pk": task.pk})


# --- single-object services --------------------------------------------------------------------------------
def task_create(*, workspace: Workspace, actor: Any, data: Mapping[str, Any],
                membership: Membership | None = None) -> Task:
    """Create a task. ``data`` holds ``title``, ``due_at`` and ``assignee`` (a member's user id), optionally
    ``notes`` (HTML, sanitized), ``contact``/``company``/``deal`` ids the caller may see, ``reminder_at`` and
    ``email_reminder``. Raises ``InvalidFields`` naming every bad field."""
    return _one(task_write_many(workspace=workspace, actor=actor, membership=membership, items=[dict(data)]))


def task_update(*, task: Task, actor: Any, data: Mapping[str, Any], membership: Membership | None = None) -> Task:
    """Change the fields given (as in ``task_create``; ``status`` completes or reopens). A new ``reminder_at``
    re-arms the reminder."""
    return _one(task_write_many(workspace=task.workspace, actor=actor, membership=membership,
                                items=[{**data, "id": task.pk}], loaded=[task]))


def task_complete(*, task: Task, actor: Any, membership: Membership | None = None) -> Task:
    return task_update(task=task, actor=actor, data={"status": TaskStatus.DONE}, membership=membership)


def task_reopen(*, task: Task, actor: Any, membership: Membership | None = None) -> Task:
    return task_update(task=task, actor=actor, data={"status": TaskStatus.OPEN}, membership=membership)


@transaction.atomic
def task_delete(*, task: Task, actor: Any) -> None:
    audit_record(action="task.deleted", actor=actor, workspace=task.workspace, target=task,
                 before=snapshot(task, AUDIT_FIELDS))
    task.delete()


def _one(results: list[WriteResult]) -> Task:
    result = results[0]
    if result.errors:
        raise InvalidFields(result.errors)
    assert result.task is not None
    return result.task


# --- the one write path ------------------------------------------------------------------------------------
@transaction.atomic
def task_write_many(
    *,
    workspace: Workspace,
    actor: Any,
    items: Sequence[Mapping[str, Any]],
    membership: Membership | None = None,
    loaded: Sequence[Task] = (),
) -> list[WriteResult]:
    """Create (items without ``id``) or update (items with the ``id`` of a task the caller may see) up to
    ``MAX_BULK_ITEMS`` tasks. Returns one result per item, in order; good items are saved even when others fail.
    ``loaded`` passes tasks the caller already read, so a single update does not read its task twice."""
    bulk_size_check(items)
    results: dict[int, WriteResult] = {}
    refs = _refs_load(workspace, membership, items, loaded)
    now = clock.now()
    prepared: list[_Item] = []
    seen: dict[int, int] = {}
    for index, raw in enumerate(items):
        errors = FieldErrors()
        item = _prepare(workspace, actor, index, raw, refs, seen, errors, now)
        if errors or item is None:
            results[index] = WriteResult(index=index, status=WriteStatus.ERROR, errors=errors.errors or None)
            continue
        prepared.append(item)
    created = [i.task for i in prepared if i.created]
    Task.objects.bulk_create(created)
    updated = [i for i in prepared if not i.created and i.changed]
    if updated:
        fields = sorted({name for i in updated for name in i.changed} | {"updated_at"})
        Task.objects.bulk_update([i.task for i in updated], fields, batch_size=UPDATE_BATCH_SIZE)
    _audit(workspace, actor, prepared)
    _timeline(workspace, actor, prepared, now)
    _notify_assignees(workspace, actor, prepared)
    for item in prepared:
        status = bulk_saved_status(created=item.created, changed=bool(item.changed))
        results[item.index] = WriteResult(index=item.index, status=status, task=item.task)
    return [results[index] for index in range(len(items))]


def _ids(items: Sequence[Mapping[str, Any]], name: str) -> set[int]:
    return {v for item in items if isinstance(item, Mapping) and isinstance(v := item.get(name), int)
            and not isinstance(v, bool) and v > 0}


def _refs_load(workspace: Workspace, membership: Membership | None, items: Sequence[Mapping[str, Any]],
               loaded: Sequence[Task]) -> _Refs:
    tasks = {t.pk: t for t in loaded}
    wanted = _ids(items, "id") - set(tasks)
    if wanted:
        tasks |= {t.pk: t for t in selectors.task_list(workspace=workspace, membership=membership)
                  .select_for_update(of=("self",)).filter(pk__in=wanted).order_by("pk")}
    contact_ids, company_ids, deal_ids = (_ids(items, name) for name in REFERENCES)
    contacts = ({c.pk: c for c in contact_selectors.contact_list(workspace=workspace, membership=membership)
                 .filter(pk__in=contact_ids)} if contact_ids else {})
    companies = contact_selectors.companies_by_id(workspace=workspace, membership=membership, ids=company_ids)
    deals = ({d.pk: d for d in deal_selectors.deal_list(workspace=workspace, membership=membership)
              .filter(pk__in=deal_ids)} if deal_ids else {})
    members = selectors.member_user_id_set(workspace=workspace, user_ids=_ids(items, "assignee"))
    return _Refs(contacts=contacts, companies=companies, deals=deals, members=members, tasks=tasks)


def _prepare(workspace: Workspace, actor: Any, index: int, raw: Mapping[str, Any], refs: _Refs,
             seen: dict[int, int], errors: FieldErrors, now: dt.datetime) -> _Item | None:
    """Validate one item and assign it to its (new or loaded) task in memory; nothing is written here."""
    if not isinstance(raw, Mapping):
        errors.add("non_field_errors", "Expected an object of task fields.")
        return None
    for name in sorted(set(raw) - WRITABLE - {"id"}):
        errors.add(name, "Unknown field.")
    task_id = raw.get("id")
    if task_id is not None:
        task = refs.tasks.get(task_id) if isinstance(task_id, int) else None
        if task is None:
            errors.add("id", "No such task.")
            return None
        if task.pk in seen:
            errors.add("id", f"Item {seen[task.pk]} of this request changes the same task.")
            return None
        seen[task.pk] = index
        item = _Item(index=index, raw=raw, task=task, created=False, before=snapshot(task, AUDIT_FIELDS))
    else:
        creator = actor if getattr(actor, "pk", None) is not None and not getattr(actor, "is_api_key", False) \
            else getattr(actor, "created_by", None)
        item = _Item(index=index, raw=raw, task=Task(workspace=workspace, created_by=creator), created=True)
        for name in ("title", "due_at", "assignee"):
            if raw.get(name) is None:
                errors.add(name, "This field is required.")
    values = _clean(raw, refs, errors)
    if errors:
        return None
    _assign(item, values, now)
    return item


def _clean(raw: Mapping[str, Any], refs: _Refs, errors: FieldErrors) -> dict[str, Any]:
    values: dict[str, Any] = {}
    if "title" in raw and raw["title"] is not None:
        title = str(raw["title"]).strip()
        if not title:
            errors.add("title", "Give the task a title.")
        elif len(title) > 255:
            errors.add("title", "Keep the title under 256 characters.")
        values["title"] = title
    if "notes" in raw:
        notes = raw["notes"] or ""
        if len(notes) > NOTE_MAX_CHARS:
            errors.add("notes", f"Keep the notes under {NOTE_MAX_CHARS:,} characters.")
        values["notes"] = sanitize_note_html(notes) if notes else ""
    for name in ("due_at", "reminder_at"):
        if name in raw:
            value = raw[name]
            if value is None and name == "reminder_at":
                values[name] = None
            elif not isinstance(value, dt.datetime) or value.tzinfo is None:
                if value is not None:
                    errors.add(name, "Give a date and time with a time zone.")
            else:
                values[name] = value
    if raw.get("assignee") is not None:
        if raw["assignee"] not in refs.members:
            errors.add("assignee", "Assign the task to a member of this workspace.")
        else:
            values["assignee"] = raw["assignee"]
    for name, found in (("contact", refs.contacts), ("company", refs.companies), ("deal", refs.deals)):
        if name not in raw:
            continue
        if raw[name] is None:
            values[name] = None
        elif raw[name] not in found:
            errors.add(name, f"No such {name} in this workspace.")
        else:
            values[name] = found[raw[name]]
    if "email_reminder" in raw:
        values["email_reminder"] = bool(raw["email_reminder"])
    if "status" in raw:
        if raw["status"] not in TaskStatus.values:
            errors.add("status", f"Use one of: {', '.join(TaskStatus.values)}.")
        else:
            values["status"] = raw["status"]
    return values


def _assign(item: _Item, values: dict[str, Any], now: dt.datetime) -> None:
    task = item.task
    for name, value in values.items():
        if name == "assignee" or name in REFERENCES:
            # Compare ids: the related rows need not be loaded to tell whether the link changes.
            value_id = value if name == "assignee" or value is None else value.pk
            if getattr(task, f"{name}_id") != value_id:
                setattr(task, f"{name}_id", value_id)
                if name != "assignee":
                    setattr(task, name, value)
                item.changed.append(name)
        elif getattr(task, name) != value:
            setattr(task, name, value)
            item.changed.append(name)
    if "assignee" in item.changed:
        item.reassigned = True
    if "reminder_at" in item.changed and not item.created:
        # A moved reminder is a new reminder: the job sends it again when it falls due.
        task.reminded_at = task.reminder_emailed_at = None
        item.changed += ["reminded_at", "reminder_emailed_at"]
    if "status" in item.changed:
        task.completed_at = now if task.status == TaskStatus.DONE else None
        item.changed.append("completed_at")
        item.completed = task.status == TaskStatus.DONE
        item.reopened = not item.created and task.status == TaskStatus.OPEN
    task.updated_at = now


def _audit(workspace: Workspace, actor: Any, items: Sequence[_Item]) -> None:
    entries: list[AuditEntry] = []
    for item in items:
        after = snapshot(item.task, AUDIT_FIELDS)
        if item.created:
            entries.append(audit_entry_build(action="task.created", actor=actor, workspace=workspace,
                                             target=item.task, after=after))
            continue
        if not item.changed:
            continue
        action = "task.completed" if item.completed else "task.reopened" if item.reopened else "task.updated"
        old, new = diff(item.before or {}, after)
        entries.append(audit_entry_build(action=action, actor=actor, workspace=workspace, target=item.task,
                                         before=old, after=new))
    AuditEntry.objects.bulk_create(entries)


def _timeline(workspace: Workspace, actor: Any, items: Sequence[_Item], now: dt.datetime) -> None:
    """A timeline entry on each linked contact, company and deal when a task is created and when it is completed."""
    person = actor if getattr(actor, "is_authenticated", False) and not getattr(actor, "is_api_key", False) \
        and getattr(actor, "pk", None) is not None else None
    rows: list[Activity] = []
    for item in items:
        task = item.task
        if not (task.contact_id or task.company_id or task.deal_id):
            continue
        if item.created:
            title = f"Task created: {task.title}"
        elif item.completed:
            title = f"Task completed: {task.title}"
        else:
            continue
        rows.append(Activity(workspace=workspace, kind=ActivityKind.TASK, title=title[:255], contact=task.contact,
                             company=task.company, deal=task.deal, actor=person, occurred_at=now,
                             data={"task_id": task.pk, "due_at": task.due_at.isoformat()}))
        if item.created and item.completed:  # created as done: record both moments
            rows.append(Activity(workspace=workspace, kind=ActivityKind.TASK,
                                 title=f"Task completed: {task.title}"[:255], contact=task.contact,
                                 company=task.company, deal=task.deal, actor=person, occurred_at=now,
                                 data={"task_id": task.pk}))
    Activity.objects.bulk_create(rows)


def _notify_assignees(workspace: Workspace, actor: Any, items: Sequence[_Item]) -> None:
    """Tell people when someone else gives them an open task (nobody is notified of their own assignments)."""
    actor_id = getattr(actor, "pk", None) if not getattr(actor, "is_api_key", False) else None
    name = (getattr(actor, "display_name", "") or getattr(actor, "email", "") or "Someone") if actor_id else \
        "An integration"
    rows = [
        Notification(workspace=workspace, recipient_id=item.task.assignee_id, kind=NotificationKind.TASK_ASSIGNED,
                     text=f"{name} assigned you “{item.task.title}”."[:500], url=task_url(item.task), task=item.task)
        for item in items
        if item.reassigned and item.task.assignee_id is not None and item.task.assignee_id != actor_id
        and item.task.status == TaskStatus.OPEN
    ]
    Notification.objects.bulk_create(rows)
