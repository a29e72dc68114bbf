"""The sweeper (Celery runner's safety net) and the doorbell, without a broker: publishing is recorded instead."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

import pytest
from pytest_django.fixtures import Settings

from kith.core import clock
from kith.core.jobs import celery_runner, sweeper
from kith.core.jobs.celery_runner import doorbell_ring
from kith.core.jobs.models import Job
from kith.core.jobs.sweeper import sweep
from kith.core.tests.jobs_processes import committing_db
from kith.core.tests.jobs_support import record_job

pytestmark = pytest.mark.django_db


@pytest.fixture
def rung(monkeypatch: pytest.MonkeyPatch, settings: Settings) -> list[int]:
    """Job ids the sweeper rang, under the Celery runner."""
    settings.KITH_JOBS_RUNNER = "celery"
    calls: list[int] = []

    def ring(*, job_id: int, queue: str, run_at: dt.datetime | None) -> bool:
        calls.append(job_id)
        return True

    monkeypatch.setattr(sweeper, "doorbell_ring", ring)
    return calls


def make_row(**fields: Any) -> Job:
    created_at = fields.pop("created_at", None)
    fields.setdefault("run_at", clock.now())
    row = Job.objects.create(name=record_job.name, kwargs={"path": "/dev/null", "value": 1}, **fields)
    if created_at is not None:
        Job.objects.filter(pk=row.pk).update(created_at=created_at)
    return row


def test_sweeper_rings_rows_whose_doorbell_was_lost_or_whose_worker_died_and_leaves_the_rest(rung: list[int]) -> None:
    now = clock.now()
    # given rows in every state the sweeper must tell apart
    lost_doorbell = make_row(run_at=now - dt.timedelta(minutes=5))
    just_enqueued = make_row(run_at=now - dt.timedelta(seconds=10))
    not_due = make_row(run_at=now + dt.timedelta(minutes=10))
    worker_died = make_row(status=Job.Status.RUNNING, attempts=1, lease_until=now - dt.timedelta(seconds=1))
    still_running = make_row(status=Job.Status.RUNNING, attempts=1, lease_until=now + dt.timedelta(minutes=1))
    far_future_now_due = make_row(run_at=now + dt.timedelta(minutes=1), created_at=now - dt.timedelta(days=2))

    # when the sweeper runs
    report = sweep(now=now)

    # then it rang exactly the stranded rows and the far-future row that got no doorbell at enqueue
    assert sorted(rung) == sorted([lost_doorbell.pk, worker_died.pk, far_future_now_due.pk])
    assert report.rung == 3
    assert {just_enqueued.pk, not_due.pk, still_running.pk}.isdisjoint(rung)


def test_sweeper_under_the_embedded_runner_rings_nothing(rung: list[int], settings: Settings) -> None:
    settings.KITH_JOBS_RUNNER = "embedded"
    make_row(run_at=clock.now() - dt.timedelta(hours=1))

    assert sweep(now=clock.now()).rung == 0
    assert rung == []


def test_sweeper_fails_a_row_whose_worker_died_on_its_final_attempt(rung: list[int]) -> None:
    now = clock.now()
    row = make_row(status=Job.Status.RUNNING, attempts=5, max_attempts=5, lease_until=now - dt.timedelta(seconds=1))

    report = sweep(now=now)

    row.refresh_from_db()
    assert (report.failed, row.status, row.finished_at) == (1, Job.Status.FAILED, now)
    assert "final attempt" in row.last_error
    assert rung == []


def test_sweeper_prunes_finished_rows_past_their_retention_only(rung: list[int]) -> None:
    now = clock.now()
    old_done = make_row(status=Job.Status.DONE, finished_at=now - dt.timedelta(days=8))
    recent_done = make_row(status=Job.Status.DONE, finished_at=now - dt.timedelta(days=6))
    old_failed = make_row(status=Job.Status.FAILED, finished_at=now - dt.timedelta(days=31))
    recent_failed = make_row(status=Job.Status.FAILED, finished_at=now - dt.timedelta(days=8))

    assert sweep(now=now).pruned == 2

    remaining = set(Job.objects.values_list("pk", flat=True))
    assert remaining == {recent_done.pk, recent_failed.pk}
    assert {old_done.pk, old_failed.pk}.isdisjoint(remaining)


def test_doorbell_for_a_job_due_beyond_the_eta_horizon_is_left_to_the_sweeper(monkeypatch: pytest.MonkeyPatch) -> None:
    published: list[dict[str, Any]] = []
    monkeypatch.setattr(celery_runner.run_job_task, "apply_async", lambda **kw: published.append(kw))
    now = clock.now()

    assert doorbell_ring(job_id=1, queue="default", run_at=now + dt.timedelta(days=1)) is False
    assert doorbell_ring(job_id=2, queue="campaigns", run_at=now + dt.timedelta(minutes=5)) is True

    assert published == [{"args": [2], "queue": "kith.campaigns", "eta": now + dt.timedelta(minutes=5)}]


def test_doorbell_that_cannot_reach_the_broker_is_logged_and_does_not_fail_the_caller(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broker_down(**kwargs: Any) -> None:
        raise ConnectionError("broker unreachable")

    monkeypatch.setattr(celery_runner.run_job_task, "apply_async", broker_down)

    with caplog.at_level(logging.ERROR, logger="kith.jobs"):
        assert doorbell_ring(job_id=7, queue="default", run_at=None) is False

    assert "doorbell for job #7" in caplog.text and "broker unreachable" in caplog.text


@committing_db
def test_early_celery_doorbell_rings_again_for_the_jobs_time_instead_of_running_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    published: list[dict[str, Any]] = []
    monkeypatch.setattr(celery_runner.run_job_task, "apply_async", lambda **kw: published.append(kw))
    run_at = clock.now() + dt.timedelta(seconds=30)
    row = make_row(run_at=run_at)

    # when the doorbell arrives before run_at (clock skew between hosts)
    celery_runner.run_job_task(row.pk)

    # then the job did not run, and a doorbell for its time was published
    row.refresh_from_db()
    assert (row.status, row.attempts) == (Job.Status.QUEUED, 0)
    assert published == [{"args": [row.pk], "queue": "kith", "eta": run_at}]
