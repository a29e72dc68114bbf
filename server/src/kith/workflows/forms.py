"""The builder's forms: workflow settings (trigger, entry condition, re-entry, goal) and one configuration form per
step kind. Forms only shape input into the dicts the services take; every rule is checked by the services
(``workflow_update`` → ``definition_validate``), whose field errors the builder shows next to the step."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from django import forms

from kith.accounts.models import Membership, Workspace
from kith.contacts.models import (
    CustomFieldDefinition,
    LeadStatus,
    LifecycleStage,
    ObjectType,
)
from kith.deals.models import Pipeline, Stage
from kith.messaging.models import Channel, Template
from kith.segments.models import Segment
from kith.webhooks.models import WebhookEndpoint
from kith.workflows.definition import SETTABLE_FIELDS, STEP_KINDS, WEEKDAYS
from kith.workflows.models import ReentryRule, TriggerKind, Workflow
from kith.workflows.triggers import FILTER_OPS

KIND_LABELS = {
    "send_email": "Send e-mail", "send_sms": "Send SMS", "wait": "Wait", "wait_until": "Wait until a day and time",
    "wait_event": "Wait for an event", "if_else": "If / else", "split": "Random split", "add_tag": "Add tag",
    "remove_tag": "Remove tag", "set_field": "Set field", "set_lifecycle_stage": "Set lifecycle stage",
    "set_lead_status": "Set lead status", "assign_owner": "Assign owner", "create_task": "Create task",
    "adjust_score": "Adjust score", "send_webhook": "Send webhook", "notify": "Notify a team member",
    "deal": "Create or update deal",
    "exit": "Exit",
}
END = ""
MAX_BRANCHES = 3


def _members(workspace: Workspace) -> list[tuple[str, str]]:
    return [(str(m.user_id), m.user.email) for m in
            Membership.objects.filter(workspace=workspace).select_related("user").order_by("user__email")]


def _templates(workspace: Workspace, channel: str) -> list[tuple[str, str]]:
    return [(str(pk), name) for pk, name in Template.objects.for_workspace(workspace)
            .filter(channel=channel, current_version__isnull=False).order_by("name").values_list("pk", "name")]


def _int_or_none(value: Any) -> int | None:
    return int(value) if isinstance(value, str) and value.isdigit() and len(value) < 18 else None




class _JsonListField(forms.CharField):
    """A JSON list typed into a textarea (the rules of "assign owner by rule"); the definition validator checks
    what is inside."""

    widget = forms.Textarea(attrs={"rows": 4, "class": "font-monospace"})

    def to_python(self, value: Any) -> Any:
        text = super().to_python(value)
        if not text:
            return []
        try:
            parsed = json.loads(text)
        except ValueError as exc:
            raise forms.ValidationError(f"Not valid JSON: {exc}.") from exc
        if not isinstance(parsed, list):
            raise forms.ValidationError("Give a JSON list of rules.")
        return parsed

class JsonField(forms.CharField):
    widget = forms.Textarea(attrs={"rows": 3, "class": "font-monospace"})

    def to_python(self, value: Any) -> Any:
        text = super().to_python(value)
        if not text.strip():
            return None
        try:
            return json.loads(text)
        except ValueError as exc:
            raise forms.ValidationError(f"This is not valid JSON: {exc}.") from exc

    def prepare_value(self, value: Any) -> Any:
        return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False) if value else ""


class WorkflowSettingsForm(forms.Form):
    name = forms.CharField(max_length=200)
    trigger_kind = forms.ChoiceField(label="Trigger", choices=TriggerKind.choices)
    event = forms.CharField(label="Event name", max_length=255, required=False,
                            help_text="For “Event received”, such as Purchase Abandoned.")
    filter_property = forms.CharField(label="Only when property", max_length=100, required=False)
    filter_op = forms.ChoiceField(label="is", choices=[(op, op) for op in FILTER_OPS], required=False)
    filter_value = forms.CharField(label="value", max_length=255, required=False)
    tag = forms.CharField(label="Tag", max_length=100, required=False, help_text="For tag added / removed.")
    field = forms.CharField(label="Field", max_length=100, required=False,
                            help_text="For “Field changed”: lead_status, lifecycle_stage, attributes.plan, …")
    to = forms.CharField(label="Changed to", max_length=255, required=False)
    offset_days = forms.IntegerField(label="Days after the date (negative: before)", min_value=-3650,
                                     max_value=3650, required=False, help_text="For “Date-based”, with Field "
                                                                               "created_at or attributes.<a date>.")
    at_time = forms.RegexField(label="At (HH:MM, workspace time)", regex=r"^([01]\d|2[0-3]):[0-5]\d$", required=False)
    stage = forms.TypedChoiceField(label="Deal stage", coerce=int, required=False, empty_value=None)
    template = forms.TypedChoiceField(label="E-mail template", coerce=int, required=False, empty_value=None,
                                      help_text="For e-mail opened / clicked; none means any e-mail.")
    segment = forms.TypedChoiceField(label="Segment", coerce=int, required=False, empty_value=None)
    entry_condition = JsonField(label="Entry condition", required=False,
                                help_text='A segment condition the contact must match, such as {"tag": "vip"}.')
    reentry = forms.ChoiceField(label="Re-entry", choices=ReentryRule.choices)
    reentry_days = forms.IntegerField(label="Days before re-entry", min_value=0, max_value=3650, required=False)
    goal_event = forms.CharField(label="Goal event", max_length=255, required=False,
                                 help_text="This event ends a contact's run wherever it waits.")

    def __init__(self, *args: Any, workspace: Workspace, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        none = [("", "—")]
        self.fields["stage"].choices = none + [
            (str(s.pk), f"{s.pipeline.name}: {s.name}") for s in
            Stage.objects.filter(pipeline__workspace=workspace).select_related("pipeline").order_by("pipeline", "position")]
        self.fields["template"].choices = none + _templates(workspace, Channel.EMAIL)
        self.fields["segment"].choices = none + [
            (str(pk), name) for pk, name in Segment.objects.for_workspace(workspace).values_list("pk", "name")]

    @staticmethod
    def initial_for(workflow: Workflow) -> dict[str, Any]:
        config = workflow.trigger_config or {}
        rule = (config.get("filters") or [{}])[0]
        return {"name": workflow.name, "trigger_kind": workflow.trigger_kind, "event": config.get("event", ""),
                "filter_property": rule.get("property", ""), "filter_op": rule.get("op", "eq"),
                "filter_value": "" if rule.get("value") is None else rule.get("value"),
                "tag": config.get("tag", ""), "field": config.get("field", ""), "to": config.get("to", ""),
                "offset_days": config.get("offset_days", 0), "at_time": config.get("time", "09:00"),
                "stage": config.get("stage"), "template": config.get("template"), "segment": config.get("segment"),
                "entry_condition": workflow.entry_condition or "", "reentry": workflow.reentry,
                "reentry_days": workflow.reentry_days, "goal_event": workflow.goal_event}

    def service_data(self) -> dict[str, Any]:
        data = self.cleaned_data
        kind = data["trigger_kind"]
        config: dict[str, Any] = {}
        if kind == TriggerKind.EVENT:
            config["event"] = data["event"].strip()
            if data["filter_property"].strip():
                value: Any = data["filter_value"]
                try:
                    value = json.loads(value)
                except ValueError:
                    pass
                config["filters"] = [{"property": data["filter_property"].strip(), "op": data["filter_op"] or "eq",
                                      "value": value}]
        elif kind in (TriggerKind.TAG_ADDED, TriggerKind.TAG_REMOVED):
            config["tag"] = data["tag"].strip()
        elif kind == TriggerKind.FIELD_CHANGED:
            config["field"] = data["field"].strip()
            if data["to"].strip():
                config["to"] = data["to"].strip()
        elif kind == TriggerKind.DATE:
            config = {"field": data["field"].strip(), "offset_days": data["offset_days"] or 0,
                      "time": data["at_time"] or "09:00"}
        elif kind == TriggerKind.DEAL_STAGE_CHANGED and data["stage"] is not None:
            config["stage"] = data["stage"]
        elif kind in (TriggerKind.EMAIL_OPENED, TriggerKind.EMAIL_CLICKED) and data["template"] is not None:
            config["template"] = data["template"]
        elif kind in (TriggerKind.SEGMENT_ENTERED, TriggerKind.SEGMENT_LEFT):
            config["segment"] = data["segment"]
        return {"name": data["name"], "trigger_kind": kind, "trigger_config": config,
                "entry_condition": data["entry_condition"] or {}, "reentry": data["reentry"],
                "reentry_days": data["reentry_days"] or 0, "goal_event": data["goal_event"]}


class AddStepForm(forms.Form):
    kind = forms.ChoiceField(label="Step", choices=[(kind, KIND_LABELS[kind]) for kind in STEP_KINDS])
    after = forms.ChoiceField(label="After", required=False)

    def __init__(self, *args: Any, step_ids: list[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["after"].choices = [(step_id, step_id) for step_id in step_ids] + [("", "At the start")]
        if step_ids:
            self.fields["after"].initial = step_ids[-1]


def _duration_fields(form: forms.Form, prefix: str, value: Mapping[str, Any] | None, label: str) -> None:
    value = value or {}
    for unit in ("days", "hours", "minutes"):
        form.fields[f"{prefix}{unit}"] = forms.IntegerField(label=f"{label} {unit}", min_value=0, max_value=100_000,
                                                           required=False, initial=value.get(unit, 0))


def _duration(data: Mapping[str, Any], prefix: str) -> dict[str, int]:
    return {unit: data[f"{prefix}{unit}"] for unit in ("days", "hours", "minutes") if data.get(f"{prefix}{unit}")}


class StepForm(forms.Form):
    """The settings of one step of ``kind``, plus where it leads. ``step()`` is the definition dict."""

    step_id = forms.RegexField(label="Step id", regex=r"^[A-Za-z0-9_-]{1,64}$", max_length=64,
                               help_text="Letters, digits, - and _; other steps refer to it.")

    def __init__(self, *args: Any, kind: str, workspace: Workspace, step: Mapping[str, Any],
                 step_ids: list[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.kind = kind
        self.fields["step_id"].initial = step.get("id", "")
        targets = [(END, "— end of the workflow —")] + [(s, s) for s in step_ids if s != step.get("id")]
        members = _members(workspace)
        add = self.fields.__setitem__

        def target(name: str, label: str) -> None:
            add(name, forms.ChoiceField(label=label, choices=targets, required=False, initial=step.get(name) or END))

        if kind in ("send_email", "send_sms"):
            channel = Channel.SMS if kind == "send_sms" else Channel.EMAIL
            add("template", forms.TypedChoiceField(label="Template", coerce=int, choices=_templates(workspace, channel),
                                                   initial=step.get("template")))
        elif kind == "wait":
            _duration_fields(self, "", step.get("duration"), "Wait")
        elif kind == "wait_until":
            add("weekdays", forms.MultipleChoiceField(label="On", choices=[(d, d.title()) for d in WEEKDAYS],
                                                      widget=forms.CheckboxSelectMultiple,
                                                      initial=step.get("weekdays", list(WEEKDAYS))))
            add("time", forms.CharField(label="At (HH:MM, the contact's time zone)", max_length=5,
                                        initial=step.get("time", "09:00")))
        elif kind == "wait_event":
            add("event", forms.CharField(label="Event", max_length=255, initial=step.get("event", "")))
            _duration_fields(self, "timeout_", step.get("timeout"), "Give up after")
        elif kind == "if_else":
            add("condition", JsonField(label="Condition (segment-style)", initial=step.get("condition"),
                                       help_text='Such as {"tag": "vip"} or {"field": "lead_status", "op": "eq", '
                                                 '"value": "new"}.'))
        elif kind == "split":
            for index in range(MAX_BRANCHES):
                branches = step.get("branches") or []
                branch = branches[index] if index < len(branches) else {}
                add(f"percent_{index}", forms.IntegerField(label=f"Branch {index + 1} %", min_value=0, max_value=100,
                                                           required=False, initial=branch.get("percent")))
                add(f"branch_{index}", forms.ChoiceField(label=f"Branch {index + 1} goes to", choices=targets,
                                                         required=False, initial=branch.get("next") or END))
        elif kind in ("add_tag", "remove_tag"):
            add("tag", forms.CharField(label="Tag", max_length=100, initial=step.get("tag", "")))
        elif kind == "set_field":
            keys = CustomFieldDefinition.objects.for_workspace(workspace).filter(object_type=ObjectType.CONTACT) \
                .values_list("key", flat=True)
            add("field", forms.ChoiceField(label="Field", choices=[(f, f) for f in SETTABLE_FIELDS] +
                                           [(f"attributes.{k}", f"attributes.{k}") for k in keys],
                                           initial=step.get("field")))
            add("value", forms.CharField(label="Value", max_length=255, required=False, initial=step.get("value", "")))
        elif kind in ("set_lifecycle_stage", "set_lead_status"):
            choices = LifecycleStage.choices if kind == "set_lifecycle_stage" else LeadStatus.choices
            add("value", forms.ChoiceField(label="Value", choices=choices, initial=step.get("value")))
        elif kind == "assign_owner":
            add("mode", forms.ChoiceField(label="How", choices=[("fixed", "One member"),
                                                                ("round_robin", "Round-robin"),
                                                                ("rule", "By rule (first match)")],
                                          initial=step.get("mode", "fixed")))
            add("rules", _JsonListField(
                label="Rules", required=False, initial=json.dumps(step.get("rules", []), indent=1),
                help_text='A JSON list, first match wins: [{"condition": {"field": "attributes.region", "op": "eq", '
                          '"value": "EU"}, "user": 3}, …]; conditions as in segments.'))
            add("default", forms.TypedChoiceField(label="Default when no rule matches", coerce=int,
                                                  choices=[("", "— leave the owner"), *members], required=False,
                                                  empty_value=None, initial=step.get("default")))
            add("user", forms.TypedChoiceField(label="Member", coerce=int, choices=[("", "—"), *members],
                                               required=False, empty_value=None, initial=step.get("user")))
            add("users", forms.TypedMultipleChoiceField(label="Round-robin members", coerce=int, choices=members,
                                                        required=False, widget=forms.CheckboxSelectMultiple,
                                                        initial=step.get("users", [])))
        elif kind == "create_task":
            add("title", forms.CharField(label="Title", max_length=255, initial=step.get("title", "")))
            add("due_in_days", forms.IntegerField(label="Due in days", min_value=0, max_value=3650,
                                                  initial=step.get("due_in_days", 1)))
            add("assignee", forms.ChoiceField(label="Assign to", choices=[("owner", "The contact's owner"), *members],
                                              initial=str(step.get("assignee", "owner"))))
        elif kind == "adjust_score":
            add("delta", forms.IntegerField(label="Add to the score (negative subtracts)", initial=step.get("delta", 1)))
        elif kind == "send_webhook":
            endpoints = [(str(pk), url) for pk, url in WebhookEndpoint.objects.filter(workspace=workspace)
                         .values_list("pk", "url")]
            add("endpoint", forms.TypedChoiceField(label="Endpoint", coerce=int, choices=endpoints,
                                                   initial=step.get("endpoint")))
        elif kind == "deal":
            add("pipeline", forms.TypedChoiceField(label="Pipeline", coerce=int, choices=[
                (str(pk), name) for pk, name in Pipeline.objects.filter(workspace=workspace).values_list("pk", "name")],
                initial=step.get("pipeline")))
            add("stage", forms.TypedChoiceField(label="Stage (an open deal there moves to it)", coerce=int,
                                                required=False, empty_value=None, initial=step.get("stage"),
                                                choices=[("", "— first stage —")] + [
                                                    (str(st.pk), f"{st.pipeline.name}: {st.name}") for st in
                                                    Stage.objects.filter(pipeline__workspace=workspace)
                                                    .select_related("pipeline")]))
            add("name", forms.CharField(label="Deal name (blank: the contact's name)", max_length=255,
                                        required=False, initial=step.get("name", "")))
        elif kind == "notify":
            add("user", forms.ChoiceField(label="Notify", choices=[("owner", "The contact's owner"), *members],
                                          initial=str(step.get("user", "owner"))))
            add("text", forms.CharField(label="Text", max_length=500, initial=step.get("text", "")))
        if kind == "if_else":
            target("then", "If it matches, go to")
            target("else", "Otherwise, go to")
        elif kind == "wait_event":
            target("next", "When the event arrives, go to")
            target("timeout_next", "If it does not, go to")
        elif kind not in ("split", "exit"):
            target("next", "Then go to")

    def step(self) -> dict[str, Any]:
        data = self.cleaned_data
        step: dict[str, Any] = {"id": data["step_id"], "kind": self.kind}
        skip = {"step_id", "next", "then", "else", "timeout_next"}
        if self.kind == "wait":
            step["duration"] = _duration(data, "")
        elif self.kind == "wait_event":
            step["event"], step["timeout"] = data["event"], _duration(data, "timeout_")
        elif self.kind == "split":
            step["branches"] = [{"percent": data[f"percent_{i}"], "next": data[f"branch_{i}"] or None}
                                for i in range(MAX_BRANCHES) if data.get(f"percent_{i}")]
        elif self.kind == "assign_owner":
            step["mode"] = data["mode"]
            if data["mode"] == "fixed":
                step["user"] = data["user"]
            elif data["mode"] == "rule":
                step["rules"], step["default"] = data["rules"] or [], data["default"]
            else:
                step["users"] = data["users"]
        elif self.kind in ("create_task", "notify"):
            key = "assignee" if self.kind == "create_task" else "user"
            for name, value in data.items():
                if name not in skip:
                    step[name] = _int_or_none(value) if name == key and value != "owner" else value
        else:
            for name, value in data.items():
                if name not in skip and not name.startswith(("timeout_", "percent_", "branch_")):
                    step[name] = value
        for name in ("next", "then", "else", "timeout_next"):
            if name in self.fields:
                step[name] = data.get(name) or None
        return step


def step_summary(step: Mapping[str, Any]) -> str:
    """One line saying what a step does, for the flow view."""
    kind = step.get("kind")
    if kind in ("wait", "wait_event"):
        duration = step.get("duration" if kind == "wait" else "timeout") or {}
        text = " ".join(f"{v} {k}" for k, v in duration.items() if v)
        return f"{text}" if kind == "wait" else f"“{step.get('event')}”, at most {text}"
    if kind == "wait_until":
        return f"{', '.join(step.get('weekdays', WEEKDAYS))} at {step.get('time')}"
    if kind == "if_else":
        return json.dumps(step.get("condition"), ensure_ascii=False)
    if kind == "split":
        return " / ".join(f"{b.get('percent')}%" for b in step.get("branches", []))
    for name in ("tag", "title", "text", "value", "delta", "event"):
        if name in step:
            prefix = f"{step['field']} = " if kind == "set_field" else ""
            return f"{prefix}{step[name]}"
    return ""


def step_targets_labelled(step: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(label, target step id or "end") of every way out of a step, for the arrows of the flow view."""
    kind = step.get("kind")
    if kind == "exit":
        return []
    if kind == "if_else":
        pairs = [("if yes", step.get("then")), ("otherwise", step.get("else"))]
    elif kind == "split":
        pairs = [(f"{b.get('percent')}%", b.get("next")) for b in step.get("branches", [])]
    elif kind == "wait_event":
        pairs = [("event arrives", step.get("next")), ("timeout", step.get("timeout_next"))]
    else:
        pairs = [("then", step.get("next"))]
    return [(label, target or "end") for label, target in pairs]


class EnrollForm(forms.Form):
    contact = forms.CharField(label="Contact (e-mail or id)", max_length=254)
