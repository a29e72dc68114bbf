"""Reads of drip sequences: lists, one sequence, its enrollments and its per-step statistics from the ledger."""

from __future__ import annotations

from typing import Any

from django.db.models import Count, Q, QuerySet

from kith.accounts.models import Membership, Workspace
from kith.contacts import selectors as contact_selectors
from kith.core.errors import NotFound
from kith.drips.models import Enrollment, EnrollmentState, Sequence, Step
from kith.messaging.models import Message, MessageStatus, SourceType

# Ledger states that mean the message left Kith (what "sent" counts).
SENT_STATES = (MessageStatus.SENT, MessageStatus.DELIVERED, MessageStatus.BOUNCED, MessageStatus.COMPLAINED)


MAX_ID = 2**63 - 1


def _valid_id(value: Any) -> int | None:
    """An id from a URL as an integer the database can compare (a 30-digit id is simply not found, never a 500)."""
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None
    return number if 1 <= number <= MAX_ID else None


def sequence_list(*, workspace: Workspace) -> QuerySet[Sequence]:
    return (Sequence.objects.for_workspace(workspace).select_related("segment", "goal_segment", "topic")
            .annotate(step_count=Count("steps", distinct=True)).order_by("-id"))


def sequence_get(*, workspace: Workspace, sequence_id: Any) -> Sequence:
    pk = _valid_id(sequence_id)
    sequence = None if pk is None else (
        Sequence.objects.for_workspace(workspace).select_related("workspace", "segment", "goal_segment", "topic")
        .filter(pk=pk).first())
    if sequence is None:
        raise NotFound("No such sequence.")
    return sequence


def step_list(*, sequence: Sequence) -> QuerySet[Step]:
    return sequence.steps.select_related("template").order_by("position")


def step_get(*, sequence: Sequence, step_id: Any) -> Step:
    pk = _valid_id(step_id)
    step = None if pk is None else step_list(sequence=sequence).filter(pk=pk).first()
    if step is None:
        raise NotFound("No such step in this sequence.")
    step.sequence = sequence
    return step


def enrollment_list(*, sequence: Sequence, membership: Membership | None,
                    state: str | None = None) -> QuerySet[Enrollment]:
    """The sequence's enrollments of contacts the member may see (a restricted rep sees their own), newest first."""
    queryset = Enrollment.objects.filter(sequence=sequence).select_related("contact", "next_step")
    if contact_selectors.sees_only_own(membership):
        assert membership is not None
        queryset = queryset.filter(contact__owner_id=membership.user_id)
    if state:
        queryset = queryset.filter(state=state)
    return queryset.order_by("-id")


def sequence_stats(*, sequence: Sequence) -> dict[str, Any]:
    """Per step: messages sent, opened, clicked (and their rates), suppressed; per state: enrollments. Two grouped
    queries over the ledger (joined to tracking's engagement rows) and the enrollments, whatever the number of
    steps."""
    steps = list(step_list(sequence=sequence))
    counts = {
        row["source_id"]: row for row in
        Message.objects.filter(workspace_id=sequence.workspace_id, source_type=SourceType.DRIP_STEP,
                               source_id__in=[str(step.pk) for step in steps])
        .values("source_id").order_by()
        .annotate(sent=Count("id", filter=Q(status__in=SENT_STATES)),
                  # Human opens and clicks from tracking (MessageEngagement, scanners excluded), or the provider's
                  # own open/click events recorded on the ledger row.
                  opened=Count("id", filter=Q(engagement__first_open_at__isnull=False) | Q(opened_at__isnull=False)),
                  clicked=Count("id", filter=Q(engagement__first_click_at__isnull=False)
                                | Q(clicked_at__isnull=False)),
                  suppressed=Count("id", filter=Q(status=MessageStatus.SUPPRESSED)),
                  queued=Count("id", filter=Q(status__in=[MessageStatus.QUEUED, MessageStatus.SENDING,
                                                           MessageStatus.DEFERRED])))
    }
    rows = []
    for step in steps:
        found = counts.get(str(step.pk), {})
        sent = found.get("sent", 0)
        rows.append({
            "step": step.pk, "position": step.position, "day_offset": step.day_offset,
            "template": step.template_id, "template_name": step.template.name,
            "sent": sent, "opened": found.get("opened", 0), "clicked": found.get("clicked", 0),
            "suppressed": found.get("suppressed", 0), "queued": found.get("queued", 0),
            "open_rate": round(found.get("opened", 0) / sent, 4) if sent else 0.0,
            "click_rate": round(found.get("clicked", 0) / sent, 4) if sent else 0.0,
        })
    states = dict(Enrollment.objects.filter(sequence=sequence).values("state").order_by()
                  .annotate(n=Count("id")).values_list("state", "n"))
    return {"steps": rows, "enrollments": {state: states.get(state, 0) for state in EnrollmentState.values}}
