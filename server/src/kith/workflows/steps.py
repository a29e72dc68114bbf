"""What each step kind does. One function per kind, called by the runner inside the transaction that also writes
the ``RunStep`` row and advances the run (``kith.workflows.runner``), so every effect here is either committed
together with "this step ran" or rolled back with it.

Effects that leave the database are never made here: an e-mail or SMS is a ledger row (``message_queue``; the
sender is rung after commit and the ledger's unique key makes the send at most once), a webhook is a persisted
``WebhookDelivery`` row delivered by ``kith.webhooks`` (with its SSRF checks and retries). That is what makes a
step "at most once" even when a worker is killed mid-step: the only thing a crash can lose is uncommitted work,
which the next attempt redoes.

A step function returns a ``Outcome``: where the run goes next, whether it waits first, and the result recorded on
the ``RunStep``. Raising fails the attempt (the runner retries with backoff, then parks the run as failed).
"""

from __future__ import annotations

import datetime as dt
import random
import zoneinfo
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import F
from django.urls import reverse

from kith.contacts.models import Contact
from kith.contacts.services import contact_add_tags, contact_remove_tags, contact_update
from kith.core.jobs import enqueue_on_commit
from kith.deals.models import Deal, DealStatus, Pipeline, Stage
from kith.deals.services import deal_create, deal_move_to_stage
from kith.events.models import Event
from kith.messaging.models import SourceType, Template
from kith.messaging.services import message_queue
from kith.segments.selectors import segment_condition
from kith.tasks.models import Notification
from kith.tasks.notifications import notification_create
from kith.tasks.services import task_create
from kith.webhooks.models import WebhookDelivery, WebhookEndpoint
from kith.webhooks.services import message_id_generate, webhook_delivery_task
from kith.workflows.definition import WEEKDAYS, duration_parse
from kith.workflows.models import Run, Workflow

# Notifications from a "notify a team member" step; tasks.NotificationKind has no such choice yet (see the report
# in docs/workflows.md), the column is a plain string.
NOTIFICATION_KIND = "workflow"
WEBHOOK_EVENT_TYPE = "workflow.step"


@dataclass
class Outcome:
    next_step: str | None
    result: dict[str, Any] = field(default_factory=dict)
    wake_at: dt.datetime | None = None
    waiting_for_event: str = ""
    exit: bool = False
    skipped: bool = False


@dataclass
class BatchEffects:
    """Effects that steps of one batch transaction (``runner._steps_execute_batch``) leave to be written together
    before it commits: still in the transaction of the steps that made them, so each still commits with its
    ``RunStep`` row. A batch never holds two runs of one contact, so deferring cannot reorder one contact's
    writes."""

    scores: dict[int, list[int]] = field(default_factory=dict)  # delta → contact ids

    def flush(self) -> None:
        for delta, contact_ids in self.scores.items():
            Contact.objects.filter(pk__in=contact_ids).update(engagement_score=F("engagement_score") + delta)
        self.scores.clear()


@dataclass
class StepContext:
    run: Run
    workflow: Workflow
    contact: Contact
    step: Mapping[str, Any]
    now: dt.datetime
    # Set in a batch: steps with a set-based effect add it here instead of writing it row by row.
    batch: BatchEffects | None = None

    @property
    def source_id(self) -> str:
        """The ledger's source id of a message sent by this visit of this step: one message per run and visit."""
        return f"wf{self.run.pk}.{self.run.seq}"


def _send(ctx: StepContext) -> Outcome:
    template = Template.objects.for_workspace(ctx.run.workspace_id).filter(pk=ctx.step["template"]).first()
    if template is None or template.current_version_id is None:
        raise RuntimeError(f"Template {ctx.step['template']} no longer exists or has no content.")
    address = ctx.contact.phone if ctx.step["kind"] == "send_sms" else ctx.contact.email
    if not address:
        return Outcome(ctx.step.get("next"), {"skipped": "The contact has no "
                                                          f"{'phone number' if ctx.step['kind'] == 'send_sms' else 'e-mail address'}."},
                       skipped=True)
    message = message_queue(workspace=ctx.workflow.workspace, template=template, contact=ctx.contact,
                            source_type=SourceType.WORKFLOW_STEP, source_id=ctx.source_id,
                            merge_data={"event": ctx.run.context} if ctx.run.context else None)
    return Outcome(ctx.step.get("next"), {"message": message.pk})


def _wait(ctx: StepContext) -> Outcome:
    wake_at = ctx.now + duration_parse(ctx.step["duration"])
    return Outcome(ctx.step.get("next"), {"until": wake_at.isoformat()}, wake_at=wake_at)


def contact_zone(contact: Contact, workspace_timezone: str) -> zoneinfo.ZoneInfo:
    for name in (contact.timezone, workspace_timezone, "UTC"):
        if name:
            try:
                return zoneinfo.ZoneInfo(name)
            except (zoneinfo.ZoneInfoNotFoundError, ValueError):
                continue
    return zoneinfo.ZoneInfo("UTC")


def next_weekday_time(*, now: dt.datetime, zone: zoneinfo.ZoneInfo, weekdays: list[str], time: str) -> dt.datetime:
    """The first moment after ``now`` that is ``time`` on one of ``weekdays`` in ``zone`` (a wall-clock time that
    a DST jump skips resolves forward, as zoneinfo does)."""
    hour, minute = (int(part) for part in time.split(":"))
    local = now.astimezone(zone)
    wanted = {WEEKDAYS.index(day) for day in weekdays}
    for offset in range(8):
        day = local.date() + dt.timedelta(days=offset)
        if day.weekday() not in wanted:
            continue
        candidate = dt.datetime.combine(day, dt.time(hour, minute), tzinfo=zone)
        if candidate > local:
            return candidate.astimezone(dt.UTC)
    raise AssertionError("a weekday within eight days always matches")


def _wait_until(ctx: StepContext) -> Outcome:
    zone = contact_zone(ctx.contact, ctx.workflow.workspace.timezone)
    wake_at = next_weekday_time(now=ctx.now, zone=zone, weekdays=list(ctx.step.get("weekdays", WEEKDAYS)),
                                time=ctx.step["time"])
    return Outcome(ctx.step.get("next"), {"until": wake_at.isoformat(), "timezone": str(zone)}, wake_at=wake_at)


def awaited_event_seen(run: Run, name: str) -> bool:
    """Has the contact sent ``name`` since this run began? Covers an event processed before the wait started (in
    the same chunk as the trigger, or while earlier steps ran)."""
    events = Event.objects.filter(workspace_id=run.workspace_id, contact_id=run.contact_id, name=name)
    if run.trigger_event_id is not None:
        return events.filter(pk__gt=run.trigger_event_id).exists()
    return events.filter(received_at__gte=run.started_at).exists()


def _wait_event(ctx: StepContext) -> Outcome:
    name = ctx.step["event"]
    if ctx.run.waiting_for_event:
        # Woken: by the event (the trigger side set event_arrived_at) or by the timeout.
        if ctx.run.event_arrived_at is not None or awaited_event_seen(ctx.run, name):
            return Outcome(ctx.step.get("next"), {"outcome": "event"})
        return Outcome(ctx.step.get("timeout_next"), {"outcome": "timeout"})
    if awaited_event_seen(ctx.run, name):
        return Outcome(ctx.step.get("next"), {"outcome": "event", "already": True})
    wake_at = ctx.now + duration_parse(ctx.step["timeout"])
    return Outcome(ctx.step["id"], {"waiting_for": name, "until": wake_at.isoformat()}, wake_at=wake_at,
                   waiting_for_event=name)


def _if_else(ctx: StepContext) -> Outcome:
    condition = segment_condition(workspace=ctx.workflow.workspace, definition=ctx.step["condition"])
    matched = Contact.objects.filter(pk=ctx.contact.pk).filter(condition).exists()
    return Outcome(ctx.step.get("then") if matched else ctx.step.get("else"), {"matched": matched})


def _split(ctx: StepContext) -> Outcome:
    # Seeded by the run and visit: a retried attempt of the same visit takes the same branch.
    roll = random.Random(f"{ctx.run.pk}.{ctx.run.seq}").randint(1, 100)
    upto = 0
    for index, branch in enumerate(ctx.step["branches"]):
        upto += branch["percent"]
        if roll <= upto:
            return Outcome(branch.get("next"), {"branch": index, "roll": roll})
    last = ctx.step["branches"][-1]
    return Outcome(last.get("next"), {"branch": len(ctx.step["branches"]) - 1, "roll": roll})


def _add_tag(ctx: StepContext) -> Outcome:
    added = contact_add_tags(contact=ctx.contact, actor=None, names=[ctx.step["tag"]])
    return Outcome(ctx.step.get("next"), {"added": bool(added)})


def _remove_tag(ctx: StepContext) -> Outcome:
    removed = contact_remove_tags(contact=ctx.contact, actor=None, names=[ctx.step["tag"]])
    return Outcome(ctx.step.get("next"), {"removed": bool(removed)})


def _update(ctx: StepContext, data: dict[str, Any]) -> Outcome:
    contact_update(contact=ctx.contact, actor=None, data=data)
    return Outcome(ctx.step.get("next"), {"set": data})


def _set_field(ctx: StepContext) -> Outcome:
    name, value = ctx.step["field"], ctx.step.get("value")
    if name.startswith("attributes."):
        return _update(ctx, {"attributes": {name.removeprefix("attributes."): value}})
    return _update(ctx, {name: value})


def _set_lifecycle_stage(ctx: StepContext) -> Outcome:
    return _update(ctx, {"lifecycle_stage": ctx.step["value"]})


def _set_lead_status(ctx: StepContext) -> Outcome:
    return _update(ctx, {"lead_status": ctx.step["value"]})


def _assign_owner(ctx: StepContext) -> Outcome:
    if ctx.step.get("mode", "fixed") == "round_robin":
        users = ctx.step["users"]
        # One conditional UPDATE hands out the next number; concurrent runs get different members.
        Workflow.objects.filter(pk=ctx.workflow.pk).update(assign_seq=F("assign_seq") + 1)
        seq = Workflow.objects.filter(pk=ctx.workflow.pk).values_list("assign_seq", flat=True).get()
        user = users[(seq - 1) % len(users)]
    elif ctx.step.get("mode") == "rule":
        # The first rule whose condition the contact matches names the owner (one EXISTS per rule tried); none
        # matching falls back to the default, or leaves the owner as it is.
        user = ctx.step.get("default")
        matched = None
        for index, rule in enumerate(ctx.step["rules"]):
            condition = segment_condition(workspace=ctx.workflow.workspace, definition=rule["condition"])
            if Contact.objects.filter(pk=ctx.contact.pk).filter(condition).exists():
                user, matched = rule["user"], index
                break
        if user is None:
            return Outcome(ctx.step.get("next"), {"skipped": "No rule matched and there is no default owner."},
                           skipped=True)
        outcome = _update(ctx, {"owner": user})
        outcome.result["rule"] = matched
        return outcome
    else:
        user = ctx.step["user"]
    return _update(ctx, {"owner": user})


def _create_task(ctx: StepContext) -> Outcome:
    assignee = ctx.step.get("assignee", "owner")
    if assignee == "owner":
        assignee = ctx.contact.owner_id or ctx.workflow.created_by_id
    if assignee is None:
        return Outcome(ctx.step.get("next"), {"skipped": "The contact has no owner to assign the task to."},
                       skipped=True)
    due_at = ctx.now + dt.timedelta(days=ctx.step.get("due_in_days", 1))
    task = task_create(workspace=ctx.workflow.workspace, actor=None,
                       data={"title": ctx.step["title"], "due_at": due_at, "assignee": assignee,
                             "contact": ctx.contact.pk})
    return Outcome(ctx.step.get("next"), {"task": task.pk})


def _adjust_score(ctx: StepContext) -> Outcome:
    if ctx.batch is not None:
        ctx.batch.scores.setdefault(ctx.step["delta"], []).append(ctx.contact.pk)
    else:
        Contact.objects.filter(pk=ctx.contact.pk).update(engagement_score=F("engagement_score") + ctx.step["delta"])
    return Outcome(ctx.step.get("next"), {"delta": ctx.step["delta"]})


def _send_webhook(ctx: StepContext) -> Outcome:
    endpoint = WebhookEndpoint.objects.filter(workspace_id=ctx.run.workspace_id, pk=ctx.step["endpoint"],
                                              is_active=True).first()
    if endpoint is None:
        return Outcome(ctx.step.get("next"), {"skipped": "The webhook endpoint is gone or inactive."}, skipped=True)
    payload = {"type": WEBHOOK_EVENT_TYPE, "timestamp": ctx.now.isoformat(), "data": {
        "workflow": ctx.workflow.pk, "run": ctx.run.pk, "step": ctx.step["id"], "contact": ctx.contact.pk,
        "email": ctx.contact.email, "external_id": ctx.contact.external_id, "event": ctx.run.context}}
    # A persisted delivery in this transaction: kith.webhooks sends it after commit (SSRF checks, signing, retries).
    delivery = WebhookDelivery.objects.create(workspace_id=ctx.run.workspace_id, endpoint=endpoint,
                                              event_type=WEBHOOK_EVENT_TYPE, payload=payload,
                                              message_id=message_id_generate(), next_attempt_at=ctx.now)
    enqueue_on_commit(webhook_delivery_task, delivery_id=delivery.pk)
    return Outcome(ctx.step.get("next"), {"delivery": delivery.pk})


def _notify(ctx: StepContext) -> Outcome:
    recipient = ctx.step.get("user", "owner")
    if recipient == "owner":
        recipient = ctx.contact.owner_id or ctx.workflow.created_by_id
    if recipient is None:
        return Outcome(ctx.step.get("next"), {"skipped": "The contact has no owner to notify."}, skipped=True)
    label = ctx.contact.email or ctx.contact.external_id or f"contact {ctx.contact.pk}"
    notification: Notification = notification_create(
        workspace=ctx.workflow.workspace, recipient=get_user_model().objects.get(pk=recipient), kind=NOTIFICATION_KIND,
        text=f"{ctx.step['text']} ({label})",
        url=reverse("web:contact_detail", kwargs={"pk": ctx.contact.pk}))
    return Outcome(ctx.step.get("next"), {"notification": notification.pk})


def _deal(ctx: StepContext) -> Outcome:
    """Create a deal for the contact in the pipeline, or — if the contact has an open one there — move it to the
    stage (an "update": the abandoned cart becomes a won deal on purchase)."""
    pipeline = Pipeline.objects.get(pk=ctx.step["pipeline"], workspace_id=ctx.run.workspace_id)
    stage = Stage.objects.get(pk=ctx.step["stage"], pipeline=pipeline) if ctx.step.get("stage") else None
    deal = (Deal.objects.filter(pipeline=pipeline, contact=ctx.contact, status=DealStatus.OPEN).order_by("-id")
            .first())
    if deal is not None:
        if stage is not None and deal.stage_id != stage.pk:
            deal_move_to_stage(deal=deal, stage=stage, actor=None)
        return Outcome(ctx.step.get("next"), {"deal": deal.pk, "updated": True})
    name = ctx.step.get("name") or " ".join(filter(None, [ctx.contact.first_name, ctx.contact.last_name])) \
        or ctx.contact.email or f"Contact {ctx.contact.pk}"
    deal = deal_create(workspace=ctx.workflow.workspace, actor=None, pipeline=pipeline, stage=stage, name=name,
                       value=ctx.step.get("value"), contact=ctx.contact, company=ctx.contact.company)
    return Outcome(ctx.step.get("next"), {"deal": deal.pk, "created": True})


def _exit(ctx: StepContext) -> Outcome:
    return Outcome(None, {}, exit=True)


EXECUTORS: dict[str, Callable[[StepContext], Outcome]] = {
    "send_email": _send,
    "send_sms": _send,
    "wait": _wait,
    "wait_until": _wait_until,
    "wait_event": _wait_event,
    "if_else": _if_else,
    "split": _split,
    "add_tag": _add_tag,
    "remove_tag": _remove_tag,
    "set_field": _set_field,
    "set_lifecycle_stage": _set_lifecycle_stage,
    "set_lead_status": _set_lead_status,
    "assign_owner": _assign_owner,
    "create_task": _create_task,
    "adjust_score": _adjust_score,
    "send_webhook": _send_webhook,
    "notify": _notify,
    "deal": _deal,
    "exit": _exit,
}
