"""The embedded runner in-process: job rows, the conditional-UPDATE claim, retries, leases, run_at."""

from __future__ import annotations

import datetime as dt
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import transaction
from pytest_django.fixtures import Settings

from kith.core import clock
from kith.core.jobs import enqueue_on_commit
from kith.core.jobs.models import Job
from kith.core.jobs.runner import Outcome, run_job
from kith.core.jobs.worker import worker_thread_start
from kith.core.tests.jobs_processes import committing_db, wait_for
from kith.core.tests.jobs_support import (
    failing_in_transaction_job,
    failing_job,
    heartbeat_job,
    read_records,
    record_job,
    taken_over_job,
)

pytestmark = committing_db


class Boom(Exception):
    pass


@pytest.fixture(autouse=True)
def _embedded_runner(settings: Settings) -> None:
    settings.KITH_JOBS_RUNNER = "embedded"


def run_worker_once() -> str:
    out = StringIO()
    call_command("kith_worker", "--once", "--worker-id", "test-worker", stdout=out)
    return out.getvalue()


def test_job_enqueued_in_a_rolled_back_transaction_leaves_no_row_and_never_runs(tmp_path: Path) -> None:
    path = tmp_path / "ran.jsonl"
    # given a job enqueued in a transaction that rolls back (the row existed inside it)
    with pytest.raises(Boom), transaction.atomic():
        enqueue_on_commit(record_job, path=str(path), value="rolled back")
        assert Job.objects.filter(name=record_job.name).count() == 1
        raise Boom

    # when a worker drains everything that is due
    run_worker_once()

    # then there is no row and the job never ran
    assert not Job.objects.filter(name=record_job.name).exists()
    assert read_records(path) == []


def test_committed_job_runs_exactly_once(tmp_path: Path) -> None:
    path = tmp_path / "ran.jsonl"
    # given a committed job
    with transaction.atomic():
        enqueue_on_commit(record_job, path=str(path), value=(1, 2))
    assert Job.objects.get(name=record_job.name).status == Job.Status.QUEUED

    # when workers drain twice
    run_worker_once()
    run_worker_once()

    # then it ran once, with its arguments as stored in the row, and the row says so
    assert [record["value"] for record in read_records(path)] == [[1, 2]]
    row = Job.objects.get(name=record_job.name)
    assert (row.status, row.attempts, row.claimed_by, row.lease_until) == (Job.Status.DONE, 1, "test-worker", None)
    assert row.finished_at is not None


def test_failing_job_retries_with_growing_backoff_then_ends_failed_with_its_error(tmp_path: Path) -> None:
    path = tmp_path / "attempts.jsonl"
    enqueue_on_commit(failing_job, path=str(path))  # max_attempts=3
    start = clock.now()

    # when the first attempt fails
    with clock.frozen(start):
        run_worker_once()
    row = Job.objects.get(name=failing_job.name)
    # then it is queued again 5-10 s later, with the error recorded
    assert (row.status, row.attempts) == (Job.Status.QUEUED, 1)
    assert dt.timedelta(seconds=5) <= row.run_at - start <= dt.timedelta(seconds=10)
    assert "RuntimeError: the provider said no" in row.last_error

    # and it is not retried before then
    with clock.frozen(row.run_at - dt.timedelta(seconds=1)):
        run_worker_once()
    assert Job.objects.get(pk=row.pk).attempts == 1

    # when the second attempt fails, the wait doubles (10-20 s)
    second = row.run_at
    with clock.frozen(second):
        run_worker_once()
    row.refresh_from_db()
    assert (row.status, row.attempts) == (Job.Status.QUEUED, 2)
    assert dt.timedelta(seconds=10) <= row.run_at - second <= dt.timedelta(seconds=20)

    # when the last attempt fails, it ends failed with the traceback and is never run again
    with clock.frozen(row.run_at):
        run_worker_once()
    with clock.frozen(row.run_at + dt.timedelta(days=1)):
        run_worker_once()
    row.refresh_from_db()
    assert (row.status, row.attempts, row.lease_until) == (Job.Status.FAILED, 3, None)
    assert row.finished_at is not None
    assert "Traceback" in row.last_error and "the provider said no" in row.last_error
    assert len(read_records(path)) == 3


def test_job_with_a_future_run_at_does_not_run_early(tmp_path: Path) -> None:
    path = tmp_path / "ran.jsonl"
    run_at = clock.now() + dt.timedelta(hours=1)
    # given a job that must not run before run_at
    enqueue_on_commit(record_job, run_at=run_at, path=str(path), value="later")

    # when workers drain now and a second before run_at, then it has not run
    run_worker_once()
    with clock.frozen(run_at - dt.timedelta(seconds=1)):
        run_worker_once()
    assert read_records(path) == []

    # when a worker drains at run_at, then it runs
    with clock.frozen(run_at):
        run_worker_once()
    assert len(read_records(path)) == 1
    assert Job.objects.get(name=record_job.name).status == Job.Status.DONE


def test_job_that_fails_inside_its_own_transaction_leaves_no_transaction_open(tmp_path: Path) -> None:
    enqueue_on_commit(failing_in_transaction_job, path=str(tmp_path / "unused"))
    row = Job.objects.get(name=failing_in_transaction_job.name)

    # when the job writes inside transaction.atomic and then raises
    result = run_job(job_id=row.pk, worker_id="test-worker")

    # then its write was rolled back, the failure was recorded, and this connection is back in autocommit
    row.refresh_from_db()
    assert result.outcome is Outcome.RETRY
    assert "failed mid-transaction" in row.last_error
    assert "written inside the job" not in row.last_error
    assert transaction.get_autocommit() and not transaction.get_connection().in_atomic_block


def test_run_job_refuses_to_run_inside_a_transaction(tmp_path: Path) -> None:
    enqueue_on_commit(record_job, path=str(tmp_path / "ran.jsonl"), value=1)
    row = Job.objects.get(name=record_job.name)

    with pytest.raises(RuntimeError, match="outside transaction.atomic"), transaction.atomic():
        run_job(job_id=row.pk, worker_id="test-worker")
    assert Job.objects.get(pk=row.pk).status == Job.Status.QUEUED


def test_heartbeat_extends_the_running_jobs_lease(tmp_path: Path) -> None:
    path = tmp_path / "lease.jsonl"
    # given a job with a 30 s lease that extends it to 600 s while running
    enqueue_on_commit(heartbeat_job, path=str(path), extend_to=600)
    started = clock.now()

    run_worker_once()

    # then while it ran, its row was held for 600 s from the heartbeat
    (record,) = read_records(path)
    assert record["lease_until"] >= (started + dt.timedelta(seconds=590)).timestamp()


def test_worker_whose_job_was_taken_over_after_its_lease_cannot_mark_it_done(tmp_path: Path) -> None:
    path = tmp_path / "lease.jsonl"
    enqueue_on_commit(taken_over_job, path=str(path))
    row = Job.objects.get(name=taken_over_job.name)

    # when another worker reclaims the row while this worker's run is still going
    result = run_job(job_id=row.pk, worker_id="slow-worker")

    # then the slow worker's heartbeat fails, it does not mark the row done, and the new claim stands
    assert result.outcome is Outcome.LEASE_LOST
    assert read_records(path) == [{"lease_lost": True}]
    row.refresh_from_db()
    assert (row.status, row.attempts, row.claimed_by) == (Job.Status.RUNNING, 2, "other-worker")


def test_duplicate_doorbell_for_a_finished_job_does_not_run_it_again(tmp_path: Path) -> None:
    path = tmp_path / "ran.jsonl"
    enqueue_on_commit(record_job, path=str(path), value=1)
    row = Job.objects.get(name=record_job.name)

    first = run_job(job_id=row.pk, worker_id="worker-a")
    second = run_job(job_id=row.pk, worker_id="worker-b")

    assert (first.outcome, second.outcome) == (Outcome.DONE, Outcome.NOT_CLAIMED)
    assert len(read_records(path)) == 1


def test_worker_thread_runs_a_job_committed_in_this_process_and_stops_on_request(tmp_path: Path) -> None:
    path = tmp_path / "ran.jsonl"
    # given an embedded worker running in a thread of this process, polling only every 30 s
    thread = worker_thread_start(poll_interval=30, worker_id="thread-worker")
    try:
        # when a job is committed, then the worker is woken and runs it well before its next poll
        with transaction.atomic():
            enqueue_on_commit(record_job, path=str(path), value="woken")
        wait_for(lambda: len(read_records(path)) == 1, timeout=10, what="the thread worker to run the job")
    finally:
        thread.stop(timeout=10)
    # and it stopped when asked
    assert not thread.thread.is_alive()
    assert Job.objects.get(name=record_job.name).claimed_by == "thread-worker"
