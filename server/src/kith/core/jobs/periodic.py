"""Periodic jobs: turning ``schedule.toml`` entries into job rows.

The embedded runner keeps each entry's next slot in ``ScheduleState`` and takes a slot with a conditional UPDATE
(``... SET next_run_at = new WHERE name = X AND next_run_at = old``): when several embedded workers see the same
due slot, exactly one UPDATE matches, and only that worker inserts the job row. Under Celery, beat is the one clock
and ``periodic_job_create`` is called by the ``kith.jobs.periodic`` task for each beat message.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from django.db import transaction

from kith.core.jobs.models import Job, ScheduleState
from kith.core.jobs.registry import job_function_get
from kith.core.jobs.runner import job_row_create
from kith.core.jobs.schedule import PeriodicJob


@dataclass(frozen=True)
class ScheduleSlot:
    entry: PeriodicJob
    due_at: dt.datetime  # ScheduleState.next_run_at as read: the value the claiming UPDATE is conditioned on


def periodic_job_create(*, name: str, now: dt.datetime) -> Job:
    """A queued, due row for periodic job ``name`` (no arguments: periodic jobs find their own work)."""
    return job_row_create(function=job_function_get(name), kwargs={}, run_at=now)


def periodic_slots_due(*, entries: Sequence[PeriodicJob], now: dt.datetime) -> list[ScheduleSlot]:
    """The entries whose next slot has come. A new entry is due at once, then every ``every`` after that."""
    by_name = {entry.name: entry for entry in entries}
    known = dict(ScheduleState.objects.filter(name__in=by_name).values_list("name", "next_run_at"))
    missing = [ScheduleState(name=name, next_run_at=now) for name in by_name if name not in known]
    if missing:
        # Two workers starting together both insert; the unique name keeps one row and the other insert is ignored.
        ScheduleState.objects.bulk_create(missing, ignore_conflicts=True)
        known = dict(ScheduleState.objects.filter(name__in=by_name).values_list("name", "next_run_at"))
    return [ScheduleSlot(entry=by_name[name], due_at=due_at) for name, due_at in known.items() if due_at <= now]


def _next_slot(*, slot: ScheduleSlot, now: dt.datetime) -> dt.datetime:
    # The first slot after now on the entry's original grid: a runner that was down for several periods runs the
    # job once, not once per missed slot, and keeps its cadence aligned.
    missed_periods = (now - slot.due_at) // slot.entry.every
    return slot.due_at + slot.entry.every * (missed_periods + 1)


def periodic_slot_claim(*, slot: ScheduleSlot, now: dt.datetime) -> Job | None:
    """Take ``slot`` and insert its job row, or return ``None`` if another worker took it first."""
    with transaction.atomic():
        # The slot and its row commit together: a crash cannot advance the schedule without leaving the row.
        taken = ScheduleState.objects.filter(name=slot.entry.name, next_run_at=slot.due_at).update(
            next_run_at=_next_slot(slot=slot, now=now)
        )
        if not taken:
            return None
        return periodic_job_create(name=slot.entry.name, now=now)


def periodic_tick(*, entries: Sequence[PeriodicJob], now: dt.datetime) -> list[Job]:
    """Queue a row for every periodic job whose slot has come and that no other worker took first."""
    created = []
    for slot in periodic_slots_due(entries=entries, now=now):
        row = periodic_slot_claim(slot=slot, now=now)
        if row is not None:
            created.append(row)
    return created
