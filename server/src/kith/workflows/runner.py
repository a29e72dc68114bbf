"""The durable runner: claim a due run, execute its steps until it waits or ends, one transaction per step.

A run is claimed with one conditional UPDATE (``waiting`` and due, or ``running`` with an expired lease →
``running`` with a new lease and ``lease_token + 1``). Each step then runs in its own transaction that

1. re-reads the run ``FOR UPDATE`` *conditioned on the token* (a worker that lost its lease stops here),
2. makes the step's effect (``kith.workflows.steps``; database writes only — messages and webhooks are rows),
3. inserts the ``RunStep`` row (unique per run and visit), and
4. advances the run (next step, or waiting with ``wake_at``, or finished).

All four commit together or not at all. A worker killed mid-step leaves uncommitted work only; once the lease has
expired, ``workflow_runs_due`` claims the run again and executes the same visit again, for the first time as far
as the database knows. Hence "at most once per run": a step's effect exists only with its ``RunStep`` row.

A step that raises rolls back; the run records the error and waits ``BACKOFF[attempt]`` before the same step is
tried again, and after ``MAX_ATTEMPTS`` failed attempts it is parked as ``failed`` with the error.
"""

from __future__ import annotations

import datetime as dt
import logging
import traceback

from django.db import transaction
from django.db.models import F, Q

from kith.contacts.models import Contact
from kith.core import clock
from kith.core.jobs import enqueue_on_commit, job
from kith.workflows.models import Run, RunState, RunStep, RunStepState
from kith.workflows.steps import EXECUTORS, StepContext

logger = logging.getLogger(__name__)

# A step takes milliseconds (its effects are rows); five minutes covers a slow database with a wide margin and is
# how long a run whose worker died stays stuck before another worker takes it over.
LEASE = dt.timedelta(minutes=5)
MAX_ATTEMPTS = 5
# Retry waits after the 1st, 2nd, ... failed attempt: a deleted template or a briefly failing database either
# fixes itself within the hour or needs a person, who then sees the run parked as failed.
BACKOFF = (dt.timedelta(seconds=30), dt.timedelta(minutes=2), dt.timedelta(minutes=10), dt.timedelta(hours=1))
# Steps executed per claim before the run is handed back (due at once): bounds one job's time on a long flow.
MAX_STEPS_PER_CLAIM = 100
# Runs claimed per sweep; a full batch rings the sweep again at once instead of waiting for the next period.
DUE_BATCH = 500
# Waits shorter than this also get a doorbell job at wake_at; longer ones rely on the periodic sweep alone, which
# is how a thirty-day wait costs one row and no queue message.
DOORBELL_HORIZON = dt.timedelta(hours=1)
MAX_ERROR_CHARS = 4000


class LeaseLost(Exception):
    """Another worker claimed the run (our lease ran out); stop without writing."""


def run_claim(*, run_id: int, now: dt.datetime) -> int | None:
    """Take the run if it is due (or its worker's lease expired); return the new lease token, or None."""
    due = Q(state=RunState.WAITING, wake_at__lte=now) | Q(state=RunState.RUNNING, lease_until__lt=now)
    claimed = Run.objects.filter(due, pk=run_id).update(state=RunState.RUNNING, lease_until=now + LEASE,
                                                         lease_token=F("lease_token") + 1)
    if not claimed:
        return None
    return Run.objects.filter(pk=run_id).values_list("lease_token", flat=True).get()


def run_advance(*, run_id: int) -> bool:
    """Claim the run and execute steps until it waits, finishes or fails an attempt. False if it was not due or
    is held by another worker."""
    token = run_claim(run_id=run_id, now=clock.now())
    if token is None:
        return False
    for _ in range(MAX_STEPS_PER_CLAIM):
        try:
            more = _step_execute(run_id, token)
        except LeaseLost:
            logger.warning("workflows: lost the lease of run %s; another worker has it", run_id)
            return True
        except Exception as exc:
            logger.exception("workflows: a step of run %s failed", run_id)
            _attempt_failed(run_id, token, exc)
            return True
        if not more:
            return True
    # A long chain of instant steps: hand the run back, due now, so other runs get their turn.
    Run.objects.filter(pk=run_id, lease_token=token, state=RunState.RUNNING).update(
        state=RunState.WAITING, wake_at=clock.now(), lease_until=None)
    enqueue_on_commit(workflow_run_task, run_id=run_id)
    return True


def _locked(run_id: int, token: int) -> Run:
    run = (Run.objects.select_for_update(of=("self",)).select_related("workflow__workspace", "version")
           .filter(pk=run_id, lease_token=token, state=RunState.RUNNING).first())
    if run is None:
        raise LeaseLost
    return run


def _finish(run: Run, state: str, now: dt.datetime) -> None:
    run.state, run.finished_at, run.wake_at, run.lease_until = state, now, None, None
    run.waiting_for_event = ""
    run.save()


@transaction.atomic
def _step_execute(run_id: int, token: int) -> bool:
    """Execute the run's current step in one transaction; True if the run goes straight on to another step."""
    run = _locked(run_id, token)
    now = clock.now()
    if run.goal_reached_at is not None:
        _finish(run, RunState.GOAL_REACHED, now)
        return False
    if not run.current_step:
        _finish(run, RunState.COMPLETED, now)
        return False
    steps = {step["id"]: step for step in run.version.definition["steps"]}
    step = steps.get(run.current_step)
    if step is None:
        raise RuntimeError(f"Step {run.current_step!r} is not in version {run.version.number} of the workflow.")
    contact = Contact.objects.get(pk=run.contact_id)
    outcome = EXECUTORS[step["kind"]](StepContext(run=run, workflow=run.workflow, contact=contact, step=step,
                                                  now=now))
    state = (RunStepState.WAITING if outcome.waiting_for_event else
             RunStepState.SKIPPED if outcome.skipped else RunStepState.DONE)
    # The unique (run, step, visit) key: if this visit had committed before, this INSERT fails and so does the
    # whole step, effect included. It cannot have (the run row would have moved on), but the key says so in the
    # schema rather than in this comment.
    RunStep.objects.create(run=run, step_id=step["id"], seq=run.seq, kind=step["kind"], state=state,
                           attempts=run.attempts + 1, result=outcome.result, executed_at=now)
    run.seq += 1
    run.attempts, run.last_error = 0, ""
    run.waiting_for_event, run.event_arrived_at = outcome.waiting_for_event, None
    if outcome.exit:
        _finish(run, RunState.EXITED, now)
        return False
    if outcome.wake_at is not None:
        run.current_step = outcome.next_step or ""
        run.state, run.wake_at, run.lease_until = RunState.WAITING, outcome.wake_at, None
        run.save()
        if outcome.wake_at - now <= DOORBELL_HORIZON:
            enqueue_on_commit(workflow_run_task, run_at=outcome.wake_at, run_id=run.pk)
        return False
    if outcome.next_step is None:
        run.current_step = ""
        _finish(run, RunState.COMPLETED, now)
        return False
    run.current_step = outcome.next_step
    run.save()
    return True


def backoff(attempts: int) -> dt.timedelta:
    return BACKOFF[min(attempts, len(BACKOFF)) - 1]


@transaction.atomic
def _attempt_failed(run_id: int, token: int, exc: Exception) -> None:
    try:
        run = _locked(run_id, token)
    except LeaseLost:
        return
    now = clock.now()
    run.attempts += 1
    run.last_error = "".join(traceback.format_exception_only(type(exc), exc)).strip()[:MAX_ERROR_CHARS]
    if run.attempts >= MAX_ATTEMPTS:
        RunStep.objects.create(run=run, step_id=run.current_step, seq=run.seq,
                               kind=_kind(run), state=RunStepState.FAILED, attempts=run.attempts,
                               result={"error": run.last_error}, executed_at=now)
        run.seq += 1
        _finish(run, RunState.FAILED, now)
        return
    run.state, run.wake_at, run.lease_until = RunState.WAITING, now + backoff(run.attempts), None
    run.save()
    enqueue_on_commit(workflow_run_task, run_at=run.wake_at, run_id=run.pk)


def _kind(run: Run) -> str:
    for step in run.version.definition["steps"]:
        if step["id"] == run.current_step:
            return str(step["kind"])
    return ""


def runs_due_ids(*, now: dt.datetime, workspace_id: int | None = None, limit: int = DUE_BATCH) -> list[int]:
    """Runs to claim: waiting and due (the ``run_due`` partial index), then running with an expired lease."""
    waiting = Run.objects.filter(state=RunState.WAITING, wake_at__lte=now)
    stale = Run.objects.filter(state=RunState.RUNNING, lease_until__lt=now)
    if workspace_id is not None:
        waiting, stale = waiting.filter(workspace_id=workspace_id), stale.filter(workspace_id=workspace_id)
    ids = list(waiting.order_by("wake_at").values_list("pk", flat=True)[:limit])
    ids += list(stale.order_by("lease_until").values_list("pk", flat=True)[:limit - len(ids)])
    return ids


def runs_advance_due(*, workspace_id: int | None = None) -> int:
    """Advance every due run (up to ``DUE_BATCH``); returns how many were advanced."""
    ids = runs_due_ids(now=clock.now(), workspace_id=workspace_id)
    advanced = sum(1 for run_id in ids if run_advance(run_id=run_id))
    if len(ids) >= DUE_BATCH:
        enqueue_on_commit(workflow_runs_wake, workspace_id=workspace_id or 0)
    return advanced


@job(lease_seconds=900)
def workflow_runs_due() -> int:
    """Periodic (schedule.toml): the clock of every wait. Claims due runs of all workspaces."""
    return runs_advance_due()


@job(lease_seconds=900)
def workflow_runs_wake(*, workspace_id: int) -> int:
    """Doorbell after enrollment or an awaited event: advance the workspace's due runs now (0: all)."""
    return runs_advance_due(workspace_id=workspace_id or None)


@job
def workflow_run_task(*, run_id: int) -> bool:
    """Doorbell for one run (a short wait ending, a retry); a no-op if the run is not due or already taken."""
    return run_advance(run_id=run_id)
