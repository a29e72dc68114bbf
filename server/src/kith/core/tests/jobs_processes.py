"""Worker subprocesses for the jobs tests: ``manage.py kith_worker`` and ``celery worker`` against the test
database (and the test broker), started, killed and waited for."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

import pytest
from django.conf import settings
from django.db import connection

import kith

# Jobs tests that need real commits (the immediate runner's on_commit, worker processes reading committed rows).
# Only core's tables are flushed afterwards: truncating every app's tables costs seconds per test on PostgreSQL.
committing_db = pytest.mark.django_db(transaction=True, available_apps=["kith.core"])

SERVER_DIR = Path(kith.__file__).resolve().parents[2]


def database_url_for_subprocess() -> str:
    """A DATABASE_URL that points a subprocess at the database this test process uses (the test database)."""
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{Path(db['NAME']).resolve()}"
    if connection.vendor == "postgresql":
        auth = quote(db["USER"] or "", safe="")
        if db["PASSWORD"]:
            auth += ":" + quote(db["PASSWORD"], safe="")
        host = db["HOST"] or "127.0.0.1"
        port = db["PORT"] or 5432
        return f"postgres://{auth}@{host}:{port}/{db['NAME']}"
    raise AssertionError(f"No subprocess DATABASE_URL for {connection.vendor}")


def wait_for(predicate: Callable[[], bool], *, timeout: float, what: str, log: Path | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    details = f"\n--- worker log ---\n{log.read_text(errors='replace')}" if log and log.exists() else ""
    raise AssertionError(f"Timed out after {timeout}s waiting for {what}.{details}")


class Workers:
    """Worker subprocesses started by one test; whatever is still running at teardown is killed."""

    def __init__(self, *, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.processes: list[subprocess.Popen[bytes]] = []
        self.logs: list[Path] = []

    def _env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in {"CELERY_BROKER_URL", "REDIS_URL"}}
        env.update(
            DATABASE_URL=database_url_for_subprocess(),
            KITH_DATA_DIR=str(settings.KITH_DATA_DIR),
            KITH_JOBS_POLL_INTERVAL="0.1",
            KITH_LOG_FORMAT="plain",
            KITH_LOG_LEVEL="INFO",
            PYTHONUNBUFFERED="1",
        )
        env.update(extra)
        return env

    def _spawn(self, argv: list[str], env: dict[str, str]) -> tuple[subprocess.Popen[bytes], Path]:
        log = self.tmp_path / f"worker-{len(self.logs) + 1}.log"
        with log.open("wb") as fh:
            process = subprocess.Popen(argv, cwd=SERVER_DIR, env=env, stdout=fh, stderr=subprocess.STDOUT)
        self.processes.append(process)
        self.logs.append(log)
        return process, log

    def start_embedded(self) -> tuple[subprocess.Popen[bytes], Path]:
        argv = [sys.executable, "manage.py", "kith_worker", "--worker-id", f"embedded-{len(self.logs) + 1}"]
        process, log = self._spawn(argv, self._env(KITH_JOBS_RUNNER="embedded"))
        wait_for(lambda: "embedded job worker" in log.read_text(errors="replace") or process.poll() is not None,
                 timeout=30, what="the embedded worker to start", log=log)
        assert process.poll() is None, log.read_text(errors="replace")
        return process, log

    def start_celery(self, *, broker_url: str) -> tuple[subprocess.Popen[bytes], Path]:
        argv = [
            sys.executable, "-m", "celery", "-A", "kith", "worker", "--pool=solo", "-Q", "kith",
            "--loglevel=info", "--without-gossip", "--without-mingle", "--without-heartbeat",
            "--hostname", f"kith-test-{uuid.uuid4().hex[:8]}@%h",
        ]
        process, log = self._spawn(argv, self._env(KITH_JOBS_RUNNER="celery", CELERY_BROKER_URL=broker_url))
        wait_for(lambda: " ready." in log.read_text(errors="replace") or process.poll() is not None,
                 timeout=30, what="the Celery worker to be ready", log=log)
        assert process.poll() is None, log.read_text(errors="replace")
        return process, log

    def kill(self, process: subprocess.Popen[bytes]) -> None:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)

    def stop_all(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                self.kill(process)
