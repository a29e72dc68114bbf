"""The immediate runner (what every other test suite uses): after commit, in-process, JSON round-tripped."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.db import transaction

from kith.core.jobs import enqueue_on_commit
from kith.core.jobs.models import Job
from kith.core.tests.jobs_processes import committing_db
from kith.core.tests.jobs_support import (
    CAPTURED,
    capture_job,
    failing_job,
    read_records,
)

pytestmark = committing_db


class Boom(Exception):
    pass


@pytest.fixture(autouse=True)
def _captured() -> Iterator[None]:
    CAPTURED.clear()
    yield
    CAPTURED.clear()


def test_job_enqueued_in_a_rolled_back_transaction_never_runs() -> None:
    # given a job enqueued in a transaction that rolls back, and one enqueued in a transaction that commits
    with pytest.raises(Boom), transaction.atomic():
        enqueue_on_commit(capture_job, value="rolled back")
        raise Boom
    with transaction.atomic():
        enqueue_on_commit(capture_job, value="committed")

    # then only the committed one ran, and the immediate runner wrote no rows
    assert CAPTURED == [{"value": "committed"}]
    assert not Job.objects.exists()


def test_job_runs_only_once_the_transaction_commits() -> None:
    # given a job enqueued inside a transaction
    with transaction.atomic():
        enqueue_on_commit(capture_job, value=1)
        # then it has not run while the transaction is open
        assert CAPTURED == []
    # and it has run after commit
    assert CAPTURED == [{"value": 1}]


def test_job_arguments_arrive_as_a_worker_would_read_them_back_from_json() -> None:
    # when a job is enqueued with a tuple and a dict with a non-string key
    enqueue_on_commit(capture_job, value={"ids": (1, 2), 3: "three"})

    # then it receives a list and a string key, as it would from a job row
    assert CAPTURED == [{"value": {"ids": [1, 2], "3": "three"}}]
    assert isinstance(CAPTURED[0]["value"]["ids"], list)


@pytest.mark.parametrize(
    "value",
    [object(), dt.datetime(2026, 1, 1, tzinfo=dt.UTC), {1, 2}, float("nan")],
    ids=["object", "datetime", "set", "nan"],
)
def test_argument_that_is_not_json_serializable_is_rejected_at_enqueue(value: Any) -> None:
    # when a job is enqueued with an argument JSON cannot carry
    with (
        pytest.raises(TypeError, match=r"capture_job: argument value=.* is not JSON-serializable"),
        transaction.atomic(),
    ):
        enqueue_on_commit(capture_job, value=value)

    # then nothing ran
    assert CAPTURED == []


def test_argument_the_job_does_not_take_is_rejected_at_enqueue() -> None:
    with pytest.raises(TypeError, match=r"capture_job: .*valeu"):
        enqueue_on_commit(capture_job, value=1, valeu=1)


def test_naive_run_at_is_rejected_at_enqueue() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        enqueue_on_commit(capture_job, run_at=dt.datetime(2030, 1, 1), value=1)


def test_function_without_the_job_decorator_cannot_be_enqueued() -> None:
    def plain(*, value: int) -> None:
        pass

    with pytest.raises(TypeError, match="decorate the function with @job"):
        enqueue_on_commit(plain, value=1)  # type: ignore[arg-type]


def test_job_exception_under_the_immediate_runner_reaches_the_committing_code(tmp_path: Path) -> None:
    # when a job that raises is enqueued and the transaction commits
    with pytest.raises(RuntimeError, match="the provider said no"), transaction.atomic():
        enqueue_on_commit(failing_job, path=str(tmp_path / "attempts.jsonl"))

    # then the job ran once and its exception was not swallowed
    assert len(read_records(tmp_path / "attempts.jsonl")) == 1
