"""Writes of workflows: create, update (a changed definition becomes a new version), activate, pause, delete, and
enroll by hand. Every write is validated first and audited.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Max

from kith.accounts.models import Workspace
from kith.contacts.errors import FieldErrors, InvalidFields
from kith.contacts.models import Contact, CustomFieldDefinition, FieldType, ObjectType
from kith.core.audit import audit_record, snapshot
from kith.core.errors import Conflict, KithError
from kith.deals.models import Stage
from kith.messaging.models import Template
from kith.segments.errors import InvalidSegment
from kith.segments.models import Segment
from kith.segments.selectors import segment_condition
from kith.workflows.definition import TIME_OF_DAY, definition_validate
from kith.workflows.models import (
    OPEN_STATES,
    ReentryRule,
    TriggerKind,
    Workflow,
    WorkflowStatus,
    WorkflowVersion,
)
from kith.workflows.triggers import DATE_COLUMNS, DEAL_DATE_COLUMNS, FILTER_OPS, manual_enroll

MAX_NAME_LENGTH = 200
MAX_FILTERS = 20
MAX_REENTRY_DAYS = 3650
MAX_MANUAL_ENROLL = 1000
AUDITED = ["name", "status", "trigger_kind", "trigger_config", "entry_condition", "reentry", "reentry_days",
           "goal_event"]
SETTINGS = ("name", "description", "trigger_kind", "trigger_config", "entry_condition", "reentry", "reentry_days",
            "goal_event")


def _text(errors: FieldErrors, data: Mapping[str, Any], name: str, *, max_length: int, required: bool) -> None:
    value = data.get(name)
    if not isinstance(value, str) or "\x00" in value or len(value.strip()) > max_length or (
            required and not value.strip()):
        errors.add(name, f"Give {'a' if required else 'at most'} {name.replace('_', ' ')} of up to {max_length} "
                         f"characters.")


def trigger_config_validate(*, workspace: Workspace, kind: str, config: Any, errors: FieldErrors) -> None:
    """Each trigger kind's settings; errors are keyed ``trigger_config.<setting>``."""
    if not isinstance(config, Mapping):
        errors.add("trigger_config", "Give the trigger's settings as an object.")
        return
    if kind == TriggerKind.EVENT:
        if not isinstance(config.get("event"), str) or not config["event"].strip() or len(config["event"]) > 255:
            errors.add("trigger_config.event", "Name the event that starts the workflow.")
        filters = config.get("filters", [])
        if not isinstance(filters, list) or len(filters) > MAX_FILTERS:
            errors.add("trigger_config.filters", f"Give a list of at most {MAX_FILTERS} property filters.")
            return
        for index, rule in enumerate(filters):
            if (not isinstance(rule, Mapping) or not isinstance(rule.get("property"), str) or not rule["property"]
                    or rule.get("op") not in FILTER_OPS or set(rule) - {"property", "op", "value"}):
                errors.add(f"trigger_config.filters.{index}",
                           f'Give {{"property": ..., "op": one of {", ".join(FILTER_OPS)}, "value": ...}}.')
    elif kind == TriggerKind.FIELD_CHANGED:
        if not isinstance(config.get("field"), str) or not config["field"]:
            errors.add("trigger_config.field", "Name the contact field to watch.")
    elif kind in (TriggerKind.TAG_ADDED, TriggerKind.TAG_REMOVED):
        if not isinstance(config.get("tag"), str) or not config["tag"].strip():
            errors.add("trigger_config.tag", "Name the tag.")
    elif kind == TriggerKind.DEAL_STAGE_CHANGED:
        stage = config.get("stage")
        if stage is not None and (isinstance(stage, bool) or not isinstance(stage, int) or not Stage.objects.filter(
                pk=stage, pipeline__workspace=workspace).exists()):
            errors.add("trigger_config.stage", "Choose a stage of this workspace (or none for any stage).")
    elif kind in (TriggerKind.EMAIL_OPENED, TriggerKind.EMAIL_CLICKED):
        template = config.get("template")
        if template is not None and (isinstance(template, bool) or not isinstance(template, int)
                                     or not Template.objects.for_workspace(workspace).filter(pk=template).exists()):
            errors.add("trigger_config.template", "Choose a template of this workspace (or none for any e-mail).")
    elif kind == TriggerKind.DATE:
        name = config.get("field")
        definitions = {d.key: d.field_type for d in CustomFieldDefinition.objects.for_workspace(workspace)
                       .filter(object_type=ObjectType.CONTACT)}
        if not isinstance(name, str) or not (name in DATE_COLUMNS or name in DEAL_DATE_COLUMNS or (
                name.startswith("attributes.") and definitions.get(name.removeprefix("attributes.")) == FieldType.DATE)):
            errors.add("trigger_config.field", f"Choose {', '.join(DATE_COLUMNS + DEAL_DATE_COLUMNS)} or "
                                               "attributes.<a date field>.")
        offset = config.get("offset_days", 0)
        if isinstance(offset, bool) or not isinstance(offset, int) or abs(offset) > MAX_REENTRY_DAYS:
            errors.add("trigger_config.offset_days", "Give whole days after the date (negative: before), "
                                                     f"at most {MAX_REENTRY_DAYS}.")
        if not isinstance(config.get("time", "09:00"), str) or not TIME_OF_DAY.match(config.get("time", "09:00")):
            errors.add("trigger_config.time", "Give a time of day as HH:MM, such as 09:00.")
    elif kind in (TriggerKind.SEGMENT_ENTERED, TriggerKind.SEGMENT_LEFT):
        segment = config.get("segment")
        if isinstance(segment, bool) or not isinstance(segment, int) or not Segment.objects.for_workspace(
                workspace).filter(pk=segment).exists():
            errors.add("trigger_config.segment", "Choose a segment of this workspace.")


def _settings_clean(workspace: Workspace, data: Mapping[str, Any], current: Workflow | None) -> dict[str, Any]:
    errors = FieldErrors()
    values = {name: data[name] for name in SETTINGS if name in data}
    if "name" in values or current is None:
        _text(errors, data, "name", max_length=MAX_NAME_LENGTH, required=True)
    if "description" in values:
        _text(errors, data, "description", max_length=2000, required=False)
    kind = values.get("trigger_kind", current.trigger_kind if current else TriggerKind.MANUAL)
    if kind not in TriggerKind.values:
        errors.add("trigger_kind", f"Use one of: {', '.join(TriggerKind.values)}.")
    elif "trigger_kind" in values or "trigger_config" in values:
        config = values.get("trigger_config", current.trigger_config if current else {})
        trigger_config_validate(workspace=workspace, kind=kind, config=config, errors=errors)
    if values.get("entry_condition"):
        try:
            segment_condition(workspace=workspace, definition=values["entry_condition"])
        except InvalidSegment as exc:
            errors.add("entry_condition", exc.message)
    if "entry_condition" in values and values["entry_condition"] is None:
        values["entry_condition"] = {}
    if "reentry" in values and values["reentry"] not in ReentryRule.values:
        errors.add("reentry", f"Use one of: {', '.join(ReentryRule.values)}.")
    if "reentry_days" in values:
        days = values["reentry_days"]
        if isinstance(days, bool) or not isinstance(days, int) or not 0 <= days <= MAX_REENTRY_DAYS:
            errors.add("reentry_days", f"Give a whole number of days from 0 to {MAX_REENTRY_DAYS}.")
    reentry = values.get("reentry", current.reentry if current else ReentryRule.ONCE)
    days = values.get("reentry_days", current.reentry_days if current else 0)
    if reentry == ReentryRule.INTERVAL and not errors.errors.get("reentry_days") and (
            not isinstance(days, int) or days < 1):
        errors.add("reentry_days", "Give the number of days before a contact may enter again.")
    if "goal_event" in values:
        _text(errors, data, "goal_event", max_length=255, required=False)
    errors.raise_if_any()
    for name in ("name", "description", "goal_event"):
        if name in values:
            values[name] = values[name].strip()
    return values


def _version_add(workflow: Workflow, actor: Any, definition: dict[str, Any]) -> WorkflowVersion:
    number = (workflow.versions.aggregate(top=Max("number"))["top"] or 0) + 1
    version = WorkflowVersion.objects.create(workflow=workflow, number=number, definition=definition,
                                             created_by=_user(actor))
    workflow.current_version = version
    return version


def _user(actor: Any) -> Any:
    if getattr(actor, "is_api_key", False):
        return actor.created_by
    return actor if getattr(actor, "is_authenticated", False) else None


def workflow_create(*, workspace: Workspace, actor: Any, data: Mapping[str, Any]) -> Workflow:
    """Create a draft workflow. ``data`` holds ``name`` and optionally the trigger settings and a ``definition``
    (validated: ``InvalidFields`` names every bad step)."""
    values = _settings_clean(workspace, data, None)
    definition = definition_validate(workspace=workspace, definition=data["definition"]) \
        if data.get("definition") is not None else None
    try:
        with transaction.atomic():
            workflow = Workflow.objects.create(workspace=workspace, created_by=_user(actor), **values)
            if definition is not None:
                _version_add(workflow, actor, definition)
                workflow.save(update_fields=["current_version", "updated_at"])
            audit_record(action="workflow.created", actor=actor, workspace=workspace, target=workflow,
                         after=snapshot(workflow, AUDITED))
    except IntegrityError as exc:
        raise Conflict("A workflow with this name exists.", field="name") from exc
    return workflow


def workflow_update(*, workflow: Workflow, actor: Any, data: Mapping[str, Any]) -> Workflow:
    """Change the settings given; a ``definition`` that differs from the current one becomes a new version (runs
    already going keep theirs). An active workflow keeps being valid: the checks are the same as at activation."""
    values = _settings_clean(workflow.workspace, data, workflow)
    definition = definition_validate(workspace=workflow.workspace, definition=data["definition"]) \
        if "definition" in data else None
    try:
        with transaction.atomic():
            locked = Workflow.objects.select_for_update(of=("self",)).select_related("current_version").get(pk=workflow.pk)
            before = snapshot(locked, AUDITED)
            for name, value in values.items():
                setattr(locked, name, value)
            new_version = None
            if definition is not None and (locked.current_version is None
                                           or locked.current_version.definition != definition):
                new_version = _version_add(locked, actor, definition)
            locked.save()
            after = snapshot(locked, AUDITED)
            if new_version is not None:
                after["version"] = new_version.number
            audit_record(action="workflow.updated", actor=actor, workspace=locked.workspace, target=locked,
                         before=before, after=after)
    except IntegrityError as exc:
        raise Conflict("A workflow with this name exists.", field="name") from exc
    return locked


@transaction.atomic
def workflow_activate(*, workflow: Workflow, actor: Any) -> Workflow:
    """Start enrolling. Needs steps, and trigger settings that are valid now (a template or segment they name may
    have been deleted since the save)."""
    locked = Workflow.objects.select_for_update(of=("self",)).select_related("current_version").get(pk=workflow.pk)
    if locked.current_version is None:
        raise KithError("Add steps before activating the workflow.", field="definition")
    errors = FieldErrors()
    trigger_config_validate(workspace=locked.workspace, kind=locked.trigger_kind, config=locked.trigger_config,
                            errors=errors)
    errors.raise_if_any()
    definition_validate(workspace=locked.workspace, definition=locked.current_version.definition)
    if locked.status != WorkflowStatus.ACTIVE:
        locked.status = WorkflowStatus.ACTIVE
        locked.save(update_fields=["status", "updated_at"])
        audit_record(action="workflow.activated", actor=actor, workspace=locked.workspace, target=locked)
    return locked


@transaction.atomic
def workflow_pause(*, workflow: Workflow, actor: Any) -> Workflow:
    """Stop enrolling new contacts. Runs already going continue (pausing a chase half-way would strand people
    mid-sequence); exit them by deleting the workflow if they must stop."""
    locked = Workflow.objects.select_for_update().get(pk=workflow.pk)
    if locked.status == WorkflowStatus.ACTIVE:
        locked.status = WorkflowStatus.PAUSED
        locked.save(update_fields=["status", "updated_at"])
        audit_record(action="workflow.paused", actor=actor, workspace=locked.workspace, target=locked)
    return locked


@transaction.atomic
def workflow_delete(*, workflow: Workflow, actor: Any) -> None:
    """Delete the workflow with its versions and run history. Refused while runs are going: pause it and let them
    finish, so nobody is dropped from a sequence silently."""
    if workflow.runs.filter(state__in=OPEN_STATES).exists():
        raise Conflict("Runs of this workflow are still going; pause it and let them finish first.")
    audit_record(action="workflow.deleted", actor=actor, workspace=workflow.workspace, target=workflow,
                 before=snapshot(workflow, AUDITED))
    workflow.delete()


def workflow_enroll(*, workflow: Workflow, actor: Any, contact_ids: Sequence[int]) -> int:
    """Enroll contacts by hand (also the builder's test run). Works for drafts too — that is how a workflow is
    tried on one contact before it goes live. The entry condition and re-entry rule apply; returns how many
    entered."""
    if workflow.current_version_id is None:
        raise KithError("Add steps before enrolling contacts.", field="definition")
    if not contact_ids or len(contact_ids) > MAX_MANUAL_ENROLL:
        raise InvalidFields({"contacts": [f"Give 1 to {MAX_MANUAL_ENROLL} contact ids."]})
    found = set(Contact.objects.for_workspace(workflow.workspace).filter(pk__in=contact_ids)
                .values_list("pk", flat=True))
    missing = sorted(set(contact_ids) - found)
    if missing:
        raise InvalidFields({"contacts": [f"No contact {pk} in this workspace." for pk in missing[:10]]})
    count = manual_enroll(workflow=workflow, contact_ids=list(contact_ids))
    audit_record(action="workflow.enrolled", actor=actor, workspace=workflow.workspace, target=workflow,
                 after={"contacts": list(contact_ids)[:50], "entered": count})
    return count
