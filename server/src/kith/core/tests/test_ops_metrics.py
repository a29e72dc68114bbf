"""``/metrics``: Prometheus text with HTTP counters and scrape-time job gauges, optionally behind a bearer token."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from unittest import mock

import pytest
from django.db import OperationalError, connection
from django.test import override_settings
from prometheus_client.parser import text_string_to_metric_families

from kith.core.jobs.models import Job
from kith.core.tests.ops_support import SERVER_DIR, make_job

pytestmark = pytest.mark.django_db


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of an exposition as {(name, sorted labels): value}."""
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def test_metrics_expose_http_counters_and_job_rows_by_status(client):
    make_job()
    make_job()
    make_job(status=Job.Status.DONE)
    client.get("/healthz")

    response = client.get("/metrics")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    values = samples(response.content.decode())
    assert values[("kith_http_requests_total", (("method", "GET"), ("status", "200")))] >= 1
    assert ("kith_http_request_duration_seconds_count", (("method", "GET"),)) in values
    assert values[("kith_jobs", (("status", "queued"),))] == 2
    assert values[("kith_jobs", (("status", "done"),))] == 1
    # Empty statuses are reported as 0, so their series never disappear.
    assert values[("kith_jobs", (("status", "running"),))] == 0
    assert values[("kith_jobs", (("status", "failed"),))] == 0
    assert values[("kith_database_up", ())] == 1
    assert ("kith_jobs_oldest_due_seconds", ()) in values
    assert any(name == "kith_build_info" for name, _ in values)


def test_the_job_gauges_come_from_one_query(client, django_assert_num_queries):
    make_job()
    with django_assert_num_queries(1):
        client.get("/metrics")


def test_metrics_still_answer_when_the_database_is_down(client):
    with mock.patch.object(connection, "ensure_connection", side_effect=OperationalError("connection refused")):
        response = client.get("/metrics")

    assert response.status_code == 200
    values = samples(response.content.decode())
    assert values[("kith_database_up", ())] == 0
    assert ("kith_http_requests_total", (("method", "GET"), ("status", "200"))) in values


@override_settings(KITH_METRICS_TOKEN="metrics-token-0123456789")
@pytest.mark.parametrize(
    ("authorization", "status"),
    [
        (None, 401),
        ("Bearer wrong-token", 401),
        ("Basic metrics-token-0123456789", 401),
        ("Bearer metrics-token-0123456789", 200),
        ("bearer metrics-token-0123456789", 200),
    ],
)
def test_metrics_token_when_set_is_required_as_a_bearer_token(client, authorization, status):
    headers = {"HTTP_AUTHORIZATION": authorization} if authorization else {}

    response = client.get("/metrics", **headers)

    assert response.status_code == status
    if status == 401:
        assert response["WWW-Authenticate"].startswith("Bearer")
        assert b"kith_" not in response.content


@override_settings(ALLOWED_HOSTS=["kith.example.com"])
def test_prometheus_may_scrape_by_service_name(client):
    assert client.get("/metrics", HTTP_HOST="web:8000").status_code == 200


_WORKER_SCRIPT = textwrap.dedent(
    """
    import sys, django
    django.setup()
    from django.test import Client
    for _ in range(int(sys.argv[1])):
        assert Client().get("/metrics").status_code == 200
    """
)
_SCRAPE_SCRIPT = textwrap.dedent(
    """
    import django
    django.setup()
    from kith.core.metrics import render_latest
    print(render_latest().decode())
    """
)


@pytest.mark.slow
def test_with_a_multiprocess_directory_every_process_counts_into_one_scrape(tmp_path):
    # Two "gunicorn workers" serve requests; a third process answers the scrape and must see both.
    metrics_dir = tmp_path / "prometheus"
    metrics_dir.mkdir()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "kith.settings",
        "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'metrics.sqlite3'}",
        "KITH_LOG_LEVEL": "WARNING",
    }
    for count in ("3", "4"):
        subprocess.run([sys.executable, "-c", _WORKER_SCRIPT, count], env=env, cwd=SERVER_DIR, check=True, timeout=60)

    scrape = subprocess.run(
        [sys.executable, "-c", _SCRAPE_SCRIPT], env=env, cwd=SERVER_DIR, check=True, timeout=60,
        capture_output=True, text=True,
    )  # fmt: skip

    values = samples(scrape.stdout)
    assert values[("kith_http_requests_total", (("method", "GET"), ("status", "200")))] == 7
    assert values[("kith_http_request_duration_seconds_count", (("method", "GET"),))] == 7
    # The empty database has no job table: the scrape says so instead of failing.
    assert values[("kith_database_up", ())] == 0
