"""The embedded runner: a database-polling worker for installs without a broker (``make run``, small servers).

``manage.py kith_worker`` runs ``EmbeddedWorker.run_until_stopped`` in its own process; ``worker_thread_start``
runs the same loop in a thread of the current process. Any number of embedded workers may run against one
database: rows and periodic slots are claimed with conditional UPDATEs, so no two workers start the same work.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
from collections.abc import Sequence
from dataclasses import dataclass

from django.conf import settings
from django.db import close_old_connections, connections

from kith.core import clock
from kith.core.jobs.periodic import periodic_tick
from kith.core.jobs.runner import Outcome, jobs_due_ids, run_job
from kith.core.jobs.schedule import PeriodicJob, schedule_load

logger = logging.getLogger("kith.jobs")

# Set by enqueue_on_commit after commit, so a worker thread in the same process starts a new job at once instead of
# at its next poll. Workers in other processes simply poll.
WAKEUP = threading.Event()
# Rows are read in small batches and claimed one by one just before each runs: a worker that stops mid-batch
# leaves nothing claimed that it did not start, and a slow job does not hold a batch of others behind it.
DEFAULT_BATCH_SIZE = 10


def worker_id_default() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


class EmbeddedWorker:
    def __init__(
        self,
        *,
        worker_id: str,
        poll_interval: float,
        schedule: Sequence[PeriodicJob],
        batch_size: int = DEFAULT_BATCH_SIZE,
    ) -> None:
        self.worker_id = worker_id
        self.poll_interval = poll_interval
        self.schedule = tuple(schedule)
        self.batch_size = batch_size
        self._stop = threading.Event()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def request_stop(self) -> None:
        """Finish the job in progress (if any), then return from ``run_until_stopped``."""
        self._stop.set()
        WAKEUP.set()

    def tick(self) -> int:
        """Queue due periodic jobs, then claim and run one batch of due rows; return how many ran."""
        periodic_tick(entries=self.schedule, now=clock.now())
        ran = 0
        for job_id in jobs_due_ids(limit=self.batch_size, now=clock.now()):
            if self.stopping:
                break
            outcome = run_job(job_id=job_id, worker_id=self.worker_id).outcome
            if outcome not in (Outcome.NOT_CLAIMED, Outcome.NOT_DUE):
                ran += 1
        return ran

    def drain(self) -> int:
        """Run everything due now (including newly due periodic jobs), then return the number of jobs run."""
        total = 0
        while not self.stopping:
            ran = self.tick()
            if not ran:
                break
            total += ran
        return total

    def run_until_stopped(self) -> None:
        logger.info("embedded job worker %s started (poll every %ss)", self.worker_id, self.poll_interval)
        while not self.stopping:
            # A long-lived worker must drop connections the database closed or that outlived CONN_MAX_AGE, as
            # Django does around each request.
            close_old_connections()
            try:
                ran = self.tick()
            except Exception:
                # A database outage or restart: keep the worker alive and retry after the poll interval. Job
                # exceptions never get here (run_job records them on the row).
                logger.exception("embedded job worker %s: tick failed; retrying", self.worker_id)
                connections.close_all()
                ran = 0
            if not ran and not self.stopping:
                WAKEUP.wait(self.poll_interval)
                WAKEUP.clear()
        logger.info("embedded job worker %s stopped", self.worker_id)


@dataclass(frozen=True)
class WorkerThread:
    worker: EmbeddedWorker
    thread: threading.Thread

    def stop(self, *, timeout: float | None = None) -> None:
        """Ask the worker to stop after its current job and wait for the thread to end."""
        self.worker.request_stop()
        self.thread.join(timeout)


def _thread_main(worker: EmbeddedWorker) -> None:
    try:
        worker.run_until_stopped()
    finally:
        # Connections are per thread; without this the thread's connection would stay open until the process ends.
        connections.close_all()


def worker_thread_start(
    *,
    schedule: Sequence[PeriodicJob] | None = None,
    poll_interval: float | None = None,
    worker_id: str | None = None,
) -> WorkerThread:
    """Run an embedded worker in a daemon thread of this process; stop it with ``.stop()``.

    Defaults: the project's ``schedule.toml`` and ``KITH_JOBS_POLL_INTERVAL``.
    """
    worker = EmbeddedWorker(
        worker_id=worker_id or worker_id_default(),
        poll_interval=poll_interval if poll_interval is not None else settings.KITH_JOBS_POLL_INTERVAL,
        schedule=schedule if schedule is not None else schedule_load(),
    )
    thread = threading.Thread(target=_thread_main, args=(worker,), name=f"kith-jobs-{worker.worker_id}", daemon=True)
    thread.start()
    return WorkerThread(worker=worker, thread=thread)
