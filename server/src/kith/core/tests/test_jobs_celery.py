"""The same job code on a real Celery worker process over a real broker (``make test-celery``).

Needs KITH_TEST_BROKER_URL (a Redis database the tests may empty); without it these tests fail, never skip.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import redis
from django.db import transaction

from kith.celery import app as celery_app
from kith.core import clock
from kith.core.jobs import enqueue_on_commit
from kith.core.jobs.models import Job
from kith.core.jobs.sweeper import jobs_sweep
from kith.core.tests.jobs_processes import Workers, committing_db, wait_for
from kith.core.tests.jobs_support import (
    hang_on_first_attempt_job,
    read_records,
    record_job,
)

pytestmark = [pytest.mark.celery, committing_db]


class Boom(Exception):
    pass


def job_status(*, name: str, path: Path) -> str | None:
    row = Job.objects.filter(name=name, kwargs__path=str(path)).first()
    return row.status if row else None


def test_committed_job_runs_on_the_celery_worker(celery_broker: str, workers: Workers, tmp_path: Path) -> None:
    path = tmp_path / "ran.jsonl"
    worker, log = workers.start_celery(broker_url=celery_broker)

    # when a job is committed in this process
    with transaction.atomic():
        enqueue_on_commit(record_job, path=str(path), value={"contact_id": 42})

    # then the Celery worker process claims and runs it, and its effect is visible here
    wait_for(lambda: job_status(name=record_job.name, path=path) == Job.Status.DONE, timeout=20,
             what="the Celery worker to run the job", log=log)
    assert [record["value"] for record in read_records(path)] == [{"contact_id": 42}]
    row = Job.objects.get(name=record_job.name)
    assert row.claimed_by.startswith("celery:") and row.claimed_by.endswith(f":{worker.pid}")
    assert row.attempts == 1


def test_job_enqueued_in_a_rolled_back_transaction_never_reaches_the_celery_worker(
    celery_broker: str, workers: Workers, tmp_path: Path
) -> None:
    rolled_back, sentinel = tmp_path / "rolled-back.jsonl", tmp_path / "sentinel.jsonl"
    _, log = workers.start_celery(broker_url=celery_broker)

    # given a job enqueued in a transaction that rolls back, then a committed one
    with pytest.raises(Boom), transaction.atomic():
        enqueue_on_commit(record_job, path=str(rolled_back), value="never")
        raise Boom
    with transaction.atomic():
        enqueue_on_commit(record_job, path=str(sentinel), value="committed")

    # when the worker has processed the committed one (it consumes its queue in order)
    wait_for(lambda: job_status(name=record_job.name, path=sentinel) == Job.Status.DONE, timeout=20,
             what="the Celery worker to run the committed job", log=log)

    # then the rolled-back job left no row, no message, and no effect
    assert job_status(name=record_job.name, path=rolled_back) is None
    assert read_records(rolled_back) == []
    assert redis.Redis.from_url(celery_broker).llen("kith") == 0


def test_job_of_a_killed_celery_worker_runs_again_after_its_lease_via_the_sweeper(
    celery_broker: str, workers: Workers, tmp_path: Path
) -> None:
    path = tmp_path / "attempts.jsonl"
    first, log = workers.start_celery(broker_url=celery_broker)

    # given a committed job whose first attempt hangs on the Celery worker (renewing its 2 s lease)
    with transaction.atomic():
        enqueue_on_commit(hang_on_first_attempt_job, path=str(path))
    wait_for(lambda: len(read_records(path)) == 1, timeout=20, what="the first attempt to start", log=log)

    # when the worker is killed mid-job (its message was acknowledged on receipt: Celery will not redeliver it)
    workers.kill(first)
    row = Job.objects.get(name=hang_on_first_attempt_job.name)
    assert (row.status, row.attempts) == (Job.Status.RUNNING, 1)
    assert row.lease_until is not None
    lease_until = row.lease_until

    # and a new worker starts, the lease expires, and beat's next jobs_sweep message arrives
    _, log = workers.start_celery(broker_url=celery_broker)
    wait_for(lambda: clock.now() > lease_until, timeout=10, what="the lease to expire")
    sweep_entry = celery_app.conf.beat_schedule[jobs_sweep.name]
    celery_app.send_task(sweep_entry["task"], args=sweep_entry["args"])

    # then the sweeper re-rings the row and the new worker runs the job to completion
    wait_for(lambda: Job.objects.get(pk=row.pk).status == Job.Status.DONE, timeout=20,
             what="the job to run again and finish", log=log)
    row.refresh_from_db()
    assert row.attempts == 2
    assert [record["attempt"] for record in read_records(path)] == [1, 2]
    assert read_records(path)[1]["at"] >= lease_until.timestamp()
    assert Job.objects.get(name=jobs_sweep.name).status == Job.Status.DONE
