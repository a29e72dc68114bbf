"""The shape of a workflow definition and its validation.

A definition is ``{"steps": [step, ...]}``; the first step is where a run starts. Every step has an ``id`` (unique,
``[A-Za-z0-9_-]``, at most 64 characters), a ``kind`` and the kind's settings; where a run goes afterwards is
named explicitly (``next``; branching kinds name one target per branch), and a missing or null target ends the
run. Explicit targets make a branch a plain reference, so the builder, the validator and the runner all read the
same graph::

    {"steps": [
      {"id": "wait", "kind": "wait_event", "event": "Purchase Completed", "timeout": {"minutes": 30},
       "next": null, "timeout_next": "sms"},
      {"id": "sms", "kind": "send_sms", "template": 7}
    ]}

``definition_validate`` checks everything that can be checked when the workflow is saved — shape, dangling
references, unknown kinds, fields, attributes, templates, members, webhook endpoints, segment conditions, and
loops that never wait — and raises ``InvalidFields`` with one entry per problem, keyed
``definition.steps.<step id>.<setting>`` so the builder can put each message next to its field.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from kith.accounts.models import Membership, Workspace
from kith.contacts.attributes import value_coerce
from kith.contacts.errors import FieldErrors, InvalidFields
from kith.contacts.models import (
    CustomFieldDefinition,
    LeadStatus,
    LifecycleStage,
    ObjectType,
)
from kith.contacts.validation import contact_fields_clean
from kith.deals.models import Pipeline, Stage
from kith.messaging.models import Channel, Template
from kith.segments.errors import InvalidSegment
from kith.segments.selectors import segment_condition
from kith.webhooks.models import WebhookEndpoint

MAX_STEPS = 200
STEP_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
# A wait longer than this is a typo (and would overflow date arithmetic long before it matters).
MAX_WAIT = dt.timedelta(days=3650)
DURATION_UNITS = ("days", "hours", "minutes", "seconds")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
TIME_OF_DAY = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")
MAX_SCORE_DELTA = 10_000
# Contact fields a "set field" step may write (lifecycle stage and lead status have their own kinds as well).
SETTABLE_FIELDS = ("first_name", "last_name", "phone", "locale", "timezone", "source", "lifecycle_stage",
                   "lead_status", "email_consent", "sms_consent")

# Kinds whose execution ends with the run waiting: a loop must pass through one of them.
WAIT_KINDS = frozenset({"wait", "wait_until", "wait_event"})


@dataclass
class _Check:
    """What validating one definition has loaded so far (each lookup once per save, not once per step)."""

    workspace: Workspace
    errors: FieldErrors = field(default_factory=FieldErrors)
    _templates: dict[int, str] | None = None
    _attributes: dict[str, CustomFieldDefinition] | None = None
    _members: set[int] | None = None
    _endpoints: set[int] | None = None

    def add(self, step_id: str, setting: str, message: str) -> None:
        self.errors.add(f"definition.steps.{step_id}.{setting}" if setting else f"definition.steps.{step_id}",
                        message)

    def templates(self) -> dict[int, str]:
        if self._templates is None:
            self._templates = dict(Template.objects.for_workspace(self.workspace)
                                   .filter(current_version__isnull=False).values_list("pk", "channel"))
        return self._templates

    def attributes(self) -> dict[str, CustomFieldDefinition]:
        if self._attributes is None:
            self._attributes = {d.key: d for d in CustomFieldDefinition.objects.for_workspace(self.workspace)
                                .filter(object_type=ObjectType.CONTACT)}
        return self._attributes

    def members(self) -> set[int]:
        if self._members is None:
            self._members = set(Membership.objects.filter(workspace=self.workspace).values_list("user_id", flat=True))
        return self._members

    def endpoints(self) -> set[int]:
        if self._endpoints is None:
            self._endpoints = set(WebhookEndpoint.objects.filter(workspace=self.workspace)
                                  .values_list("pk", flat=True))
        return self._endpoints


def duration_parse(value: Any) -> dt.timedelta:
    """``{"days": 1, "hours": 2, "minutes": 30}`` → timedelta; raises ``ValueError`` with a readable message."""
    if not isinstance(value, Mapping) or not value:
        raise ValueError("Give a duration such as {\"minutes\": 30}.")
    unknown = set(value) - set(DURATION_UNITS)
    if unknown:
        raise ValueError(f"Use only {', '.join(DURATION_UNITS)} in a duration.")
    parts = {}
    for unit, amount in value.items():
        if isinstance(amount, bool) or not isinstance(amount, int) or amount < 0:
            raise ValueError(f"Give {unit} as a whole number of 0 or more.")
        parts[unit] = amount
    try:
        delta = dt.timedelta(**parts)
    except OverflowError as exc:
        raise ValueError("This duration is too long.") from exc
    if delta <= dt.timedelta(0):
        raise ValueError("Give a duration longer than zero.")
    if delta > MAX_WAIT:
        raise ValueError("Wait at most ten years.")
    return delta


def step_targets(step: Mapping[str, Any]) -> Iterator[tuple[str, Any]]:
    """Every (setting, target step id) a step can lead to; targets may be None (end of the run)."""
    kind = step.get("kind")
    if kind == "if_else":
        yield "then", step.get("then")
        yield "else", step.get("else")
    elif kind == "split":
        branches = step.get("branches")
        for index, branch in enumerate(branches if isinstance(branches, list) else []):
            yield f"branches.{index}.next", branch.get("next") if isinstance(branch, Mapping) else None
    elif kind == "exit":
        return
    else:
        yield "next", step.get("next")
        if kind == "wait_event":
            yield "timeout_next", step.get("timeout_next")


# --- per-kind settings ---------------------------------------------------------------------------------------------

def _template(check: _Check, step: Mapping[str, Any], channel: str) -> None:
    template_id = step.get("template")
    if isinstance(template_id, bool) or not isinstance(template_id, int):
        check.add(step["id"], "template", "Choose a template.")
    elif check.templates().get(template_id) is None:
        check.add(step["id"], "template", f"No template {template_id} with content in this workspace.")
    elif check.templates()[template_id] != channel:
        check.add(step["id"], "template", f"Choose an {'SMS' if channel == Channel.SMS else 'e-mail'} template.")


def _send_email(check: _Check, step: Mapping[str, Any]) -> None:
    _template(check, step, Channel.EMAIL)


def _send_sms(check: _Check, step: Mapping[str, Any]) -> None:
    _template(check, step, Channel.SMS)


def _wait(check: _Check, step: Mapping[str, Any]) -> None:
    try:
        duration_parse(step.get("duration"))
    except ValueError as exc:
        check.add(step["id"], "duration", str(exc))


def _wait_until(check: _Check, step: Mapping[str, Any]) -> None:
    days = step.get("weekdays", list(WEEKDAYS))
    if not isinstance(days, list) or not days or any(day not in WEEKDAYS for day in days):
        check.add(step["id"], "weekdays", f"Choose one or more of {', '.join(WEEKDAYS)}.")
    if not isinstance(step.get("time"), str) or not TIME_OF_DAY.match(step["time"]):
        check.add(step["id"], "time", "Give a time of day as HH:MM (24-hour), such as 09:00.")


def _wait_event(check: _Check, step: Mapping[str, Any]) -> None:
    if not isinstance(step.get("event"), str) or not step["event"].strip() or len(step["event"]) > 255:
        check.add(step["id"], "event", "Name the event to wait for.")
    try:
        duration_parse(step.get("timeout"))
    except ValueError as exc:
        check.add(step["id"], "timeout", str(exc))


def _if_else(check: _Check, step: Mapping[str, Any]) -> None:
    condition = step.get("condition")
    if not condition:
        check.add(step["id"], "condition", "Give a condition.")
        return
    try:
        segment_condition(workspace=check.workspace, definition=condition)
    except InvalidSegment as exc:
        check.add(step["id"], "condition", exc.message)


def _split(check: _Check, step: Mapping[str, Any]) -> None:
    branches = step.get("branches")
    if not isinstance(branches, list) or len(branches) < 2:
        check.add(step["id"], "branches", "Give two or more branches.")
        return
    total, valid = 0, True
    for index, branch in enumerate(branches):
        percent = branch.get("percent") if isinstance(branch, Mapping) else None
        if isinstance(percent, bool) or not isinstance(percent, int) or not 0 < percent <= 100:
            check.add(step["id"], f"branches.{index}.percent", "Give a whole percentage from 1 to 100.")
            valid = False
        else:
            total += percent
    if valid and total != 100:
        check.add(step["id"], "branches", f"The percentages add up to {total}; make them add up to 100.")


def _tag(check: _Check, step: Mapping[str, Any]) -> None:
    tag = step.get("tag")
    if not isinstance(tag, str) or not tag.strip() or len(tag) > 100:
        check.add(step["id"], "tag", "Give a tag name (at most 100 characters).")


def _set_field(check: _Check, step: Mapping[str, Any]) -> None:
    name, value = step.get("field"), step.get("value")
    if not isinstance(name, str) or not name:
        check.add(step["id"], "field", "Choose a field.")
        return
    if name.startswith("attributes."):
        definition = check.attributes().get(name.removeprefix("attributes."))
        if definition is None:
            check.add(step["id"], "field", f"No custom field {name.removeprefix('attributes.')!r} on contacts.")
            return
        if value is not None:
            try:
                value_coerce(definition=definition, value=value)
            except (ValueError, TypeError) as exc:
                check.add(step["id"], "value", str(exc))
        return
    if name not in SETTABLE_FIELDS:
        check.add(step["id"], "field", f"Unknown contact field {name!r}; use one of {', '.join(SETTABLE_FIELDS)} "
                                       f"or attributes.<key>.")
        return
    _, errors = contact_fields_clean({name: value}, phone_region="")
    for messages in errors.errors.values():
        for message in messages:
            check.add(step["id"], "value", message)


def _choice_step(choices: type[Any]) -> Callable[[_Check, Mapping[str, Any]], None]:
    def validate(check: _Check, step: Mapping[str, Any]) -> None:
        if step.get("value") not in choices.values:
            check.add(step["id"], "value", f"Use one of: {', '.join(choices.values)}.")
    return validate


def _member(check: _Check, step: Mapping[str, Any], setting: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value not in check.members():
        check.add(step["id"], setting, "Choose a member of this workspace.")


# Rules of one "assign owner by rule" step: each is one query when the step runs, so a routing table, not a program.
MAX_OWNER_RULES = 20


def _assign_owner(check: _Check, step: Mapping[str, Any]) -> None:
    mode = step.get("mode", "fixed")
    if mode == "fixed":
        _member(check, step, "user", step.get("user"))
    elif mode == "round_robin":
        users = step.get("users")
        if not isinstance(users, list) or not users:
            check.add(step["id"], "users", "Choose the members to rotate through.")
            return
        for user in users:
            _member(check, step, "users", user)
    elif mode == "rule":
        rules = step.get("rules")
        if not isinstance(rules, list) or not rules or len(rules) > MAX_OWNER_RULES:
            check.add(step["id"], "rules", f"Give 1 to {MAX_OWNER_RULES} rules: a condition and a member each.")
            return
        for index, rule in enumerate(rules):
            if not isinstance(rule, Mapping) or set(rule) != {"condition", "user"} or not rule["condition"]:
                check.add(step["id"], f"rules.{index}", 'Give {"condition": a segment condition, "user": a member}.')
                continue
            try:
                segment_condition(workspace=check.workspace, definition=rule["condition"])
            except InvalidSegment as exc:
                check.add(step["id"], f"rules.{index}.condition", exc.message)
            _member(check, step, f"rules.{index}.user", rule["user"])
        if step.get("default") is not None:
            _member(check, step, "default", step["default"])
    else:
        check.add(step["id"], "mode", "Use fixed, round_robin or rule.")


def _create_task(check: _Check, step: Mapping[str, Any]) -> None:
    title = step.get("title")
    if not isinstance(title, str) or not title.strip() or len(title) > 255:
        check.add(step["id"], "title", "Give the task a title (at most 255 characters).")
    due = step.get("due_in_days", 1)
    if isinstance(due, bool) or not isinstance(due, int) or not 0 <= due <= 3650:
        check.add(step["id"], "due_in_days", "Give a whole number of days from 0 to 3650.")
    assignee = step.get("assignee", "owner")
    if assignee != "owner":
        _member(check, step, "assignee", assignee)


def _adjust_score(check: _Check, step: Mapping[str, Any]) -> None:
    delta = step.get("delta")
    if isinstance(delta, bool) or not isinstance(delta, int) or delta == 0 or abs(delta) > MAX_SCORE_DELTA:
        check.add(step["id"], "delta", f"Give a whole number between -{MAX_SCORE_DELTA} and {MAX_SCORE_DELTA}, "
                                       f"not 0.")


def _send_webhook(check: _Check, step: Mapping[str, Any]) -> None:
    endpoint = step.get("endpoint")
    if isinstance(endpoint, bool) or not isinstance(endpoint, int) or endpoint not in check.endpoints():
        check.add(step["id"], "endpoint", "Choose a webhook endpoint of this workspace.")


def _notify(check: _Check, step: Mapping[str, Any]) -> None:
    recipient = step.get("user", "owner")
    if recipient != "owner":
        _member(check, step, "user", recipient)
    text = step.get("text")
    if not isinstance(text, str) or not text.strip() or len(text) > 500:
        check.add(step["id"], "text", "Give the notification text (at most 500 characters).")


def _deal(check: _Check, step: Mapping[str, Any]) -> None:
    pipeline, stage = step.get("pipeline"), step.get("stage")
    if isinstance(pipeline, bool) or not isinstance(pipeline, int) or not Pipeline.objects.filter(
            pk=pipeline, workspace=check.workspace).exists():
        check.add(step["id"], "pipeline", "Choose a pipeline of this workspace.")
    elif stage is not None and (isinstance(stage, bool) or not isinstance(stage, int)
                                or not Stage.objects.filter(pk=stage, pipeline_id=pipeline).exists()):
        check.add(step["id"], "stage", "Choose a stage of that pipeline (or none for its first stage).")
    name = step.get("name", "")
    if not isinstance(name, str) or len(name) > 255:
        check.add(step["id"], "name", "Give a deal name of at most 255 characters (blank: the contact's name).")
    value = step.get("value")
    if value is not None and (isinstance(value, bool) or not isinstance(value, int | float) or value < 0):
        check.add(step["id"], "value", "Give the deal's value as a number of 0 or more.")


def _nothing(check: _Check, step: Mapping[str, Any]) -> None:
    return None


VALIDATORS: dict[str, Callable[[_Check, Mapping[str, Any]], None]] = {
    "send_email": _send_email,
    "send_sms": _send_sms,
    "wait": _wait,
    "wait_until": _wait_until,
    "wait_event": _wait_event,
    "if_else": _if_else,
    "split": _split,
    "add_tag": _tag,
    "remove_tag": _tag,
    "set_field": _set_field,
    "set_lifecycle_stage": _choice_step(LifecycleStage),
    "set_lead_status": _choice_step(LeadStatus),
    "assign_owner": _assign_owner,
    "create_task": _create_task,
    "adjust_score": _adjust_score,
    "send_webhook": _send_webhook,
    "notify": _notify,
    "deal": _deal,
    "exit": _nothing,
}
STEP_KINDS = tuple(VALIDATORS)


def definition_validate(*, workspace: Workspace, definition: Any) -> dict[str, Any]:
    """Return ``definition`` if a run can execute it; else raise ``InvalidFields`` naming every bad step."""
    check = _Check(workspace=workspace)
    if not isinstance(definition, Mapping) or not isinstance(definition.get("steps"), list):
        raise InvalidFields({"definition": ['Give {"steps": [...]}.']})
    if set(definition) - {"steps"}:
        raise InvalidFields({"definition": ['A definition has only "steps".']})
    steps = definition["steps"]
    if not steps:
        raise InvalidFields({"definition.steps": ["Add at least one step."]})
    if len(steps) > MAX_STEPS:
        raise InvalidFields({"definition.steps": [f"Keep a workflow to {MAX_STEPS} steps."]})
    ids: dict[str, Mapping[str, Any]] = {}
    for index, step in enumerate(steps):
        if not isinstance(step, Mapping):
            check.errors.add(f"definition.steps.{index}", "A step is an object with an id and a kind.")
            continue
        step_id = step.get("id")
        if not isinstance(step_id, str) or not STEP_ID.match(step_id):
            check.errors.add(f"definition.steps.{index}.id", "Give the step an id of letters, digits, - and _.")
            continue
        if step_id in ids:
            check.add(step_id, "id", "Another step has this id.")
            continue
        ids[step_id] = step
        if step.get("kind") not in VALIDATORS:
            check.add(step_id, "kind", f"Unknown step kind {step.get('kind')!r}; use one of {', '.join(STEP_KINDS)}.")
            continue
        VALIDATORS[step["kind"]](check, step)
    for step_id, step in ids.items():
        for setting, target in step_targets(step):
            if target is not None and (not isinstance(target, str) or target not in ids):
                check.add(step_id, setting, f"No step {target!r} in this workflow.")
            elif target == step_id and step.get("kind") not in WAIT_KINDS:
                check.add(step_id, setting, "A step cannot lead to itself.")
    check.errors.raise_if_any()
    _cycles_check(steps)
    return dict(definition)


def _cycles_check(steps: list[Mapping[str, Any]]) -> None:
    """Refuse a loop that passes no wait: a run would execute it forever in one go. A loop through a wait is a
    recurring behaviour (every Monday, check again) and allowed."""
    by_id = {step["id"]: step for step in steps}
    graph = {step_id: [t for _, t in step_targets(step) if t is not None]
             for step_id, step in by_id.items() if step.get("kind") not in WAIT_KINDS}
    state: dict[str, int] = {}

    def visit(node: str, path: list[str]) -> list[str] | None:
        state[node] = 1
        for target in graph.get(node, []):
            if target not in graph:
                continue
            if state.get(target) == 1:
                return [*path[path.index(target):], target] if target in path else [node, target]
            if target not in state:
                found = visit(target, [*path, target])
                if found:
                    return found
        state[node] = 2
        return None

    for start in graph:
        if start not in state:
            cycle = visit(start, [start])
            if cycle:
                raise InvalidFields({f"definition.steps.{cycle[0]}.next": [
                    "These steps loop without a wait: " + " → ".join(cycle) + ". Put a wait step in the loop."]})
