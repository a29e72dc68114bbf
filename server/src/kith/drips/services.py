"""Writes of drip sequences and their steps. Every service validates its input (``KithError`` naming the field),
writes an audit row, and keeps waiting enrollments consistent with the steps (a changed or deleted step re-times
the enrollments waiting on it). Sending and enrolling are ``kith.drips.engine``."""

from __future__ import annotations

import datetime as dt
import itertools
import re
from collections.abc import Mapping
from collections.abc import Sequence as Seq
from typing import Any

from django.db import transaction
from django.db.models import Max

from kith.accounts.models import Workspace
from kith.contacts.models import Contact
from kith.core import clock
from kith.core.audit import audit_record, diff, snapshot
from kith.core.errors import Conflict, KithError
from kith.core.jobs import enqueue_on_commit, job
from kith.drips import engine, timing
from kith.drips.models import Enrollment, EnrollmentState, Sequence, Step
from kith.messaging.models import Template
from kith.preferences.models import Topic
from kith.segments import selectors as segment_selectors
from kith.segments.errors import InvalidSegment
from kith.segments.models import Segment

AUDITED = ("name", "segment", "enroll_event", "is_active", "send_time", "exit_events", "goal_segment", "topic")
MAX_NAME_LENGTH = 200
MAX_EVENT_NAME = 255
MAX_EXIT_EVENTS = 20
MAX_STEPS = 50
MAX_DAY_OFFSET = 365
SEQUENCE_FIELDS = ("name", "segment", "enroll_event", "send_time", "exit_events", "goal_segment", "topic")
_TIME = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


# --- validation ----------------------------------------------------------------------------------------------------


def _text(value: Any, *, field: str, max_length: int, required: bool) -> str:
    if not isinstance(value, str) or "\x00" in value or len(value.strip()) > max_length or (
            required and not value.strip()):
        raise KithError(f"Give {'a' if required else 'at most'} {'text of 1 to ' if required else ''}"
                        f"{max_length} characters.", field=field)
    return value.strip()


def _object_id(value: Any, *, field: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value < 2**63:
        raise KithError("Give an id or null.", field=field)
    return value


def _segment(workspace: Workspace, value: Any, field: str) -> Segment | None:
    segment_id = _object_id(value, field=field)
    if segment_id is None:
        return None
    segment = Segment.objects.for_workspace(workspace).filter(pk=segment_id).first()
    if segment is None:
        raise KithError("No such segment.", field=field)
    return segment


def _topic(workspace: Workspace, value: Any) -> Topic | None:
    topic_id = _object_id(value, field="topic")
    if topic_id is None:
        return None
    topic = Topic.objects.for_workspace(workspace).filter(pk=topic_id, archived_at__isnull=True).first()
    if topic is None:
        raise KithError("No such topic (or it is archived).", field="topic")
    return topic


def send_time_parse(value: Any) -> dt.time:
    """``"HH:MM"`` (24-hour) as the recipient's local time of day."""
    if isinstance(value, dt.time):
        return value.replace(second=0, microsecond=0, tzinfo=None)
    match = _TIME.match(value) if isinstance(value, str) else None
    if match is None:
        raise KithError("Give a time of day as HH:MM (24-hour), such as 09:30.", field="send_time")
    return dt.time(int(match.group(1)), int(match.group(2)))


def _exit_events(value: Any) -> list[str]:
    if not isinstance(value, list) or len(value) > MAX_EXIT_EVENTS:
        raise KithError(f"Give a list of at most {MAX_EXIT_EVENTS} event names.", field="exit_events")
    names: list[str] = []
    for item in value:
        name = _text(item, field="exit_events", max_length=MAX_EVENT_NAME, required=True)
        if name not in names:
            names.append(name)
    return names


def _apply(sequence: Sequence, data: Mapping[str, Any]) -> None:
    workspace = sequence.workspace
    if "name" in data:
        sequence.name = _text(data["name"], field="name", max_length=MAX_NAME_LENGTH, required=True)
        taken = Sequence.objects.for_workspace(workspace).filter(name=sequence.name).exclude(pk=sequence.pk)
        if taken.exists():
            raise Conflict("A sequence with this name exists.", field="name")
    if "segment" in data:
        sequence.segment = _segment(workspace, data["segment"], "segment")
    if "goal_segment" in data:
        sequence.goal_segment = _segment(workspace, data["goal_segment"], "goal_segment")
    if "enroll_event" in data:
        sequence.enroll_event = _text(data["enroll_event"], field="enroll_event", max_length=MAX_EVENT_NAME,
                                      required=False)
    if "send_time" in data:
        sequence.send_time = send_time_parse(data["send_time"])
    if "exit_events" in data:
        sequence.exit_events = _exit_events(data["exit_events"])
    if "topic" in data:
        sequence.topic = _topic(workspace, data["topic"])
    if sequence.goal_segment_id is not None and sequence.goal_segment_id == sequence.segment_id:
        raise KithError("The goal cannot be the audience segment: everyone would leave at once.",
                        field="goal_segment")
    if sequence.is_active and sequence.segment_id is None and not sequence.enroll_event:
        raise KithError("An active sequence needs an audience: a segment or an enrolling event.", field="segment")


def _audit_snapshot(sequence: Sequence) -> dict[str, Any]:
    return snapshot(sequence, AUDITED)


# --- sequences -----------------------------------------------------------------------------------------------------


def sequence_create(*, workspace: Workspace, actor: Any, data: Mapping[str, Any]) -> Sequence:
    """Create an inactive sequence (``name`` required); add steps, then ``sequence_activate``."""
    if "name" not in data:
        raise KithError("Give the sequence a name.", field="name")
    sequence = Sequence(workspace=workspace,
                        created_by=actor if getattr(actor, "is_authenticated", False) and not getattr(
                            actor, "is_api_key", False) else None)
    _apply(sequence, data)
    with transaction.atomic():
        sequence.save()
        audit_record(action="sequence.created", actor=actor, workspace=workspace, target=sequence,
                     after=_audit_snapshot(sequence))
    return sequence


def sequence_update(*, sequence: Sequence, actor: Any, data: Mapping[str, Any]) -> Sequence:
    """Change the fields given. A new send time applies to steps not yet scheduled; waiting enrollments are re-timed
    to it (their anchor day is kept)."""
    before = _audit_snapshot(sequence)
    old_time = sequence.send_time
    _apply(sequence, data)
    with transaction.atomic():
        sequence.save()
        if sequence.send_time != old_time:
            _reschedule(Enrollment.objects.filter(sequence=sequence, state=EnrollmentState.ACTIVE))
        old, new = diff(before, _audit_snapshot(sequence))
        if new:
            audit_record(action="sequence.updated", actor=actor, workspace=sequence.workspace, target=sequence,
                         before=old, after=new)
    return sequence


def sequence_delete(*, sequence: Sequence, actor: Any) -> None:
    """Delete the sequence with its steps and enrollments; messages already sent stay in the ledger."""
    with transaction.atomic():
        audit_record(action="sequence.deleted", actor=actor, workspace=sequence.workspace, target=sequence,
                     before=_audit_snapshot(sequence))
        sequence.delete()


def sequence_activate(*, sequence: Sequence, actor: Any, enroll_current_members: bool = False) -> Sequence:
    """Switch the sequence on. From now on contacts entering its segment (or doing its enrolling event) enroll;
    with ``enroll_current_members`` the segment's present members enroll too (in a background job)."""
    if not sequence.steps.exists():
        raise KithError("Add at least one step before switching the sequence on.", field="steps")
    if sequence.segment_id is None and not sequence.enroll_event:
        raise KithError("Choose an audience first: a segment or an enrolling event.", field="segment")
    if enroll_current_members and sequence.segment_id is None:
        raise KithError("Only a sequence with a segment has current members.", field="enroll_current_members")
    with transaction.atomic():
        locked = Sequence.objects.select_for_update().get(pk=sequence.pk)
        if not locked.is_active:
            locked.is_active, locked.activated_at = True, clock.now()
            locked.save(update_fields=["is_active", "activated_at", "updated_at"])
            audit_record(action="sequence.activated", actor=actor, workspace=locked.workspace, target=locked)
        if enroll_current_members:
            enqueue_on_commit(drips_enroll_members_task, sequence_id=locked.pk)
    sequence.is_active, sequence.activated_at = locked.is_active, locked.activated_at
    return sequence


def sequence_deactivate(*, sequence: Sequence, actor: Any) -> Sequence:
    """Switch the sequence off: nobody enrolls and nothing is sent. Enrollments keep their place; steps that came
    due meanwhile go out when it is switched on again."""
    with transaction.atomic():
        changed = Sequence.objects.filter(pk=sequence.pk, is_active=True).update(is_active=False,
                                                                                  updated_at=clock.now())
        if changed:
            audit_record(action="sequence.deactivated", actor=actor, workspace=sequence.workspace, target=sequence)
    sequence.is_active = False
    return sequence


@job(lease_seconds=1800)
def drips_enroll_members_task(*, sequence_id: int) -> int:
    """Enroll the present members of an active sequence's segment (asked for at activation)."""
    sequence = Sequence.objects.select_related("workspace", "segment", "topic").filter(pk=sequence_id).first()
    if sequence is None or not sequence.is_active or sequence.segment is None:
        return 0
    try:
        condition = segment_selectors.segment_condition(workspace=sequence.workspace,
                                                        definition=sequence.segment.definition,
                                                        segment_id=sequence.segment_id)
    except InvalidSegment:
        return 0
    ids = Contact.objects.filter(workspace=sequence.workspace).filter(condition).order_by("pk").values_list(
        "pk", flat=True)
    return len(engine.drip_enroll(sequence=sequence, contact_ids=list(ids)))


# --- steps ---------------------------------------------------------------------------------------------------------


def _day_offset(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_DAY_OFFSET:
        raise KithError(f"Give a whole number of days from 0 to {MAX_DAY_OFFSET}.", field="day_offset")
    return value


def _template(workspace: Workspace, value: Any) -> Template:
    template_id = _object_id(value, field="template")
    template = (Template.objects.for_workspace(workspace).filter(pk=template_id).first()
                if template_id is not None else None)
    if template is None:
        raise KithError("Choose one of the workspace's templates.", field="template")
    if template.current_version_id is None:
        raise KithError("This template has no content yet.", field="template")
    return template


def _check_days(steps: Seq[Step]) -> None:
    """Steps go out in position order, so their days must not go backwards."""
    for earlier, later in itertools.pairwise(steps):
        if later.day_offset < earlier.day_offset:
            raise KithError(f"Step {steps.index(later) + 1} is on day {later.day_offset}, before the previous step's "
                            f"day {earlier.day_offset}; steps go out in order.", field="day_offset")


def _reschedule(enrollments: Any) -> None:
    """Re-time active enrollments (after their next step or the send time changed); per row, in the contact's zone."""
    for enrollment in enrollments.filter(next_step__isnull=False).select_related(
            "contact", "next_step", "sequence", "sequence__workspace"):
        zone = timing.zone_for(contact_timezone=enrollment.contact.timezone,
                               workspace_timezone=enrollment.sequence.workspace.timezone)
        enrollment.wake_at = timing.step_due_at(anchor=enrollment.anchor_date, day_offset=enrollment.next_step.day_offset,
                                                send_time=enrollment.sequence.send_time, zone=zone)
        enrollment.save(update_fields=["wake_at", "updated_at"])


def step_create(*, sequence: Sequence, actor: Any, data: Mapping[str, Any]) -> Step:
    """Append a step (``template`` id and ``day_offset`` required). Contacts already past the end of the sequence do
    not get it; contacts still in it get it in turn."""
    for name in ("template", "day_offset"):
        if name not in data:
            raise KithError("This field is required.", field=name)
    template = _template(sequence.workspace, data["template"])
    day_offset = _day_offset(data["day_offset"])
    with transaction.atomic():
        Sequence.objects.select_for_update().filter(pk=sequence.pk).first()
        steps = list(sequence.steps.order_by("position"))
        if len(steps) >= MAX_STEPS:
            raise KithError(f"A sequence has at most {MAX_STEPS} steps.", field="steps")
        position = (sequence.steps.aggregate(top=Max("position"))["top"] or 0) + 1
        step = Step(sequence=sequence, position=position, day_offset=day_offset, template=template)
        _check_days([*steps, step])
        step.save()
        audit_record(action="sequence.step_added", actor=actor, workspace=sequence.workspace, target=sequence,
                     after={"step": step.pk, "day_offset": day_offset, "template": template.pk})
    return step


def step_update(*, step: Step, actor: Any, data: Mapping[str, Any]) -> Step:
    """Change a step's ``template`` and/or ``day_offset``; enrollments waiting on it are re-timed."""
    sequence = step.sequence
    before = {"day_offset": step.day_offset, "template": step.template_id}
    if "template" in data:
        step.template = _template(sequence.workspace, data["template"])
    if "day_offset" in data:
        step.day_offset = _day_offset(data["day_offset"])
    with transaction.atomic():
        Sequence.objects.select_for_update().filter(pk=sequence.pk).first()
        _check_days([step if other.pk == step.pk else other for other in sequence.steps.order_by("position")])
        step.save()
        _reschedule(Enrollment.objects.filter(next_step=step, state=EnrollmentState.ACTIVE))
        after = {"day_offset": step.day_offset, "template": step.template_id}
        if after != before:
            audit_record(action="sequence.step_updated", actor=actor, workspace=sequence.workspace, target=sequence,
                         before={"step": step.pk, **before}, after={"step": step.pk, **after})
    return step


def step_delete(*, step: Step, actor: Any) -> None:
    """Delete a step; enrollments waiting on it move on to the following step (or complete). Its sent messages stay
    in the ledger."""
    sequence = step.sequence
    with transaction.atomic():
        Sequence.objects.select_for_update().filter(pk=sequence.pk).first()
        following = sequence.steps.filter(position__gt=step.position).order_by("position").first()
        waiting = Enrollment.objects.filter(next_step=step, state=EnrollmentState.ACTIVE)
        if following is None:
            waiting.update(state=EnrollmentState.COMPLETED, next_step=None, wake_at=None, finished_at=clock.now(),
                           updated_at=clock.now())
        else:
            ids = list(waiting.values_list("pk", flat=True))
            Enrollment.objects.filter(pk__in=ids).update(next_step=following)
            _reschedule(Enrollment.objects.filter(pk__in=ids))
        audit_record(action="sequence.step_deleted", actor=actor, workspace=sequence.workspace, target=sequence,
                     before={"step": step.pk, "day_offset": step.day_offset, "template": step.template_id})
        step.delete()


def steps_reorder(*, sequence: Sequence, actor: Any, order: Any) -> list[Step]:
    """Put the steps in the order of ``order`` (every step id of the sequence, once). Days must stay in order."""
    with transaction.atomic():
        Sequence.objects.select_for_update().filter(pk=sequence.pk).first()
        steps = {step.pk: step for step in sequence.steps.all()}
        if (not isinstance(order, list) or any(isinstance(i, bool) or not isinstance(i, int) for i in order)
                or sorted(order) != sorted(steps)):
            raise KithError("Give every step id of this sequence exactly once.", field="order")
        ordered = [steps[pk] for pk in order]
        _check_days(ordered)
        # Two passes: positions are unique per sequence, so move everyone out of the way first.
        top = max((s.position for s in ordered), default=0)
        for index, step in enumerate(ordered, start=1):
            Step.objects.filter(pk=step.pk).update(position=top + index)
        for index, step in enumerate(ordered, start=1):
            step.position = index
            Step.objects.filter(pk=step.pk).update(position=index)
        audit_record(action="sequence.steps_reordered", actor=actor, workspace=sequence.workspace, target=sequence,
                     after={"order": order})
    return ordered
