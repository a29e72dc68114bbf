"""deploy/: the compose file, Dockerfile and Procfile only name variables and modules that exist.

There is no Docker engine where the suite runs, so these files are checked by reading them; gunicorn.conf.py,
which is Python, is also run for real.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import yaml
from celery import Celery
from django.core.management import get_commands
from django.urls import resolve

from kith.celery import app as celery_app
from kith.core.tests.ops_support import REPO_DIR, closed_port
from kith.core.tests.test_ops_config import env_example_entries, variables_read_by_kith
from kith.core.tests.test_ops_metrics import samples
from kith.wsgi import application

DEPLOY_DIR = REPO_DIR / "deploy"
KITH_IMAGE = "kith:latest"
IMAGE_GUNICORN_CONFIG = "/app/deploy/gunicorn.conf.py"


def compose() -> dict[str, Any]:
    return yaml.safe_load((DEPLOY_DIR / "docker-compose.yml").read_text())


def kith_services() -> dict[str, dict[str, Any]]:
    return {name: service for name, service in compose()["services"].items() if service.get("image") == KITH_IMAGE}


def dockerfile() -> str:
    # Joined continuation lines, one instruction per line.
    return re.sub(r"\\\n\s*", " ", (DEPLOY_DIR / "Dockerfile").read_text())


def assert_runs_kith(command: list[str]) -> None:
    """``command`` starts gunicorn on kith.wsgi, a Celery worker/beat of kith, or a manage.py command."""
    program = command[0]
    if program == "gunicorn":
        assert command[1] == "kith.wsgi" and callable(application)
        if "--config" in command:
            config = command[command.index("--config") + 1]
            assert config in (IMAGE_GUNICORN_CONFIG, "deploy/gunicorn.conf.py")
    elif program == "celery":
        assert command[1:3] == ["-A", "kith"] and isinstance(celery_app, Celery)
        assert command[3] in {"worker", "beat"}
    elif program == "kith":
        assert command[1] in get_commands(), f"no management command {command[1]!r}"
    else:
        raise AssertionError(f"unexpected program {program!r} in {command}")


def test_compose_runs_web_worker_beat_postgres_and_redis():
    services = compose()["services"]

    assert {"web", "worker", "beat", "postgres", "redis", "migrate"} <= set(services)
    assert services["postgres"]["image"] == "postgres:15"
    assert services["redis"]["image"] == "redis:7"
    assert set(kith_services()) == {"web", "worker", "beat", "migrate"}


def test_compose_sets_only_variables_that_kith_reads():
    known = variables_read_by_kith()
    for name, service in kith_services().items():
        assert service["env_file"] == "../.env", name  # the file .env.example documents
        unknown = set(service["environment"]) - known
        assert not unknown, f"{name} sets variables Kith never reads: {sorted(unknown)}"
        assert service["environment"]["KITH_ENV"] == "production"
        assert service["environment"]["KITH_JOBS_RUNNER"] == "celery"


def test_compose_points_kith_at_its_own_postgres_and_redis():
    environment = kith_services()["web"]["environment"]
    postgres = compose()["services"]["postgres"]["environment"]

    assert environment["DATABASE_URL"] == (
        f"postgres://{postgres['POSTGRES_USER']}:{postgres['POSTGRES_PASSWORD']}@postgres:5432/{postgres['POSTGRES_DB']}"
    )
    assert environment["CELERY_BROKER_URL"].startswith("redis://redis:6379/")


def test_every_variable_compose_interpolates_is_documented_in_env_example():
    interpolated = set(re.findall(r"\$\{([A-Z][A-Z0-9_]*)", (DEPLOY_DIR / "docker-compose.yml").read_text()))

    assert interpolated <= set(env_example_entries())


def test_compose_commands_run_real_kith_entry_points():
    for service in kith_services().values():
        assert_runs_kith(service["command"])
    assert kith_services()["web"]["command"][0] == "gunicorn"
    assert kith_services()["worker"]["command"][3] == "worker"
    assert kith_services()["beat"]["command"][3] == "beat"


def test_compose_starts_kith_after_healthy_dependencies_and_migrations():
    services = kith_services()
    for name in ("web", "worker", "beat"):
        depends_on = services[name]["depends_on"]
        assert depends_on["postgres"]["condition"] == "service_healthy"
        assert depends_on["redis"]["condition"] == "service_healthy"
        assert depends_on["migrate"]["condition"] == "service_completed_successfully"
    for name in ("postgres", "redis"):
        assert compose()["services"][name]["healthcheck"]["test"]


def test_the_web_health_checks_probe_healthz():
    probe = "http://127.0.0.1:8000/healthz"
    assert probe in " ".join(kith_services()["web"]["healthcheck"]["test"])
    assert probe in dockerfile()
    assert resolve("/healthz").url_name == "healthz"


def test_dockerfile_builds_a_non_root_gunicorn_image_with_collected_static_files():
    text = dockerfile()
    instructions = [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")]

    assert instructions[0] == "FROM python:3.11-slim"
    user = [line.split()[1] for line in instructions if line.startswith("USER ")]
    assert user and user[-1] not in {"root", "0"}
    assert re.search(r"^RUN .*\bkith collectstatic --noinput", text, re.MULTILINE)
    assert "HEALTHCHECK" in text
    cmd = [line for line in instructions if line.startswith("CMD ")][-1]
    assert_runs_kith(json.loads(cmd.removeprefix("CMD ")))


def test_dockerfile_copies_files_that_exist_to_the_paths_the_commands_use():
    copies = re.findall(r"^COPY (\S+) (\S+)$", dockerfile(), re.MULTILINE)

    assert copies
    for source, _destination in copies:
        assert (REPO_DIR / source).exists(), source
    assert ("deploy/gunicorn.conf.py", IMAGE_GUNICORN_CONFIG) in copies


def test_dockerignore_keeps_secrets_and_local_state_out_of_the_image():
    ignored = (DEPLOY_DIR / "Dockerfile.dockerignore").read_text().splitlines()

    assert {".env", ".git", "**/.venv", "**/var"} <= set(ignored)


def test_procfile_processes_run_real_kith_entry_points():
    processes = dict(
        line.split(":", 1) for line in (DEPLOY_DIR / "Procfile").read_text().splitlines() if line.strip()
    )

    assert {"web", "worker", "beat"} <= set(processes)
    for command in processes.values():
        assert_runs_kith(shlex.split(command))


@pytest.mark.slow
def test_gunicorn_with_the_deploy_config_sums_every_worker_into_one_scrape(tmp_path: Path):
    port = closed_port()
    metrics_dir = tmp_path / "prometheus"
    env = {
        **os.environ,
        "PORT": str(port),
        "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'gunicorn.sqlite3'}",
        "KITH_LOG_LEVEL": "ERROR",  # the unmigrated database makes every probe log a warning
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "kith.wsgi", "--config", str(DEPLOY_DIR / "gunicorn.conf.py")],
        env=env,
        cwd=tmp_path,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        _wait_until_listening(f"{base}/healthz", server)  # exactly one request answered
        for _ in range(20):
            _get(f"{base}/healthz")  # 503 here (the empty database has no job table); counted all the same
        values = samples(_get(f"{base}/metrics"))
        counter_files = [path for path in metrics_dir.iterdir() if path.name.startswith("counter_")]
    finally:
        server.terminate()
        server.wait(timeout=30)

    # The workers count into the shared directory (one file per worker that served something; which worker gets
    # a request is up to the kernel, so the summing itself is proven by test_ops_metrics), and the scrape,
    # answered by any worker, counts every request.
    assert counter_files
    served = sum(
        value
        for (name, labels), value in values.items()
        if name == "kith_http_requests_total" and dict(labels)["method"] == "GET"
    )
    assert served == 21


def _get(url: str) -> str:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.read().decode()
    except urllib.error.HTTPError as error:
        return error.read().decode()


def _wait_until_listening(url: str, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert server.poll() is None, "gunicorn exited"
        try:
            _get(url)
            return
        except OSError:
            time.sleep(0.2)
    raise AssertionError("gunicorn did not start listening")
