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

Wake-ups are claimed in batches (``runs_claim_due``: one ``UPDATE … FOR UPDATE SKIP LOCKED … RETURNING``, so
concurrent wake jobs take disjoint batches) and a batch executes one step of every run per transaction
(``_steps_execute_batch``): the four points above hold for each run, they just commit for many runs at once. If any
step of a batch raises, the batch rolls back and is redone one run per transaction, where the failing run alone
records its attempt.

A step that raises rolls back; the run records the error and waits ``BACKOFF[attempt]`` before the same step is
tried again, and after ``MAX_ATTEMPTS`` failed attempts it is parked as ``failed`` with the error.
"""

from __future__ import annotations

import datetime as dt
import logging
import traceback
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.db import connection, transaction
from django.db.models import F, Q

from kith.contacts.models import Contact
from kith.core import clock
from kith.core.jobs import enqueue_on_commit, job
from kith.workflows.models import (
    Run,
    RunState,
    RunStep,
    RunStepState,
    Workflow,
    WorkflowVersion,
)
from kith.workflows.steps import EXECUTORS, BatchEffects, StepContext

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
# Runs claimed per wake job, executed a step per run per transaction (see _steps_execute_batch). A full batch rings
# another wake job first, so the backlog fans out over the workers. 250 amortizes the per-transaction cost (one
# lock query, one INSERT of RunSteps, one UPDATE of runs) while holding its row locks for well under a second.
DUE_BATCH = 250
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
    runs_advance_claimed(claims=[(run_id, token)])
    return True


@dataclass
class _Applied:
    """What one step did to a run held in memory: the RunStep row to insert, whether the run goes straight on to
    another step, and when to ring it if it now waits briefly."""

    step_row: RunStep | None
    more: bool
    doorbell_at: dt.datetime | None = None


def _locked(run_id: int, token: int) -> Run:
    run = (Run.objects.select_for_update(of=("self",)).select_related("workflow__workspace", "version")
           .filter(pk=run_id, lease_token=token, state=RunState.RUNNING).first())
    if run is None:
        raise LeaseLost
    return run


def _finish(run: Run, state: str, now: dt.datetime) -> None:
    run.state, run.finished_at, run.wake_at, run.lease_until = state, now, None, None
    run.waiting_for_event = ""


# The run columns a step changes (the batch path writes them with one bulk UPDATE).
_RUN_FIELDS = ["state", "finished_at", "wake_at", "lease_until", "waiting_for_event", "event_arrived_at",
               "current_step", "seq", "attempts", "last_error", "updated_at"]


def _step_apply(run: Run, contact: Contact, now: dt.datetime, *,
                versions: dict[int, dict[str, Any]] | None = None, batch: BatchEffects | None = None) -> _Applied:
    """Execute the run's current step on the locked ``run`` (in memory; the caller saves it and inserts the
    returned ``RunStep``, in the same transaction as the step's effect)."""
    run.updated_at = now
    if run.goal_reached_at is not None:
        _finish(run, RunState.GOAL_REACHED, now)
        return _Applied(step_row=None, more=False)
    if not run.current_step:
        _finish(run, RunState.COMPLETED, now)
        return _Applied(step_row=None, more=False)
    step = _version_steps(run.version, {} if versions is None else versions).get(run.current_step)
    if step is None:
        raise RuntimeError(f"Step {run.current_step!r} is not in version {run.version.number} of the workflow.")
    outcome = EXECUTORS[step["kind"]](StepContext(run=run, workflow=run.workflow, contact=contact, step=step,
                                                  now=now, batch=batch))
    state = (RunStepState.WAITING if outcome.waiting_for_event else
             RunStepState.SKIPPED if outcome.skipped else RunStepState.DONE)
    # The unique (run, step, visit) key: if this visit had committed before, this INSERT fails and so does the
    # whole step, effect included. It cannot have (the run row would have moved on), but the key says so in the
    # schema rather than in this comment.
    row = RunStep(run=run, step_id=step["id"], seq=run.seq, kind=step["kind"], state=state,
                  attempts=run.attempts + 1, result=outcome.result, executed_at=now)
    run.seq += 1
    run.attempts, run.last_error = 0, ""
    run.waiting_for_event, run.event_arrived_at = outcome.waiting_for_event, None
    if outcome.exit:
        _finish(run, RunState.EXITED, now)
        return _Applied(step_row=row, more=False)
    if outcome.wake_at is not None:
        run.current_step = outcome.next_step or ""
        run.state, run.wake_at, run.lease_until = RunState.WAITING, outcome.wake_at, None
        doorbell = outcome.wake_at if outcome.wake_at - now <= DOORBELL_HORIZON else None
        return _Applied(step_row=row, more=False, doorbell_at=doorbell)
    if outcome.next_step is None:
        run.current_step = ""
        _finish(run, RunState.COMPLETED, now)
        return _Applied(step_row=row, more=False)
    run.current_step = outcome.next_step
    return _Applied(step_row=row, more=True)


def _version_steps(version: WorkflowVersion, cache: dict[int, dict[str, Any]]) -> dict[str, Any]:
    """The steps of a version by id, built once per ``cache`` (one batch: a thousand runs of one workflow read the
    definition once, not a thousand times)."""
    steps = cache.get(version.pk)
    if steps is None:
        steps = cache[version.pk] = {step["id"]: step for step in version.definition["steps"]}
    return steps


@transaction.atomic
def _step_execute(run_id: int, token: int) -> bool:
    """Execute the run's current step in one transaction; True if the run goes straight on to another step."""
    run = _locked(run_id, token)
    now = clock.now()
    applied = _step_apply(run, Contact.objects.get(pk=run.contact_id), now)
    if applied.step_row is not None:
        applied.step_row.save(force_insert=True)
    run.save()
    if applied.doorbell_at is not None:
        enqueue_on_commit(workflow_run_task, run_at=applied.doorbell_at, run_id=run.pk)
    return applied.more


@transaction.atomic
def _steps_execute_batch(pending: dict[int, int]) -> dict[int, int]:
    """One step of each claimed run (``run id → lease token``) in **one** transaction: the runs are locked with
    one query (token-checked, as ``_locked`` does), their contacts read with one, the ``RunStep`` rows inserted
    with one and the runs advanced with one UPDATE. Every step's effect still commits together with its row and
    its run's advance — only many of them at once, which is what lets a wake-up of 100,000 runs go at thousands
    of steps a second. Returns the runs that go straight on to another step. Raises if any step raises (the
    caller then redoes the batch one run at a time, so one bad run cannot hold the others back)."""
    now = clock.now()
    runs = [run for run in (Run.objects.select_for_update().filter(pk__in=list(pending), state=RunState.RUNNING)
                            .order_by("pk"))
            if run.lease_token == pending[run.pk]]
    # The workflows (with their workspace) and versions of a batch are a handful of rows shared by hundreds of
    # runs: read once and attached, rather than joined and instantiated again for every run.
    workflows = Workflow.objects.select_related("workspace").in_bulk({run.workflow_id for run in runs})
    version_rows = WorkflowVersion.objects.in_bulk({run.version_id for run in runs})
    for run in runs:
        run.workflow, run.version = workflows[run.workflow_id], version_rows[run.version_id]
    contacts = Contact.objects.in_bulk({run.contact_id for run in runs})
    rows: list[RunStep] = []
    more: dict[int, int] = {}
    doorbells: set[tuple[int, dt.datetime]] = set()
    seen: set[int] = set()
    done: list[Run] = []
    versions: dict[int, dict[str, Any]] = {}
    effects = BatchEffects()
    for run in runs:
        if run.contact_id in seen:
            # A second run of the same contact: its step may read what the first one just wrote through another
            # in-memory copy, so it goes in the next round instead.
            more[run.pk] = run.lease_token
            continue
        seen.add(run.contact_id)
        applied = _step_apply(run, contacts[run.contact_id], now, versions=versions, batch=effects)
        done.append(run)
        if applied.step_row is not None:
            rows.append(applied.step_row)
        if applied.more:
            more[run.pk] = run.lease_token
        if applied.doorbell_at is not None:
            # One wake-up per workspace and second, not one job per run: the runs of a batch that entered the
            # same wait share it (the wake claims every due run of the workspace).
            ceiling = applied.doorbell_at.replace(microsecond=0) + dt.timedelta(seconds=1)
            doorbells.add((run.workspace_id, ceiling))
    effects.flush()
    RunStep.objects.bulk_create(rows)
    _runs_save(done)
    for workspace_id, at in sorted(doorbells, key=lambda item: item[1]):
        enqueue_on_commit(workflow_runs_wake, run_at=at, workspace_id=workspace_id)
    return more


def _runs_save(runs: Sequence[Run]) -> None:
    """Write the step's changes of many runs: one UPDATE per distinct set of new values. The runs of a batch mostly
    moved alike (all woke into the same next step), so this is one or a few statements, where Django's
    ``bulk_update`` would build a CASE expression per field and row — measured at three quarters of a batch's time."""
    groups: dict[tuple[Any, ...], list[int]] = {}
    for run in runs:
        groups.setdefault(tuple(getattr(run, name) for name in _RUN_FIELDS), []).append(run.pk)
    for values, ids in groups.items():
        Run.objects.filter(pk__in=ids).update(**dict(zip(_RUN_FIELDS, values, strict=True)))


def runs_advance_claimed(*, claims: Sequence[tuple[int, int]]) -> int:
    """Execute claimed runs (``(run id, lease token)``) until each waits, finishes or fails an attempt; rounds of
    one step per run, each round one transaction (``_steps_execute_batch``). A round that fails is redone one run
    at a time: there a failing step rolls back alone and its run records the attempt. Returns how many runs."""
    pending = dict(claims)
    for _ in range(MAX_STEPS_PER_CLAIM):
        if not pending:
            return len(claims)
        if len(pending) > 1:
            try:
                pending = _steps_execute_batch(pending)
                continue
            except Exception:
                logger.warning("workflows: a batch of %d runs failed; executing them one at a time",
                               len(pending), exc_info=True)
        pending = _steps_execute_each(pending)
    # A long chain of instant steps: hand the runs back, due now, so other runs get their turn.
    for run_id, token in pending.items():
        Run.objects.filter(pk=run_id, lease_token=token, state=RunState.RUNNING).update(
            state=RunState.WAITING, wake_at=clock.now(), lease_until=None)
        enqueue_on_commit(workflow_run_task, run_id=run_id)
    return len(claims)


def _steps_execute_each(pending: dict[int, int]) -> dict[int, int]:
    more: dict[int, int] = {}
    for run_id, token in pending.items():
        try:
            if _step_execute(run_id, token):
                more[run_id] = token
        except LeaseLost:
            logger.warning("workflows: lost the lease of run %s; another worker has it", run_id)
        except Exception as exc:
            logger.exception("workflows: a step of run %s failed", run_id)
            _attempt_failed(run_id, token, exc)
    return more


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
        run.save()
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
    """Runs that are due (a read, for views and tests; the runner claims with ``runs_claim_due``): waiting and due
    (the ``run_due`` partial index), then running with an expired lease."""
    waiting = Run.objects.filter(state=RunState.WAITING, wake_at__lte=now)
    stale = Run.objects.filter(state=RunState.RUNNING, lease_until__lt=now)
    if workspace_id is not None:
        waiting, stale = waiting.filter(workspace_id=workspace_id), stale.filter(workspace_id=workspace_id)
    ids = list(waiting.order_by("wake_at").values_list("pk", flat=True)[:limit])
    ids += list(stale.order_by("lease_until").values_list("pk", flat=True)[:limit - len(ids)])
    return ids


def runs_claim_due(*, now: dt.datetime, limit: int = DUE_BATCH,
                   workspace_id: int | None = None) -> list[tuple[int, int]]:
    """Claim up to ``limit`` due runs at once and return their ``(id, lease token)``: waiting runs whose
    ``wake_at`` passed (the ``run_due`` partial index), then running runs whose lease expired (``run_lease``).

    One statement per kind. PostgreSQL: ``WITH picked AS (SELECT … LIMIT n FOR UPDATE SKIP LOCKED) UPDATE … FROM
    picked RETURNING``: concurrent wake jobs skip the rows another one is claiming, so each takes a disjoint batch
    and extra workers add throughput instead of competing for the same ids; a row locked by the pick is re-checked
    against the condition, so one that changed state meanwhile is never taken. SQLite has no row locks (a writer
    holds the whole database), so there a conditional ``UPDATE … WHERE id IN (SELECT … LIMIT n) AND <condition>
    RETURNING`` is already exclusive."""
    table = connection.ops.quote_name(Run._meta.db_table)
    skip_locked = " FOR UPDATE SKIP LOCKED" if connection.features.has_select_for_update_skip_locked else ""
    scope, scope_params = (" AND workspace_id = %s", [workspace_id]) if workspace_id else ("", [])
    at = connection.ops.adapt_datetimefield_value(now)
    lease = connection.ops.adapt_datetimefield_value(now + LEASE)
    claims: list[tuple[int, int]] = []
    for condition, order in (("state = 'waiting' AND wake_at <= %s", "wake_at"),
                             ("state = 'running' AND lease_until < %s", "lease_until")):
        remaining = limit - len(claims)
        if remaining <= 0:
            break
        pick = f"SELECT id FROM {table} WHERE {condition}{scope} ORDER BY {order} LIMIT %s"
        if skip_locked:
            # A MATERIALIZED CTE runs the locking pick exactly once; as an IN (subquery) PostgreSQL may rescan it,
            # and every rescan with SKIP LOCKED picks further rows, overshooting the limit.
            sql = (f"WITH picked AS MATERIALIZED ({pick}{skip_locked}) UPDATE {table} SET state = 'running', "
                   f"lease_until = %s, lease_token = lease_token + 1 FROM picked WHERE {table}.id = picked.id "
                   f"RETURNING {table}.id, {table}.lease_token")
            params = [at, *scope_params, remaining, lease]
        else:
            sql = (f"UPDATE {table} SET state = 'running', lease_until = %s, lease_token = lease_token + 1 "
                   f"WHERE id IN ({pick}) AND {condition} RETURNING id, lease_token")
            params = [lease, at, *scope_params, remaining, at]
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            claims += [(int(run_id), int(token)) for run_id, token in cursor.fetchall()]
    return claims


def runs_advance_due(*, workspace_id: int | None = None, batch: int = DUE_BATCH) -> int:
    """Claim a batch of due runs and advance them; returns how many were advanced.

    A full batch means more are due: another wake job is rung *before* this one starts working, so a second
    worker claims the next batch (disjoint, see ``runs_claim_due``) while this one executes its own — the
    wake-up fans out over every worker instead of walking the backlog serially."""
    claims = runs_claim_due(now=clock.now(), workspace_id=workspace_id, limit=batch)
    if len(claims) >= batch:
        enqueue_on_commit(workflow_runs_wake, workspace_id=workspace_id or 0)
    return runs_advance_claimed(claims=claims)


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
