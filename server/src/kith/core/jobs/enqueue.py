"""``enqueue_on_commit``: the one way to start background work."""

from __future__ import annotations

import datetime as dt
import functools
import json
from typing import Any

from django.conf import settings
from django.db import transaction

from kith.core import clock
from kith.core.jobs.celery_runner import doorbell_ring
from kith.core.jobs.registry import JobFunction
from kith.core.jobs.runner import job_row_create
from kith.core.jobs.worker import WAKEUP


def _json_round_trip(task: JobFunction[..., Any], kwargs: dict[str, Any]) -> dict[str, Any]:
    # Every runner hands the job what a worker would read back from the row, so a test under the immediate runner
    # sees exactly what production sees (a tuple arrives as a list, dict keys as strings).
    try:
        encoded = json.dumps(kwargs, allow_nan=False)
    except (TypeError, ValueError) as exc:
        for key, value in kwargs.items():
            try:
                json.dumps(value, allow_nan=False)
            except (TypeError, ValueError):
                raise TypeError(
                    f"Job {task.name}: argument {key}={value!r} ({type(value).__name__}) is not JSON-serializable. "
                    "Pass ids and plain values (ISO strings for datetimes), not objects."
                ) from exc
        raise TypeError(f"Job {task.name}: arguments are not JSON-serializable: {exc}") from exc
    decoded: dict[str, Any] = json.loads(encoded)
    return decoded


def _run_immediately(task: JobFunction[..., Any], kwargs: dict[str, Any]) -> None:
    task.func(**kwargs)


def enqueue_on_commit(task: JobFunction[..., Any], /, *, run_at: dt.datetime | None = None, **kwargs: Any) -> None:
    """Run job ``task`` with ``kwargs`` after the current transaction commits, not before ``run_at`` if given.

    ``kwargs`` must be JSON-serializable (``TypeError`` here otherwise) and fit the job's signature. If the
    transaction rolls back, the job never runs. By ``settings.KITH_JOBS_RUNNER``:

    - ``celery`` and ``embedded``: a ``Job`` row is inserted in the caller's transaction (a rollback removes it).
      After commit Celery gets a doorbell carrying the row id; the embedded worker polls (and is woken if it runs
      in this process).
    - ``immediate`` (tests): no row; after commit the function is called in-process with the JSON round-tripped
      arguments, ignoring ``run_at``. Its exceptions propagate to the committing code.
    """
    if not isinstance(task, JobFunction):
        raise TypeError(f"{task!r} is not a job: decorate the function with @job from kith.core.jobs.")
    if run_at is not None and (run_at.tzinfo is None or run_at.utcoffset() is None):
        raise ValueError(f"Job {task.name}: run_at must be timezone-aware, got {run_at!r}.")
    task.check_kwargs(kwargs)
    payload = _json_round_trip(task, kwargs)
    runner = settings.KITH_JOBS_RUNNER
    if runner == "immediate":
        transaction.on_commit(functools.partial(_run_immediately, task, payload))
        return
    row = job_row_create(function=task, kwargs=payload, run_at=run_at or clock.now())
    if runner == "celery":
        transaction.on_commit(functools.partial(doorbell_ring, job_id=row.pk, queue=row.queue, run_at=run_at))
    else:
        transaction.on_commit(WAKEUP.set)
