"""The sweeper: the periodic job (``jobs_sweep`` in ``schedule.toml``) that makes lost doorbells harmless.

Crash windows it closes, and the resulting semantics (at-least-once; job code must be idempotent):

- The web process commits a job row, then dies or cannot reach the broker before publishing its doorbell
  (Celery): the row stays queued and due; the sweeper rings it once it is overdue by ``REQUEUE_GRACE``.
- A worker is killed mid-job (SIGKILL, OOM, lost machine): the row stays ``running`` and its message was already
  acknowledged. Once the lease expires the sweeper rings it (Celery); the embedded runner's claim query picks such
  rows up by itself. The job then runs again from the start, possibly after its first run had side effects.
- A worker that dies on a job's final attempt: the row can never be claimed again, and the sweeper marks it
  ``failed`` so it does not look in progress forever.
- Jobs enqueued more than ``ETA_HORIZON`` ahead got no doorbell; the sweeper rings them shortly before they are due.

It also prunes finished rows, which keeps the claim indexes small.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from django.conf import settings
from django.db.models import F, Q

from kith.core import clock
from kith.core.jobs.celery_runner import ETA_HORIZON, doorbell_ring
from kith.core.jobs.models import Job
from kith.core.jobs.registry import job

logger = logging.getLogger("kith.jobs")

# A doorbell is published right after commit and delivered in milliseconds; a row still queued this long after it
# became due lost its doorbell (or the workers are backlogged, where a duplicate doorbell costs one failed claim).
REQUEUE_GRACE = dt.timedelta(minutes=2)
# Far-future rows are rung this long before they are due: twice the sweep period, so one missed sweep is covered.
RING_AHEAD = dt.timedelta(minutes=2)
# Done rows are kept a week for "did this run?" questions; failed rows a month, long enough to notice and replay.
DONE_RETENTION = dt.timedelta(days=7)
FAILED_RETENTION = dt.timedelta(days=30)
# Bounds one sweep's work (and the broker burst after an outage); the next sweep continues where this one stopped.
SWEEP_BATCH = 1000


@dataclass(frozen=True)
class SweepReport:
    rung: int
    failed: int
    pruned: int


def _ring_stale(*, now: dt.datetime) -> int:
    overdue = Q(status=Job.Status.QUEUED, run_at__lt=now - REQUEUE_GRACE) | Q(
        status=Job.Status.RUNNING, lease_until__lt=now, attempts__lt=F("max_attempts")
    )
    # Never rung at enqueue because it was due beyond the ETA horizon (retries are always within it).
    due_soon = Q(
        status=Job.Status.QUEUED,
        attempts=0,
        run_at__gt=F("created_at") + ETA_HORIZON,
        run_at__lte=now + RING_AHEAD,
    )
    rows = Job.objects.filter(overdue | due_soon).order_by("run_at", "id").values_list("id", "queue", "run_at")
    return sum(
        doorbell_ring(job_id=job_id, queue=queue, run_at=run_at) for job_id, queue, run_at in rows[:SWEEP_BATCH]
    )


def _fail_abandoned(*, now: dt.datetime) -> int:
    return Job.objects.filter(
        status=Job.Status.RUNNING, lease_until__lt=now, attempts__gte=F("max_attempts")
    ).update(
        status=Job.Status.FAILED,
        finished_at=now,
        lease_until=None,
        last_error="Worker lost during the final attempt (lease expired without the job finishing).",
    )


def _prune(*, now: dt.datetime) -> int:
    old = Q(status=Job.Status.DONE, finished_at__lt=now - DONE_RETENTION) | Q(
        status=Job.Status.FAILED, finished_at__lt=now - FAILED_RETENTION
    )
    ids = list(Job.objects.filter(old).order_by("id").values_list("id", flat=True)[:SWEEP_BATCH])
    deleted, _ = Job.objects.filter(pk__in=ids).delete()
    return deleted


def sweep(*, now: dt.datetime) -> SweepReport:
    """One sweep. Every step is a conditional write or an idempotent doorbell, so overlapping sweeps are safe."""
    rung = _ring_stale(now=now) if settings.KITH_JOBS_RUNNER == "celery" else 0
    report = SweepReport(rung=rung, failed=_fail_abandoned(now=now), pruned=_prune(now=now))
    if report.rung or report.failed:
        logger.warning("jobs sweep: rang %d stale row(s), failed %d abandoned row(s), pruned %d",
                       report.rung, report.failed, report.pruned)
    return report


@job
def jobs_sweep() -> None:
    sweep(now=clock.now())
