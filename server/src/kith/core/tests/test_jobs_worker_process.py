"""``manage.py kith_worker`` as a real process against the test database: killed mid-job, and stopped politely."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest
from django.db import transaction
from pytest_django.fixtures import Settings

from kith.core.jobs import enqueue_on_commit
from kith.core.jobs.models import Job
from kith.core.tests.jobs_processes import Workers, committing_db, wait_for
from kith.core.tests.jobs_support import (
    hang_on_first_attempt_job,
    read_records,
    sleep_job,
)

pytestmark = [pytest.mark.slow, committing_db]


@pytest.fixture(autouse=True)
def _embedded_runner(settings: Settings) -> None:
    settings.KITH_JOBS_RUNNER = "embedded"


def test_job_of_a_killed_worker_runs_again_only_after_its_lease_expires(workers: Workers, tmp_path: Path) -> None:
    path = tmp_path / "attempts.jsonl"
    # given a committed job whose first attempt hangs on worker 1, renewing its 2 s lease while that worker lives
    with transaction.atomic():
        enqueue_on_commit(hang_on_first_attempt_job, path=str(path))
    first, _ = workers.start_embedded()
    wait_for(lambda: len(read_records(path)) == 1, timeout=20, what="the first attempt to start")

    # and a second worker polling the same database
    _, log = workers.start_embedded()
    time.sleep(1)
    # then the live worker keeps its job
    row = Job.objects.get(name=hang_on_first_attempt_job.name)
    assert (row.status, row.attempts, row.claimed_by) == (Job.Status.RUNNING, 1, "embedded-1")

    # when worker 1 is killed mid-job
    workers.kill(first)
    row.refresh_from_db()
    assert (row.status, row.attempts) == (Job.Status.RUNNING, 1)
    assert row.lease_until is not None
    lease_until = row.lease_until.timestamp()

    # then worker 2 runs the job again, not before the dead worker's lease expired, and completes it
    wait_for(lambda: Job.objects.get(pk=row.pk).status == Job.Status.DONE, timeout=20,
             what="the second worker to finish the job", log=log)
    _, second_attempt = read_records(path)
    assert second_attempt["attempt"] == 2
    assert second_attempt["at"] >= lease_until
    row.refresh_from_db()
    assert (row.attempts, row.claimed_by) == (2, "embedded-2")


def test_sigterm_lets_the_worker_finish_its_current_job_then_exit(workers: Workers, tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    # given a worker in the middle of a 1.5 s job
    with transaction.atomic():
        enqueue_on_commit(sleep_job, path=str(path), seconds=1.5)
    process, log = workers.start_embedded()
    wait_for(lambda: len(read_records(path)) == 1, timeout=20, what="the job to start", log=log)

    # when it receives SIGTERM
    process.send_signal(signal.SIGTERM)

    # then it finishes the job, records it done, and exits cleanly
    assert process.wait(timeout=20) == 0, log.read_text()
    assert [record["event"] for record in read_records(path)] == ["start", "end"]
    assert Job.objects.get(name=sleep_job.name).status == Job.Status.DONE
