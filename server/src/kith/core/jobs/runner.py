"""Claiming and running job rows: the part the embedded worker and the Celery task share.

A claim is one conditional UPDATE (portable: SQLite and PostgreSQL, no SELECT ... FOR UPDATE) that succeeds for
a row that is queued and due, or running with an expired lease (its worker died). The claim increments
``attempts``, and every later write about that run is conditioned on ``(id, status=running, attempts)``: a worker
that overran its lease and lost the row to another worker can neither mark it done nor extend its lease.

Delivery is at least once. A worker killed after the job's effects but before it marked the row done (or one that
overran its lease) means the job runs again, so job code must be idempotent.
"""

from __future__ import annotations

import datetime as dt
import logging
import random
import time
import traceback
from contextvars import ContextVar
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from django.db import transaction
from django.db.models import F, Q, QuerySet

from kith.core import clock
from kith.core.errors import KithError
from kith.core.jobs.models import Job
from kith.core.jobs.registry import DEFAULT_QUEUE, JobFunction, job_function_get

logger = logging.getLogger("kith.jobs")

# Retry n waits between half and all of min(BASE * 2**(n-1), MAX): 5-10 s, 10-20 s, 20-40 s, ... up to an hour.
# The jitter spreads a burst of jobs that failed together (a provider outage) so they do not retry in lockstep.
BACKOFF_BASE = dt.timedelta(seconds=10)
BACKOFF_MAX = dt.timedelta(hours=1)
# Tracebacks of deep recursion or huge reprs can be megabytes; the tail holds the raise site.
LAST_ERROR_MAX_CHARS = 20_000


class JobLeaseLost(KithError, RuntimeError):
    """The running job's row was reclaimed by another worker (its lease expired); stop and let that run finish."""


class Outcome(StrEnum):
    NOT_CLAIMED = "not_claimed"  # missing, claimed by another worker, or finished: a duplicate doorbell
    NOT_DUE = "not_due"  # queued for later (retry_at): a doorbell that arrived early, e.g. from clock skew
    DONE = "done"
    RETRY = "retry"  # failed, back to queued until retry_at
    FAILED = "failed"  # failed on its last attempt
    LEASE_LOST = "lease_lost"  # ran past its lease and another worker took the row over


@dataclass(frozen=True)
class JobRun:
    job_id: int
    outcome: Outcome
    queue: str = DEFAULT_QUEUE
    retry_at: dt.datetime | None = None


@dataclass(frozen=True)
class _Claim:
    job_id: int
    attempts: int
    max_attempts: int
    lease_seconds: int


_current_claim: ContextVar[_Claim | None] = ContextVar("kith_job_claim", default=None)


def job_row_create(*, function: JobFunction[..., Any], kwargs: dict[str, Any], run_at: dt.datetime) -> Job:
    """Insert a queued row for ``function`` in the caller's transaction (``kwargs`` already JSON round-tripped)."""
    return Job.objects.create(
        name=function.name,
        kwargs=kwargs,
        queue=function.queue,
        run_at=run_at,
        max_attempts=function.max_attempts,
        lease_seconds=function.lease_seconds,
    )


def _claimable(now: dt.datetime) -> Q:
    # A running row on its final attempt whose lease expired is not claimable: the sweeper marks it failed, so a
    # job that kills its worker every time (out of memory) stops after max_attempts instead of looping forever.
    return Q(attempts__lt=F("max_attempts")) & (
        Q(status=Job.Status.QUEUED, run_at__lte=now) | Q(status=Job.Status.RUNNING, lease_until__lt=now)
    )


def jobs_due_ids(*, limit: int, now: dt.datetime) -> list[int]:
    """Ids of up to ``limit`` claimable rows, oldest first. Reading is not claiming: ``run_job`` claims each."""
    return list(Job.objects.filter(_claimable(now)).order_by("run_at", "id").values_list("id", flat=True)[:limit])


def _claim(*, job: Job, worker_id: str, now: dt.datetime) -> _Claim | None:
    # attempts=job.attempts makes the UPDATE lose if any other worker claimed the row since we read it.
    claimed = Job.objects.filter(_claimable(now), pk=job.pk, attempts=job.attempts).update(
        status=Job.Status.RUNNING,
        lease_until=now + dt.timedelta(seconds=job.lease_seconds),
        attempts=job.attempts + 1,
        claimed_by=worker_id[:100],
    )
    if claimed != 1:
        return None
    return _Claim(job_id=job.pk, attempts=job.attempts + 1, max_attempts=job.max_attempts,
                  lease_seconds=job.lease_seconds)


def _ours(claim: _Claim) -> QuerySet[Job]:
    return Job.objects.filter(pk=claim.job_id, status=Job.Status.RUNNING, attempts=claim.attempts)


def backoff_delay(*, attempt: int) -> dt.timedelta:
    """How long to wait before retrying after failed attempt number ``attempt`` (1-based)."""
    factor: int = 2 ** min(attempt - 1, 30)  # capped so a huge attempt count cannot overflow timedelta
    ceiling = min(BACKOFF_MAX, BACKOFF_BASE * factor)
    return ceiling / 2 + ceiling / 2 * random.random()


def run_job(*, job_id: int, worker_id: str) -> JobRun:
    """Claim job ``job_id``, run it, and record the outcome. A row that cannot be claimed is left alone.

    Must be called outside any transaction: the job function runs in autocommit mode, so it may do network I/O
    and open its own short ``transaction.atomic`` blocks. ``Exception`` from the job is logged and recorded
    (retry or failed); ``BaseException`` (a forced shutdown) propagates and the row waits for its lease to expire.
    """
    if transaction.get_connection().in_atomic_block:
        raise RuntimeError("run_job must be called outside transaction.atomic: jobs do network I/O.")
    job = Job.objects.filter(pk=job_id).first()
    if job is None:
        logger.debug("job #%s not found (pruned, or enqueued in a transaction that rolled back)", job_id)
        return JobRun(job_id=job_id, outcome=Outcome.NOT_CLAIMED)
    now = clock.now()
    claim = _claim(job=job, worker_id=worker_id, now=now)
    if claim is None:
        if job.status == Job.Status.QUEUED and job.run_at > now:
            return JobRun(job_id=job_id, outcome=Outcome.NOT_DUE, queue=job.queue, retry_at=job.run_at)
        logger.debug("job %s#%s not claimed: running elsewhere or finished", job.name, job_id)
        return JobRun(job_id=job_id, outcome=Outcome.NOT_CLAIMED, queue=job.queue)
    logger.debug("job %s#%s started (attempt %d of %d) on %s", job.name, job_id, claim.attempts,
                claim.max_attempts, worker_id)
    started = time.monotonic()
    token = _current_claim.set(claim)
    try:
        job_function_get(job.name).func(**job.kwargs)
    except Exception:  # noqa: BLE001 (recorded on the row and logged with its traceback by _record_failure)
        return _record_failure(job=job, claim=claim, error=traceback.format_exc())
    finally:
        _current_claim.reset(token)
    return _record_success(job=job, claim=claim, seconds=time.monotonic() - started)


def _record_success(*, job: Job, claim: _Claim, seconds: float) -> JobRun:
    marked = _ours(claim).update(status=Job.Status.DONE, finished_at=clock.now(), lease_until=None, last_error="")
    if not marked:
        logger.warning("job %s#%s finished after its lease expired and another worker reclaimed it; it ran twice "
                       "(raise lease_seconds or call job_lease_extend)", job.name, job.pk)
        return JobRun(job_id=job.pk, outcome=Outcome.LEASE_LOST, queue=job.queue)
    logger.info("job %s#%s done in %.3fs", job.name, job.pk, seconds)
    return JobRun(job_id=job.pk, outcome=Outcome.DONE, queue=job.queue)


def _record_failure(*, job: Job, claim: _Claim, error: str) -> JobRun:
    """Called inside the ``except`` block, so ``logger.exception`` carries the job's traceback."""
    now = clock.now()
    last_error = error[-LAST_ERROR_MAX_CHARS:]
    if claim.attempts < claim.max_attempts:
        retry_at = now + backoff_delay(attempt=claim.attempts)
        marked = _ours(claim).update(status=Job.Status.QUEUED, run_at=retry_at, lease_until=None,
                                     last_error=last_error)
        outcome = Outcome.RETRY
        logger.exception("job %s#%s failed (attempt %d of %d); retrying at %s", job.name, job.pk, claim.attempts,
                         claim.max_attempts, retry_at.isoformat())
    else:
        retry_at = None
        marked = _ours(claim).update(status=Job.Status.FAILED, finished_at=now, lease_until=None,
                                     last_error=last_error)
        outcome = Outcome.FAILED
        logger.exception("job %s#%s failed on its last attempt (%d of %d); giving up", job.name, job.pk,
                         claim.attempts, claim.max_attempts)
    if not marked:
        logger.warning("job %s#%s: another worker reclaimed the row after its lease expired; that run decides",
                       job.name, job.pk)
        return JobRun(job_id=job.pk, outcome=Outcome.LEASE_LOST, queue=job.queue)
    return JobRun(job_id=job.pk, outcome=outcome, queue=job.queue, retry_at=retry_at)


def job_lease_extend(*, seconds: int | None = None) -> None:
    """Heartbeat: keep the current job's row for ``seconds`` more (default: its ``lease_seconds``) from now.

    A job that may run longer than its lease calls this between steps, outside any ``transaction.atomic`` (inside
    one, the new lease would stay invisible to other workers until commit). Raises ``JobLeaseLost`` if another
    worker already reclaimed the row, so the job can stop. Outside a job run (immediate runner, a direct call) it
    does nothing: there is no row to hold.
    """
    claim = _current_claim.get()
    if claim is None:
        return
    lease = dt.timedelta(seconds=seconds if seconds is not None else claim.lease_seconds)
    if not _ours(claim).update(lease_until=clock.now() + lease):
        raise JobLeaseLost(f"Job #{claim.job_id} was reclaimed by another worker after its lease expired.")
