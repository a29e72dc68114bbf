"""Jobs used by the jobs tests. A module of its own so worker subprocesses (embedded and Celery) can import it by
the job's dotted name, exactly as they import production jobs.

The jobs leave their traces in files (paths passed as arguments) rather than in tables, so they work the same
whichever process runs them and whichever database the test uses.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from django.db import transaction

from kith.core.jobs import JobLeaseLost, job, job_lease_extend
from kith.core.jobs.models import Job

# What capture_job received, in this process (the immediate runner and in-process workers run jobs here).
CAPTURED: list[dict[str, Any]] = []


def _append(path: str, record: dict[str, Any]) -> None:
    with Path(path).open("a", encoding="utf-8") as fh:
        fh.write(json.dumps(record) + "\n")


def read_records(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


@job
def capture_job(*, value: Any) -> None:
    CAPTURED.append({"value": value})


@job
def record_job(*, path: str, value: Any) -> None:
    _append(path, {"value": value, "at": time.time()})


@job(max_attempts=3)
def failing_job(*, path: str) -> None:
    _append(path, {"at": time.time()})
    raise RuntimeError("the provider said no")


@job(lease_seconds=2)
def hang_on_first_attempt_job(*, path: str) -> None:
    """The first attempt records its start, then hangs while renewing its 2 s lease (so a slow machine cannot
    mistake it for dead) until its worker is killed; later attempts finish at once."""
    attempt = len(read_records(Path(path))) + 1
    _append(path, {"attempt": attempt, "at": time.time()})
    if attempt == 1:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            job_lease_extend()
            time.sleep(0.2)


@job(lease_seconds=30)
def heartbeat_job(*, path: str, extend_to: int) -> None:
    job_lease_extend(seconds=extend_to)
    row = Job.objects.get(name=heartbeat_job.name)
    _append(path, {"lease_until": row.lease_until.timestamp() if row.lease_until else None})


@job
def taken_over_job(*, path: str) -> None:
    """Simulates overrunning the lease: while it runs, "another worker" reclaims its row."""
    Job.objects.filter(name=taken_over_job.name).update(attempts=2, claimed_by="other-worker")
    try:
        job_lease_extend()
    except JobLeaseLost:
        _append(path, {"lease_lost": True})


@job
def sleep_job(*, path: str, seconds: float) -> None:
    _append(path, {"event": "start", "at": time.time()})
    time.sleep(seconds)
    _append(path, {"event": "end", "at": time.time()})


@job(max_attempts=2)
def failing_in_transaction_job(*, path: str) -> None:
    """Writes inside its own atomic block, then fails: the write must roll back and no transaction stay open."""
    with transaction.atomic():
        Job.objects.filter(name=failing_in_transaction_job.name).update(last_error="written inside the job")
        raise RuntimeError("failed mid-transaction")
