"""The @job decorator's contract, and how a worker turns a job row's name back into a function."""

from __future__ import annotations

from typing import Any

import pytest

from kith.core.jobs import job
from kith.core.jobs.registry import REGISTRY, UnknownJob, job_function_get
from kith.core.tests.jobs_support import failing_job, record_job


def test_job_decorator_records_name_and_options() -> None:
    assert record_job.name == "kith.core.tests.jobs_support.record_job"
    assert (failing_job.queue, failing_job.max_attempts, failing_job.lease_seconds) == ("default", 3, 300)
    assert REGISTRY[failing_job.name] is failing_job


def test_job_function_is_resolved_by_its_registered_name() -> None:
    assert job_function_get(record_job.name) is record_job


@pytest.mark.parametrize(
    "name",
    ["kith.core.tests.jobs_support.read_records", "os.path.join", "kith.nowhere.job", "nodots"],
    ids=["undecorated-function", "stdlib-function", "missing-module", "not-dotted"],
)
def test_name_that_is_not_a_registered_job_never_resolves_to_a_callable(name: str) -> None:
    with pytest.raises(UnknownJob):
        job_function_get(name)


def _positional(value: int) -> None:
    pass


def _uses_run_at(*, run_at: str) -> None:
    pass


def _ok(*, value: int) -> None:
    pass


@pytest.mark.parametrize(
    ("func", "options", "message"),
    [
        (_positional, {}, "must be keyword-only"),
        (_uses_run_at, {}, "reserved by enqueue_on_commit"),
        (_ok, {"name": "somewhere.else.ok"}, "must be 'kith.core.tests.test_jobs_registry.<identifier>'"),
        (_ok, {"max_attempts": 0}, "at least 1"),
    ],
    ids=["positional", "run_at", "foreign-name", "zero-attempts"],
)
def test_job_decorator_refuses_functions_a_worker_could_not_call_safely(
    func: Any, options: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        job(**options)(func)


def test_job_decorator_refuses_nested_functions_workers_cannot_import() -> None:
    def nested(*, value: int) -> None:
        pass

    with pytest.raises(ValueError, match="module-level"):
        job(nested)
