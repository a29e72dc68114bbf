"""``manage.py kith_worker``: the embedded job runner (used when no Celery broker is configured).

Runs until SIGTERM or SIGINT, then finishes the job in progress and exits; a second signal exits at once (the
interrupted job's row is retried after its lease expires). ``--once`` runs everything due and exits.
"""

from __future__ import annotations

import logging
import signal
from argparse import ArgumentParser
from types import FrameType
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from kith.core.jobs.registry import UnknownJob, job_function_get
from kith.core.jobs.schedule import schedule_load
from kith.core.jobs.worker import DEFAULT_BATCH_SIZE, EmbeddedWorker, worker_id_default

logger = logging.getLogger("kith.jobs")


class Command(BaseCommand):
    help = "Run the embedded background job worker (claims due job rows from the database)."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--once", action="store_true", help="Run every job that is due now, then exit.")
        parser.add_argument("--worker-id", default="", help="Recorded on claimed rows (default: host:pid:random).")
        parser.add_argument("--batch-size", type=int, default=DEFAULT_BATCH_SIZE,
                            help="Due rows read per poll (default: %(default)s).")
        parser.add_argument("--poll-interval", type=float, default=None,
                            help="Seconds to sleep when idle (default: KITH_JOBS_POLL_INTERVAL).")

    def handle(self, *args: Any, once: bool, worker_id: str, batch_size: int, poll_interval: float | None,
               **options: Any) -> None:
        schedule = schedule_load()
        # Fail at start-up, not at the first tick, if schedule.toml names a function that is not a job.
        for entry in schedule:
            try:
                job_function_get(entry.name)
            except UnknownJob as exc:
                raise CommandError(f"schedule.toml: {exc}") from exc
        worker = EmbeddedWorker(
            worker_id=worker_id or worker_id_default(),
            poll_interval=poll_interval if poll_interval is not None else settings.KITH_JOBS_POLL_INTERVAL,
            schedule=schedule,
            batch_size=max(1, batch_size),
        )
        if once:
            ran = worker.drain()
            self.stdout.write(f"Ran {ran} job(s).")
            return
        self._handle_signals(worker)
        worker.run_until_stopped()

    def _handle_signals(self, worker: EmbeddedWorker) -> None:
        def on_signal(signum: int, frame: FrameType | None) -> None:
            if worker.stopping:
                logger.warning("%s again: exiting now; the interrupted job is retried after its lease expires",
                               signal.strsignal(signum))
                raise SystemExit(1)
            logger.info("%s: finishing the current job, then exiting", signal.strsignal(signum))
            worker.request_stop()

        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
