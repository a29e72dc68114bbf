"""``/healthz``: 200 while the app can serve, 503 with a JSON body when the database (or the Celery broker) is down."""

from __future__ import annotations

import os
from importlib.metadata import version
from unittest import mock

import pytest
from django.conf import settings
from django.db import OperationalError, connection
from django.db.utils import ConnectionHandler
from django.test import override_settings

from kith.core import health
from kith.core.jobs.models import Job
from kith.core.tests.ops_support import closed_port, make_job

pytestmark = pytest.mark.django_db


def test_healthz_answers_200_with_database_runner_and_version(client):
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert "no-cache" in response["Cache-Control"]
    body = response.json()
    assert body["status"] == "ok"
    assert body["version"] == version("kith")
    assert body["database"]["ok"] is True
    assert body["database"]["vendor"] == connection.vendor
    assert body["jobs"]["runner"] == settings.KITH_JOBS_RUNNER
    assert "broker" not in body["jobs"]


@override_settings(KITH_JOBS_RUNNER="embedded")
def test_healthz_reports_the_age_of_the_oldest_due_queued_job(client):
    make_job(run_in_seconds=-90)
    make_job(run_in_seconds=-10)
    make_job(run_in_seconds=3600)  # queued but not due yet
    make_job(status=Job.Status.DONE, run_in_seconds=-5000)  # finished long ago

    body = client.get("/healthz").json()

    assert body["jobs"]["runner"] == "embedded"
    assert 90 <= body["jobs"]["oldest_due_seconds"] < 120


def test_healthz_reports_no_backlog_as_zero(client):
    make_job(run_in_seconds=3600)

    assert client.get("/healthz").json()["jobs"]["oldest_due_seconds"] == 0


def test_healthz_answers_503_when_the_database_is_down(client):
    with mock.patch.object(connection, "ensure_connection", side_effect=OperationalError("connection refused")):
        response = client.get("/healthz")

    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["database"] == {"vendor": connection.vendor, "ok": False, "latency_ms": mock.ANY,
                                "error": "OperationalError"}
    assert body["jobs"]["oldest_due_seconds"] is None


def test_healthz_answers_503_when_postgresql_is_unreachable_on_a_closed_port(client):
    # A real connection attempt through psycopg to a port nobody listens on, not a mock.
    unreachable = ConnectionHandler(
        {
            "default": {
                "ENGINE": "django.db.backends.postgresql",
                "NAME": "kith",
                "USER": "postgres",
                "HOST": "127.0.0.1",
                "PORT": str(closed_port()),
                "OPTIONS": {"connect_timeout": 2},
            }
        }
    )["default"]
    try:
        with mock.patch.object(health, "connection", unreachable):
            response = client.get("/healthz")
    finally:
        unreachable.close()

    assert response.status_code == 503
    assert response.json()["database"]["error"] == "OperationalError"


def test_healthz_with_a_session_cookie_still_answers_503_not_500_when_the_database_is_down(client):
    # A browser tab sends its session cookie; loading that session would need the database that is down.
    client.cookies["sessionid"] = "a-session-that-would-need-the-database"
    with mock.patch.object(connection, "ensure_connection", side_effect=OperationalError("connection refused")):
        response = client.get("/healthz")

    assert response.status_code == 503


@override_settings(ALLOWED_HOSTS=["kith.example.com"])
def test_healthz_answers_probes_that_use_an_internal_host_name(client):
    # Docker's HEALTHCHECK and Prometheus reach the container by IP or service name, not the public host.
    assert client.get("/healthz", HTTP_HOST="10.0.0.7:8000").status_code == 200
    # Every other page keeps Django's host validation.
    assert client.get("/accounts/login/", HTTP_HOST="10.0.0.7:8000").status_code == 400


def test_healthz_rejects_writes(client):
    assert client.post("/healthz").status_code == 405


@pytest.mark.parametrize("scheme", ["redis", "amqp"])
def test_healthz_answers_503_when_celery_is_configured_and_the_broker_is_down(client, scheme):
    broker_url = f"{scheme}://kith:s3cret-broker-password@127.0.0.1:{closed_port()}/0"
    with override_settings(KITH_JOBS_RUNNER="celery", CELERY_BROKER_URL=broker_url):
        response = client.get("/healthz")

    assert response.status_code == 503
    body = response.json()
    assert body["database"]["ok"] is True
    assert body["jobs"]["runner"] == "celery"
    assert body["jobs"]["broker"]["ok"] is False
    assert b"s3cret-broker-password" not in response.content
    assert b"127.0.0.1" not in response.content  # connection details go to the log, not to the public endpoint


@override_settings(KITH_JOBS_RUNNER="celery", CELERY_BROKER_URL="memory://")
def test_healthz_answers_200_when_celery_is_configured_and_the_broker_answers(client):
    # kombu's in-memory transport: the AMQP/kombu code path, without needing a broker on this machine.
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json()["jobs"]["broker"]["ok"] is True


@pytest.mark.celery
def test_healthz_pings_a_real_redis_broker(client):
    with override_settings(KITH_JOBS_RUNNER="celery", CELERY_BROKER_URL=os.environ["KITH_TEST_BROKER_URL"]):
        response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json()["jobs"]["broker"]["ok"] is True


def test_a_failing_backlog_query_is_reported_not_raised(client):
    with mock.patch.object(health, "oldest_due_job_seconds", side_effect=OperationalError("server closed")):
        response = client.get("/healthz")

    assert response.status_code == 503
    assert response.json()["database"]["ok"] is False
