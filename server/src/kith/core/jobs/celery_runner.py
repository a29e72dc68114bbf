"""The Celery side of the jobs runtime: doorbells and the two tasks that answer them.

A Celery message carries only a job row id (``kith.jobs.run``) or a periodic job name (``kith.jobs.periodic``);
the row is the truth. Messages are acknowledged before the task runs (Celery's default), so a worker killed
mid-job loses its message: the row stays ``running`` until its lease expires, and the sweeper rings it again.
A duplicate doorbell is harmless because ``run_job``'s claim fails for a row that is not claimable.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket

from django.conf import settings

from kith.celery import app
from kith.core import clock
from kith.core.jobs.periodic import periodic_job_create
from kith.core.jobs.registry import DEFAULT_QUEUE
from kith.core.jobs.runner import Outcome, run_job
from kith.core.jobs.schedule import PERIODIC_TASK_NAME, schedule_load

logger = logging.getLogger("kith.jobs")

# Jobs due further ahead get no doorbell now; the sweeper rings them shortly before they are due. An ETA message
# sits unacknowledged in a worker, and Redis redelivers anything unacknowledged for longer than its visibility
# timeout (one hour by default), so far-future ETAs would only produce duplicate doorbells and hold worker memory.
ETA_HORIZON = dt.timedelta(hours=1)


def celery_queue(job_queue: str) -> str:
    """The Celery queue for a job queue: ``default`` → ``kith``, ``campaigns`` → ``kith.campaigns``.

    The prefix keeps Kith's queues apart from other applications sharing the broker.
    """
    base: str = settings.CELERY_TASK_DEFAULT_QUEUE
    return base if job_queue == DEFAULT_QUEUE else f"{base}.{job_queue}"


def _worker_id() -> str:
    return f"celery:{socket.gethostname()}:{os.getpid()}"


def doorbell_ring(*, job_id: int, queue: str, run_at: dt.datetime | None) -> bool:
    """Publish a ``kith.jobs.run`` message for row ``job_id``; return whether one was sent.

    Never raises: the row is already committed, so a broker outage must not fail the caller's request. The error is
    logged and the sweeper rings the row again once it is overdue.
    """
    now = clock.now()
    if run_at is not None and run_at - now > ETA_HORIZON:
        return False
    eta = run_at if run_at is not None and run_at > now else None
    try:
        run_job_task.apply_async(args=[job_id], queue=celery_queue(queue), eta=eta)
    except Exception:
        logger.exception("doorbell for job #%s could not be published; the sweeper will ring it again", job_id)
        return False
    return True


def _run_and_reschedule(job_id: int) -> None:
    result = run_job(job_id=job_id, worker_id=_worker_id())
    if result.outcome in (Outcome.RETRY, Outcome.NOT_DUE):
        # Ring again for the row's new time (a retry) or its time that has not come on this worker's clock (an
        # early doorbell). Crash window: if this worker dies before publishing, the row is queued and overdue,
        # and the sweeper rings it after its grace period.
        doorbell_ring(job_id=job_id, queue=result.queue, run_at=result.retry_at)


@app.task(name="kith.jobs.run", ignore_result=True)
def run_job_task(job_id: int) -> None:
    """Run job row ``job_id`` if it can be claimed (a duplicate or early doorbell is a no-op)."""
    _run_and_reschedule(job_id)


@app.task(name=PERIODIC_TASK_NAME, ignore_result=True)
def run_periodic_task(name: str) -> None:
    """A beat tick for periodic job ``name``: insert its row first (so a crash leaves a recoverable row), run it.

    Only names in ``schedule.toml`` run: a beat started from an older file (or a stray message) cannot start an
    arbitrary job.
    """
    if name not in {entry.name for entry in schedule_load()}:
        logger.error("periodic job %r is not in schedule.toml; ignoring this beat message", name)
        return
    row = periodic_job_create(name=name, now=clock.now())
    _run_and_reschedule(row.pk)
