"""Triggers: who enters a workflow, and which waiting runs an arriving event wakes or ends.

Three sources, all set-based and none running a step inline:

- **Tracked events** (``events_processed``): called inside the events processing transaction with the ids of a
  chunk. It ends runs whose goal event arrived, wakes runs waiting for an event, and enrolls contacts in active
  "event received" workflows — a few UPDATEs and one INSERT per matching workflow — then rings the runner after
  commit. Because it is the same transaction, a processed event and its enrollments exist together or not at all.
- **The audit log and the timeline** (``triggers_scan``, periodic): contact created/updated, field changed, tags
  added/removed come from ``AuditEntry`` rows (every contact service writes one, bulk paths included); deal stage
  changes and e-mail opens/clicks from ``Activity`` rows (the tracking fold writes one per first open and per
  first click of a link). A cursor per table moves in the transaction that enrolls, so nothing is missed or
  enrolled twice (``Run.trigger_key`` is unique per workflow).
- **Segment membership** (``kith.segments.hooks``): entered/left, called after the membership commit.

Enrollment (``runs_enroll``) applies the workflow's entry condition (one query with the compiled segment ``Q``) and
its re-entry rule (one query over the contact's earlier runs), then bulk-inserts the runs, waiting and due now.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
import zoneinfo
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from kith.contacts.models import Contact
from kith.core import clock
from kith.core.jobs import enqueue_on_commit, job
from kith.core.models import AuditEntry
from kith.deals.models import Deal, DealStatus
from kith.events.hooks import events_processed_subscribe
from kith.events.models import Event, EventType
from kith.messaging.models import Message
from kith.segments.errors import InvalidSegment
from kith.segments.hooks import segment_membership_changed_subscribe
from kith.segments.selectors import segment_condition
from kith.timeline.models import Activity, ActivityKind
from kith.workflows.models import (
    OPEN_STATES,
    ReentryRule,
    Run,
    RunState,
    TriggerCursor,
    TriggerKind,
    Workflow,
    WorkflowStatus,
)
from kith.workflows.runner import workflow_runs_wake

logger = logging.getLogger(__name__)

# Rows younger than this are left for the next scan. On PostgreSQL an id is drawn before its INSERT commits, so a
# lower id can become visible after a higher one; no audit or timeline INSERT stays uncommitted this long.
SETTLE = dt.timedelta(seconds=5)
SCAN_BATCH = 2000
AUDIT_ACTIONS = {"contact.created": (TriggerKind.CONTACT_CREATED,),
                 "contact.updated": (TriggerKind.CONTACT_UPDATED, TriggerKind.FIELD_CHANGED),
                 "contact.tags_added": (TriggerKind.TAG_ADDED,),
                 "contact.tags_removed": (TriggerKind.TAG_REMOVED,)}
ACTIVITY_KINDS = {ActivityKind.STAGE_CHANGED: TriggerKind.DEAL_STAGE_CHANGED,
                  ActivityKind.EMAIL_OPENED: TriggerKind.EMAIL_OPENED,
                  ActivityKind.EMAIL_CLICKED: TriggerKind.EMAIL_CLICKED}
FILTER_OPS = ("eq", "neq", "gt", "gte", "lt", "lte", "contains", "exists", "not_exists")


@dataclass
class Candidate:
    contact_id: int
    trigger_key: str
    event_id: int | None = None
    context: dict[str, Any] = field(default_factory=dict)


# --- enrollment ----------------------------------------------------------------------------------------------------

def runs_enroll(*, workflow: Workflow, candidates: Sequence[Candidate], now: dt.datetime | None = None) -> int:
    """Insert a waiting, due run for each candidate the entry condition and re-entry rule admit. Returns how many
    candidates were admitted (a repeated trigger key inserts nothing)."""
    if not candidates or workflow.current_version_id is None:
        return 0
    now = now or clock.now()
    contacts = Contact.objects.filter(workspace_id=workflow.workspace_id, pk__in={c.contact_id for c in candidates})
    if workflow.entry_condition:
        try:
            contacts = contacts.filter(segment_condition(workspace=workflow.workspace,
                                                         definition=workflow.entry_condition))
        except InvalidSegment:
            # Valid when saved, broken since (a segment it names was deleted): enroll nobody rather than everybody.
            logger.warning("workflows: the entry condition of workflow %s no longer compiles", workflow.pk)
            return 0
    allowed = set(contacts.values_list("pk", flat=True))
    earlier = Run.objects.filter(workflow=workflow, contact_id__in=allowed)
    if workflow.reentry == ReentryRule.ONCE:
        blocked = set(earlier.values_list("contact_id", flat=True))
    elif workflow.reentry == ReentryRule.INTERVAL:
        since = now - dt.timedelta(days=workflow.reentry_days)
        blocked = set(earlier.filter(started_at__gt=since).values_list("contact_id", flat=True))
    else:
        blocked = set()
    start = workflow.current_version.definition["steps"][0]["id"]
    rows, seen = [], set()
    for candidate in candidates:
        if candidate.contact_id not in allowed or candidate.contact_id in blocked:
            continue
        if workflow.reentry != ReentryRule.ALWAYS and candidate.contact_id in seen:
            continue
        seen.add(candidate.contact_id)
        rows.append(Run(workspace_id=workflow.workspace_id, workflow=workflow, version_id=workflow.current_version_id,
                        contact_id=candidate.contact_id, state=RunState.WAITING, wake_at=now, current_step=start,
                        trigger_key=candidate.trigger_key[:64], trigger_event_id=candidate.event_id,
                        context=candidate.context, started_at=now))
    Run.objects.bulk_create(rows, ignore_conflicts=True)
    return len(rows)


def _active(workspace_id: int, kinds: Iterable[str]) -> list[Workflow]:
    return list(Workflow.objects.filter(workspace_id=workspace_id, status=WorkflowStatus.ACTIVE,
                                        trigger_kind__in=list(kinds), current_version__isnull=False)
                .select_related("workspace", "current_version"))


def _ring(workspace_id: int) -> None:
    enqueue_on_commit(workflow_runs_wake, workspace_id=workspace_id)


# --- tracked events ------------------------------------------------------------------------------------------------

def _number(value: Any) -> Decimal | None:
    if isinstance(value, bool):
        return None
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None


def property_matches(properties: Mapping[str, Any], rule: Mapping[str, Any]) -> bool:
    """One property filter (``{"property": "total", "op": "gt", "value": 1000}``); a dotted name reads nested
    objects. Comparisons are numeric when both sides are numbers, else exact."""
    value: Any = properties
    for part in str(rule["property"]).split("."):
        value = value.get(part) if isinstance(value, Mapping) else None
    op, wanted = rule["op"], rule.get("value")
    if op == "exists":
        return value is not None
    if op == "not_exists":
        return value is None
    if value is None:
        return False
    if op == "contains":
        return isinstance(value, str) and str(wanted).lower() in value.lower()
    left, right = _number(value), _number(wanted)
    if op in ("eq", "neq"):
        same = left == right if left is not None and right is not None else value == wanted
        return same if op == "eq" else not same
    if left is None or right is None:
        return False
    return {"gt": left > right, "gte": left >= right, "lt": left < right, "lte": left <= right}[op]


def event_matches(config: Mapping[str, Any], event: Event) -> bool:
    if event.name != config.get("event"):
        return False
    return all(property_matches(event.properties or {}, rule) for rule in config.get("filters", []))


def events_processed_handle(*, workspace: Any, event_ids: Sequence[int]) -> None:
    """The ``events_processed`` subscriber: goals, awaited events, event triggers (see the module docstring)."""
    events = list(Event.objects.filter(pk__in=event_ids, type=EventType.TRACK, contact__isnull=False)
                  .only("pk", "name", "contact_id", "properties").order_by("pk"))
    if not events:
        return
    now = clock.now()
    by_name: dict[str, set[int]] = defaultdict(set)
    for event in events:
        by_name[event.name].add(event.contact_id)
    changed = 0
    for workflow_id, goal in (Workflow.objects.filter(workspace_id=workspace.pk, goal_event__in=list(by_name))
                              .values_list("pk", "goal_event")):
        # One UPDATE for waiting and running runs alike; the runner finishes them as "goal reached" at its next
        # look (rung below), so a run mid-step is never overwritten from here.
        changed += Run.objects.filter(workflow_id=workflow_id, contact_id__in=by_name[goal], state__in=OPEN_STATES,
                                      goal_reached_at__isnull=True).update(goal_reached_at=now, wake_at=now)
    for name, contact_ids in by_name.items():
        changed += Run.objects.filter(workspace_id=workspace.pk, state=RunState.WAITING, waiting_for_event=name,
                                      contact_id__in=contact_ids).update(event_arrived_at=now, wake_at=now)
    for workflow in _active(workspace.pk, [TriggerKind.EVENT]):
        candidates = [Candidate(contact_id=event.contact_id, trigger_key=f"event:{event.pk}", event_id=event.pk,
                                context=dict(event.properties or {}))
                      for event in events if event_matches(workflow.trigger_config, event)]
        changed += runs_enroll(workflow=workflow, candidates=candidates, now=now)
    if changed:
        _ring(workspace.pk)


# --- segment membership --------------------------------------------------------------------------------------------

def segment_membership_handle(*, workspace: Any, segment_id: int, entered: Sequence[int],
                              left: Sequence[int]) -> None:
    """Called after the membership change committed: enroll in "segment entered/left" workflows."""
    nonce = uuid.uuid4().hex[:16]
    with transaction.atomic():
        changed = 0
        for workflow in _active(workspace.pk, [TriggerKind.SEGMENT_ENTERED, TriggerKind.SEGMENT_LEFT]):
            if workflow.trigger_config.get("segment") != segment_id:
                continue
            ids = entered if workflow.trigger_kind == TriggerKind.SEGMENT_ENTERED else left
            changed += runs_enroll(workflow=workflow, candidates=[
                Candidate(contact_id=pk, trigger_key=f"segment:{segment_id}:{nonce}:{pk}") for pk in ids])
        if changed:
            _ring(workspace.pk)


# --- audit log and timeline ----------------------------------------------------------------------------------------

def _audit_candidates(workflow: Workflow, entry: AuditEntry) -> bool:
    config = workflow.trigger_config
    kind = workflow.trigger_kind
    if kind in (TriggerKind.CONTACT_CREATED, TriggerKind.CONTACT_UPDATED):
        return True
    if kind == TriggerKind.FIELD_CHANGED:
        after = entry.after or {}
        name = config.get("field", "")
        if name.startswith("attributes."):
            key = name.removeprefix("attributes.")
            before_attrs = (entry.before or {}).get("attributes") or {}
            after_attrs = after.get("attributes") or {}
            if "attributes" not in after or before_attrs.get(key) == after_attrs.get(key):
                return False
            value = after_attrs.get(key)
        else:
            if name not in after:
                return False
            value = after[name]
        return "to" not in config or value == config["to"]
    tags = (entry.after or {}).get("tags", []) if kind == TriggerKind.TAG_ADDED else (entry.before or {}).get("tags", [])
    wanted = str(config.get("tag", "")).strip().lower()
    return any(str(tag).lower() == wanted for tag in tags)


def _activity_matches(workflow: Workflow, activity: Activity, templates: Mapping[int, int]) -> bool:
    config = workflow.trigger_config
    data = activity.data or {}
    if workflow.trigger_kind == TriggerKind.DEAL_STAGE_CHANGED:
        return "stage" not in config or data.get("to_stage") == config["stage"]
    if "template" not in config:
        return True
    return templates.get(data.get("message", data.get("message_id"))) == config["template"]


def _upper(model: Any, last_id: int, settle: dt.timedelta) -> int | None:
    """The last id of the next batch: rows after the cursor, stopping before the first one that has not settled
    (by real time: these tables stamp ``created_at`` with the wall clock)."""
    rows = model.objects.filter(pk__gt=last_id)
    unsettled = rows.filter(created_at__gt=timezone.now() - settle).order_by("pk").values_list("pk", flat=True)[:1]
    first_unsettled = next(iter(unsettled), None)
    if first_unsettled is not None:
        rows = rows.filter(pk__lt=first_unsettled)
    ids = list(rows.order_by("pk").values_list("pk", flat=True)[SCAN_BATCH - 1:SCAN_BATCH])
    return ids[0] if ids else rows.aggregate(m=Max("pk"))["m"]


def _scan(name: str, settle: dt.timedelta) -> int:
    with transaction.atomic():
        TriggerCursor.objects.get_or_create(name=name)
        cursor = TriggerCursor.objects.select_for_update().get(name=name)
        model = AuditEntry if name == "audit" else Activity
        upper = _upper(model, cursor.last_id, settle)
        if upper is None:
            return 0
        window = model.objects.filter(pk__gt=cursor.last_id, pk__lte=upper)
        enrolled = _audit_enroll(window) if name == "audit" else _activity_enroll(window)
        cursor.last_id = upper
        cursor.save(update_fields=["last_id"])
    return enrolled


def _audit_enroll(window: Any) -> int:
    rows = list(window.filter(action__in=list(AUDIT_ACTIONS), target_type="contacts.contact")
                .only("pk", "workspace_id", "action", "target_id", "before", "after"))
    by_workspace: dict[int, list[AuditEntry]] = defaultdict(list)
    for entry in rows:
        if entry.workspace_id is not None and entry.target_id.isdigit():
            by_workspace[entry.workspace_id].append(entry)
    enrolled = 0
    for workspace_id, entries in by_workspace.items():
        kinds = {kind for entry in entries for kind in AUDIT_ACTIONS[entry.action]}
        changed = 0
        for workflow in _active(workspace_id, kinds):
            candidates = [Candidate(contact_id=int(entry.target_id), trigger_key=f"audit:{entry.pk}")
                          for entry in entries if workflow.trigger_kind in AUDIT_ACTIONS[entry.action]
                          and _audit_candidates(workflow, entry)]
            changed += runs_enroll(workflow=workflow, candidates=candidates)
        if changed:
            _ring(workspace_id)
        enrolled += changed
    return enrolled


def _activity_enroll(window: Any) -> int:
    rows = list(window.filter(kind__in=list(ACTIVITY_KINDS), contact__isnull=False)
                .only("pk", "workspace_id", "kind", "contact_id", "data"))
    message_ids = {row.data.get("message_id") for row in rows if isinstance(row.data, dict)} - {None}
    templates = dict(Message.objects.filter(pk__in=message_ids).values_list("pk", "template_version__template_id"))
    by_workspace: dict[int, list[Activity]] = defaultdict(list)
    for activity in rows:
        by_workspace[activity.workspace_id].append(activity)
    enrolled = 0
    for workspace_id, activities in by_workspace.items():
        changed = 0
        for workflow in _active(workspace_id, {ACTIVITY_KINDS[a.kind] for a in activities}):
            candidates = [Candidate(contact_id=activity.contact_id, trigger_key=f"activity:{activity.pk}",
                                    context={k: v for k, v in activity.data.items() if k in ("url", "to_stage")})
                          for activity in activities if ACTIVITY_KINDS[activity.kind] == workflow.trigger_kind
                          and _activity_matches(workflow, activity, templates)]
            changed += runs_enroll(workflow=workflow, candidates=candidates)
        if changed:
            _ring(workspace_id)
        enrolled += changed
    return enrolled


def triggers_scan(*, settle: dt.timedelta = SETTLE) -> int:
    """Read the audit log and the timeline past their cursors and enroll; returns how many runs were started."""
    return _scan("audit", settle) + _scan("activity", settle)


@job(lease_seconds=600)
def workflow_triggers_scan() -> int:
    """Periodic (schedule.toml): contact, tag, field, deal-stage and e-mail engagement triggers."""
    return triggers_scan()


# --- date-based ----------------------------------------------------------------------------------------------------

DATE_COLUMNS = ("created_at", "last_seen_at")
# Date triggers on a contact's deals: "deal.<column>".
DEAL_DATE_COLUMNS = ("deal.expected_close_date", "deal.closed_at", "deal.created_at")


def date_candidates(workflow: Workflow, *, now: dt.datetime) -> list[Candidate]:
    """Contacts whose date field is ``offset_days`` before today (in the workspace's timezone), once the
    configured time of day has passed. One query; the trigger key carries the day, so later passes the same day
    enroll nobody twice."""
    config = workflow.trigger_config
    try:
        zone = zoneinfo.ZoneInfo(workflow.workspace.timezone or "UTC")
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        zone = zoneinfo.ZoneInfo("UTC")
    local = now.astimezone(zone)
    hour, minute = (int(part) for part in config.get("time", "09:00").split(":"))
    if local.time() < dt.time(hour, minute):
        return []
    target = local.date() - dt.timedelta(days=int(config.get("offset_days", 0)))
    name = config["field"]
    if name.startswith("deal."):
        return _deal_date_candidates(workflow, column=name.removeprefix("deal."), target=target, zone=zone,
                                     day=local.date())
    contacts = Contact.objects.filter(workspace_id=workflow.workspace_id)
    if name.startswith("attributes."):
        contacts = contacts.filter(**{f"attributes__{name.removeprefix('attributes.')}": target.isoformat()})
    else:
        start = dt.datetime.combine(target, dt.time(), tzinfo=zone)
        contacts = contacts.filter(**{f"{name}__gte": start, f"{name}__lt": start + dt.timedelta(days=1)})
    return [Candidate(contact_id=pk, trigger_key=f"date:{local.date().isoformat()}:{pk}",
                      context={"date": target.isoformat()})
            for pk in contacts.values_list("pk", flat=True)]


def _deal_date_candidates(workflow: Workflow, *, column: str, target: dt.date, zone: zoneinfo.ZoneInfo,
                          day: dt.date) -> list[Candidate]:
    """The contacts of deals whose date is the target day: ``expected_close_date`` of open deals (a closed
    deal's expected date no longer means anything), ``closed_at`` and ``created_at`` of any deal. One query; the
    trigger key names the deal, so a contact with two such deals enters once per deal (as the re-entry rule
    allows) and each deal once a day."""
    deals = Deal.objects.filter(workspace_id=workflow.workspace_id, contact__isnull=False)
    if column == "expected_close_date":
        deals = deals.filter(status=DealStatus.OPEN, expected_close_date=target)
    else:
        start = dt.datetime.combine(target, dt.time(), tzinfo=zone)
        deals = deals.filter(**{f"{column}__gte": start, f"{column}__lt": start + dt.timedelta(days=1)})
    return [Candidate(contact_id=contact_id, trigger_key=f"date:{day.isoformat()}:deal{deal_id}",
                      context={"date": target.isoformat(), "deal": deal_id})
            for deal_id, contact_id in deals.order_by("pk").values_list("pk", "contact_id")]


def date_triggers_run(*, now: dt.datetime | None = None) -> int:
    """Enroll for every active date-based workflow; returns how many runs started."""
    now = now or clock.now()
    started = 0
    for workflow in (Workflow.objects.filter(status=WorkflowStatus.ACTIVE, trigger_kind=TriggerKind.DATE,
                                             current_version__isnull=False)
                     .select_related("workspace", "current_version")):
        with transaction.atomic():
            count = runs_enroll(workflow=workflow, candidates=date_candidates(workflow, now=now), now=now)
            if count:
                _ring(workflow.workspace_id)
        started += count
    return started


@job(lease_seconds=900)
def workflow_date_triggers() -> int:
    """Periodic (schedule.toml): birthdays, renewals, "30 days after sign-up"."""
    return date_triggers_run()


def manual_enroll(*, workflow: Workflow, contact_ids: Sequence[int]) -> int:
    """Enroll contacts by hand (API, contact page, the builder's test run); entry condition and re-entry apply."""
    nonce = uuid.uuid4().hex[:16]
    with transaction.atomic():
        count = runs_enroll(workflow=workflow, candidates=[
            Candidate(contact_id=pk, trigger_key=f"manual:{nonce}:{pk}") for pk in contact_ids])
        if count:
            _ring(workflow.workspace_id)
    return count


def subscribe() -> None:
    events_processed_subscribe(events_processed_handle)
    segment_membership_changed_subscribe(segment_membership_handle)


__all__ = ["Candidate", "manual_enroll", "runs_enroll", "subscribe", "triggers_scan"]
