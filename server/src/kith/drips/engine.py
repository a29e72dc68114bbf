"""The drip engine: enrolling contacts, sending due steps, taking contacts out.

**Due work lives in rows.** An active ``Enrollment`` has ``next_step`` and ``wake_at`` (when that step is due).
``drips_due_process`` (a periodic job, schedule.toml) reads due rows through the partial index ``enrollment_due_idx``
and takes each with one conditional UPDATE that moves ``wake_at`` to the end of a lease::

    UPDATE drips_enrollment SET wake_at = :now + lease WHERE id = :id AND state = 'active' AND wake_at = :seen

One row updated means this runner owns the enrollment until the lease ends; zero means another runner took it or it
changed. The owner then, in one transaction: checks that the contact may still get marketing (``marketing_recipients``
with the sequence's topic) and has not reached the goal, inserts the step's ledger row with ``message_queue``
(``SourceType.DRIP_STEP``, ``source_id`` = the step id; unique per contact, so a step can never be sent twice even if
two runners or a retry got this far), and moves ``next_step``/``wake_at`` to the following step. A runner that dies
after the claim leaves ``wake_at`` at the lease end, so another run picks the enrollment up then: an outage or a
crash delays a step, never loses it, and a step is only ever queued at or after its due time.

After an outage the steps that came due meanwhile are sent by the next pass, one after another in step order (the
following step becomes due only once the previous one is queued).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from collections.abc import Collection
from collections.abc import Sequence as Seq
from typing import Any

from django.db import transaction
from django.db.models import Q

from kith.accounts.models import Workspace
from kith.contacts.models import Contact
from kith.core import clock
from kith.core.errors import KithError
from kith.core.jobs import job
from kith.drips import timing
from kith.drips.models import Enrollment, EnrollmentState, ExitReason, Sequence, Step
from kith.events.models import Event, EventType
from kith.messaging.models import SourceType
from kith.messaging.services import message_queue
from kith.preferences.selectors import marketing_recipients
from kith.segments import selectors as segment_selectors
from kith.segments.errors import InvalidSegment
from kith.segments.models import SegmentMembership

logger = logging.getLogger(__name__)

# How long a runner owns a claimed enrollment: far longer than one step takes (a few queries and one INSERT), so a
# live runner never loses its row; a dead runner's enrollments are picked up again this long after the claim.
CLAIM_LEASE = dt.timedelta(minutes=10)
# Due enrollments read per query; a pass keeps reading until nothing is due or the pass budget is spent.
DUE_BATCH = 500
MAX_PASS_SECONDS = 240
ENROLL_BATCH = 1000


# --- enrolling -----------------------------------------------------------------------------------------------------


def _zone(contact_timezone: str, workspace: Workspace) -> Any:
    return timing.zone_for(contact_timezone=contact_timezone, workspace_timezone=workspace.timezone)


def first_step(sequence: Sequence) -> Step | None:
    return sequence.steps.order_by("position").first()


def drip_enroll(*, sequence: Sequence, contact_ids: Collection[int], now: dt.datetime | None = None) -> list[int]:
    """Enroll these contacts of the sequence's workspace who may get marketing and were never enrolled before; returns
    the ids enrolled. An inactive sequence or one without steps enrolls nobody. Idempotent (unique per contact)."""
    if not sequence.is_active or not contact_ids:
        return []
    step = first_step(sequence)
    if step is None:
        return []
    now = now or clock.now()
    workspace = sequence.workspace
    enrolled: list[int] = []
    ids = sorted({int(pk) for pk in contact_ids})
    for start in range(0, len(ids), ENROLL_BATCH):
        chunk = ids[start:start + ENROLL_BATCH]
        eligible = (marketing_recipients(workspace=workspace, topic=sequence.topic).filter(pk__in=chunk)
                    .exclude(drip_enrollments__sequence=sequence).values_list("pk", "timezone"))
        rows = []
        for contact_id, contact_timezone in eligible:
            zone = _zone(contact_timezone, workspace)
            anchor = timing.anchor_date(enrolled_at=now, send_time=sequence.send_time, zone=zone)
            rows.append(Enrollment(
                workspace=workspace, sequence=sequence, contact_id=contact_id, enrolled_at=now, anchor_date=anchor,
                next_step=step, wake_at=timing.step_due_at(anchor=anchor, day_offset=step.day_offset,
                                                           send_time=sequence.send_time, zone=zone)))
        with transaction.atomic():
            Enrollment.objects.bulk_create(rows, ignore_conflicts=True)
        enrolled.extend(row.contact_id for row in rows)
    return enrolled


def drip_exit(*, enrollments: Any, reason: str, now: dt.datetime | None = None) -> int:
    """End these enrollments (a queryset) if still active; returns how many. One UPDATE."""
    return enrollments.filter(state=EnrollmentState.ACTIVE).update(
        state=EnrollmentState.EXITED, exit_reason=reason, wake_at=None, next_step=None,
        finished_at=now or clock.now(), updated_at=clock.now())


def _segment_matches(sequence: Sequence, contact_ids: Collection[int]) -> set[int]:
    """Which of ``contact_ids`` are in the sequence's segment right now (evaluated live, one query)."""
    assert sequence.segment is not None
    try:
        condition = segment_selectors.segment_condition(workspace=sequence.workspace,
                                                        definition=sequence.segment.definition,
                                                        segment_id=sequence.segment_id)
    except InvalidSegment:
        return set()
    return set(Contact.objects.filter(workspace=sequence.workspace, pk__in=list(contact_ids)).filter(condition)
               .values_list("pk", flat=True))


# --- hook subscribers ----------------------------------------------------------------------------------------------


def on_segment_membership_changed(*, workspace: Any, segment_id: int, entered: Seq[int], left: Seq[int]) -> None:
    """Contacts entering an active sequence's audience segment enroll (sequences that also have an enrolling event
    enroll on the event instead); contacts entering a goal segment leave. Runs after the membership commit."""
    if not entered:
        return
    sequences = Sequence.objects.filter(workspace=workspace, is_active=True).filter(
        Q(segment_id=segment_id, enroll_event="") | Q(goal_segment_id=segment_id)).select_related(
        "workspace", "segment", "topic")
    for sequence in sequences:
        if sequence.goal_segment_id == segment_id:
            drip_exit(enrollments=Enrollment.objects.filter(sequence=sequence, contact_id__in=list(entered)),
                      reason=ExitReason.GOAL)
        if sequence.segment_id == segment_id and not sequence.enroll_event:
            drip_enroll(sequence=sequence, contact_ids=entered)


def on_events_processed(*, workspace: Any, event_ids: Seq[int]) -> None:
    """Inside the event chunk's transaction: exit events end enrollments, enrolling events enroll (into sequences
    with a segment too, only contacts in it). Cheap when the workspace has no active sequence (one query)."""
    sequences = list(Sequence.objects.filter(workspace=workspace, is_active=True)
                     .select_related("workspace", "segment", "topic"))
    if not sequences or not event_ids:
        return
    names = {s.enroll_event for s in sequences if s.enroll_event} | {n for s in sequences for n in s.exit_events}
    if not names:
        return
    by_name: dict[str, set[int]] = defaultdict(set)
    for contact_id, name in (Event.objects.filter(workspace=workspace, pk__in=list(event_ids), type=EventType.TRACK,
                                                  name__in=names, contact__isnull=False)
                             .values_list("contact_id", "name")):
        by_name[name].add(contact_id)
    if not by_name:
        return
    for sequence in sequences:
        leaving = set().union(*(by_name.get(name, set()) for name in sequence.exit_events))
        if leaving:
            drip_exit(enrollments=Enrollment.objects.filter(sequence=sequence, contact_id__in=leaving),
                      reason=ExitReason.EXIT_EVENT)
        joining = by_name.get(sequence.enroll_event, set()) - leaving if sequence.enroll_event else set()
        if joining and sequence.segment_id is not None:
            joining &= _segment_matches(sequence, joining)
        if joining:
            drip_enroll(sequence=sequence, contact_ids=joining)


def on_contacts_changed(*, workspace: Any, contact_ids: Collection[int]) -> None:
    """Inside a contact write: contacts who can no longer get marketing (opted out of e-mail, suppressed, opted out
    of the sequence's topic) leave their active sequences at once, rather than at their next step."""
    active = list(Enrollment.objects.filter(workspace=workspace, contact_id__in=list(contact_ids),
                                            state=EnrollmentState.ACTIVE)
                  .select_related("sequence", "sequence__topic").order_by("id"))
    by_sequence: dict[int, list[Enrollment]] = defaultdict(list)
    for enrollment in active:
        by_sequence[enrollment.sequence_id].append(enrollment)
    for rows in by_sequence.values():
        sequence = rows[0].sequence
        ids = {row.contact_id for row in rows}
        allowed = set(marketing_recipients(workspace=workspace, topic=sequence.topic).filter(pk__in=ids)
                      .values_list("pk", flat=True))
        if ids - allowed:
            drip_exit(enrollments=Enrollment.objects.filter(pk__in=[r.pk for r in rows if r.contact_id not in allowed]),
                      reason=ExitReason.UNSUBSCRIBED)


# --- sending -------------------------------------------------------------------------------------------------------


def _claim(enrollment_id: int, seen: dt.datetime, now: dt.datetime) -> dt.datetime | None:
    lease_until = now + CLAIM_LEASE
    taken = Enrollment.objects.filter(pk=enrollment_id, state=EnrollmentState.ACTIVE, wake_at=seen).update(
        wake_at=lease_until)
    return lease_until if taken else None


def _following(step: Step) -> Step | None:
    return Step.objects.filter(sequence_id=step.sequence_id, position__gt=step.position).order_by("position").first()


def drip_step_send(*, enrollment_id: int, lease_until: dt.datetime, now: dt.datetime) -> str:
    """Send the claimed enrollment's due step and schedule the next one (one transaction). Returns what happened:
    ``sent``, ``completed``, ``exited`` or ``lost`` (the claim is no longer ours)."""
    with transaction.atomic():
        enrollment = (Enrollment.objects.select_for_update(of=("self",))
                      .select_related("sequence", "sequence__workspace", "sequence__topic", "next_step",
                                      "next_step__template", "contact")
                      .filter(pk=enrollment_id, state=EnrollmentState.ACTIVE, wake_at=lease_until).first())
        if enrollment is None:
            return "lost"
        sequence, step, workspace = enrollment.sequence, enrollment.next_step, enrollment.sequence.workspace
        if not marketing_recipients(workspace=workspace, topic=sequence.topic).filter(
                pk=enrollment.contact_id).exists():
            drip_exit(enrollments=Enrollment.objects.filter(pk=enrollment.pk), reason=ExitReason.UNSUBSCRIBED, now=now)
            return "exited"
        if sequence.goal_segment_id is not None and SegmentMembership.objects.filter(
                segment_id=sequence.goal_segment_id, contact_id=enrollment.contact_id).exists():
            drip_exit(enrollments=Enrollment.objects.filter(pk=enrollment.pk), reason=ExitReason.GOAL, now=now)
            return "exited"
        if step is None:
            step = _step_after_deleted(enrollment)
        if step is not None:
            try:
                message_queue(workspace=workspace, template=step.template, contact=enrollment.contact,
                              source_type=SourceType.DRIP_STEP, source_id=str(step.pk))
            except KithError as exc:
                # A template without content or a contact without an address: this step is skipped for the
                # contact (logged), the sequence goes on.
                logger.warning("drips: step %s skipped for contact %s: %s", step.pk, enrollment.contact_id, exc)
            step = _following(step)
        return _advance(enrollment, step, now)


def _step_after_deleted(enrollment: Enrollment) -> Step | None:
    """``next_step`` was deleted under the enrollment (services re-point waiting enrollments, so this is only a
    race): continue with the first step not yet sent to the contact."""
    from_ledger = set(enrollment.contact.messages.filter(source_type=SourceType.DRIP_STEP)
                      .values_list("source_id", flat=True))
    for step in Step.objects.filter(sequence_id=enrollment.sequence_id).select_related("template").order_by("position"):
        if str(step.pk) not in from_ledger:
            return step
    return None


def _advance(enrollment: Enrollment, step: Step | None, now: dt.datetime) -> str:
    if step is None:
        enrollment.state, enrollment.next_step, enrollment.wake_at, enrollment.finished_at = (
            EnrollmentState.COMPLETED, None, None, now)
        enrollment.save(update_fields=["state", "next_step", "wake_at", "finished_at", "updated_at"])
        return "completed"
    zone = _zone(enrollment.contact.timezone, enrollment.sequence.workspace)
    enrollment.next_step = step
    enrollment.wake_at = timing.step_due_at(anchor=enrollment.anchor_date, day_offset=step.day_offset,
                                            send_time=enrollment.sequence.send_time, zone=zone)
    enrollment.save(update_fields=["next_step", "wake_at", "updated_at"])
    return "sent"


def drips_due_process(*, now: dt.datetime | None = None, budget_seconds: float = MAX_PASS_SECONDS) -> int:
    """Send every step that is due at ``now`` (default: the clock), including steps that became due during an
    outage, in order. Returns how many enrollments were advanced. Safe to run in several processes at once."""
    started = clock.now()
    now = now or started
    advanced = 0
    while True:
        due = list(Enrollment.objects.filter(state=EnrollmentState.ACTIVE, wake_at__lte=now,
                                             sequence__is_active=True)
                   .order_by("wake_at", "id").values_list("pk", "wake_at")[:DUE_BATCH])
        if not due:
            return advanced
        for enrollment_id, seen in due:
            lease_until = _claim(enrollment_id, seen, now)
            if lease_until is None:
                continue
            # A step that came due during an outage leaves the next one due too: the next read picks it up.
            if drip_step_send(enrollment_id=enrollment_id, lease_until=lease_until, now=now) != "lost":
                advanced += 1
        if (clock.now() - started).total_seconds() > budget_seconds:
            return advanced


@job(lease_seconds=600)
def drips_due_process_task() -> int:
    """Periodic (schedule.toml): send the drip steps that are due."""
    return drips_due_process()


@job(lease_seconds=1800)
def drips_enroll_reconcile() -> int:
    """Periodic (schedule.toml): enroll members of active sequences' audience segments who entered after the
    sequence was switched on but were missed (the after-commit membership hook is lost if a process dies between
    the commit and the call). Reads membership rows against enrollments; normally finds nobody."""
    enrolled = 0
    for sequence in (Sequence.objects.filter(is_active=True, segment__isnull=False, enroll_event="")
                     .select_related("workspace", "segment", "topic")):
        missed = (SegmentMembership.objects.filter(segment_id=sequence.segment_id,
                                                   entered_at__gte=sequence.activated_at)
                  .exclude(contact__drip_enrollments__sequence=sequence).values_list("contact_id", flat=True))
        enrolled += len(drip_enroll(sequence=sequence, contact_ids=list(missed[:10_000])))
    return enrolled
