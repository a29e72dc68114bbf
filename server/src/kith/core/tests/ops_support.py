"""Helpers shared by the operations tests (health, metrics, logs, ``kith_run``)."""

from __future__ import annotations

import datetime as dt
import socket
from pathlib import Path

from django.utils import timezone

from kith.core.jobs.models import Job

SERVER_DIR = Path(__file__).resolve().parents[4]  # server/
REPO_DIR = SERVER_DIR.parent


def closed_port() -> int:
    """A local TCP port nothing listens on: bound once to get a free number, then released."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def make_job(*, status: str = Job.Status.QUEUED, run_in_seconds: float = 0) -> Job:
    return Job.objects.create(
        name="kith.tests.noop", status=status, run_at=timezone.now() + dt.timedelta(seconds=run_in_seconds)
    )
