"""``manage.py kith_run`` (``make run``): starts a working server and job runner, and stops both cleanly."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from kith.accounts.demo import DEMO_EMAIL
from kith.core.tests.ops_support import SERVER_DIR, closed_port

pytestmark = pytest.mark.slow

# Migrations and the demo data take ~12 s on a quiet machine; CI runs this beside another xdist worker on 2 cores.
START_TIMEOUT = 180


def status_of(url: str) -> int | None:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return error.code
    except OSError:
        return None


def descendants(pid: int) -> set[int]:
    """Every process below ``pid`` (Linux /proc), children first."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # the process exited while we looked
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found: set[int] = set()
    pending = [pid]
    while pending:
        for child in children.get(pending.pop(), []):
            found.add(child)
            pending.append(child)
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@dataclass
class Run:
    process: subprocess.Popen[bytes]
    base_url: str
    log: Path

    def output(self) -> str:
        return self.log.read_text()


@pytest.fixture
def kith_run(tmp_path: Path) -> Iterator[Run]:
    port = closed_port()
    env = {
        **os.environ,
        "KITH_DATA_DIR": str(tmp_path),
        "KITH_PORT": str(port),
        # The mail sink's port too: a developer's own `make run` (or a parallel test) may hold the default 1025.
        "KITH_SMTP_PORT": str(closed_port()),
        "KITH_JOBS_RUNNER": "embedded",
        "KITH_LOG_LEVEL": "WARNING",
    }
    # Its own SQLite file: the test must never migrate or fill a real database named by DATABASE_URL.
    for name in ("DATABASE_URL", "PROMETHEUS_MULTIPROC_DIR", "CELERY_BROKER_URL", "REDIS_URL"):
        env.pop(name, None)
    log = tmp_path / "kith_run.log"
    with log.open("wb") as sink:  # a file, not a pipe: a full pipe would block the server's writes
        process = subprocess.Popen(
            [sys.executable, "manage.py", "kith_run", "--stop-timeout", "15"],
            cwd=SERVER_DIR,
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    run = Run(process=process, base_url=f"http://127.0.0.1:{port}", log=log)
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while status_of(f"{run.base_url}/healthz") != 200:
            assert process.poll() is None, f"kith_run exited early:\n{run.output()}"
            assert time.monotonic() < deadline, f"/healthz did not answer 200 in time:\n{run.output()}"
            time.sleep(0.5)
        yield run
    finally:
        leftovers = descendants(process.pid)
        if process.poll() is None:
            process.kill()
            process.wait()
        for pid in leftovers:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)


def test_kith_run_serves_the_app_and_stops_both_children_on_ctrl_c(kith_run):
    children = descendants(kith_run.process.pid)
    assert len(children) >= 5  # the gunicorn master and its 2 workers, kith_worker, kith_mailsink

    assert status_of(f"{kith_run.base_url}/accounts/login/") == 200
    assert status_of(f"{kith_run.base_url}/metrics") == 200

    kith_run.process.send_signal(signal.SIGINT)
    returncode = kith_run.process.wait(timeout=60)

    output = kith_run.output()
    assert returncode == 0, output
    assert f"Kith is running at {kith_run.base_url}/" in output
    assert f"Log in as {DEMO_EMAIL}" in output
    assert not [pid for pid in children if alive(pid)]


def test_kith_run_stops_the_server_and_fails_when_the_job_runner_dies(kith_run):
    children = descendants(kith_run.process.pid)
    worker = next(pid for pid in children if b"kith_worker" in Path(f"/proc/{pid}/cmdline").read_bytes())

    os.kill(worker, signal.SIGKILL)
    returncode = kith_run.process.wait(timeout=60)

    assert returncode != 0
    assert "job runner exited unexpectedly" in kith_run.output()
    assert not [pid for pid in children if alive(pid)]
