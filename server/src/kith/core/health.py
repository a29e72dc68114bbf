"""What ``/healthz`` reports: the database, the job runner (its broker under Celery) and the job backlog.

Every check has a short timeout and turns an unreachable dependency into ``ok: false`` with the exception's class
name, so a probe always gets a JSON answer (200 or 503), never a 500. The detailed error goes to the log only: connection errors name internal hosts and the
health endpoint is public.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from typing import Any
from urllib.parse import urlsplit

import redis
from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.db.models import Min
from django.utils import timezone
from kombu import Connection as KombuConnection

from kith.core.jobs.models import Job

logger = logging.getLogger(__name__)

# Below the 5 s timeout of the Docker HEALTHCHECK and typical load-balancer probes, so a hung dependency is reported
# as "down" in a JSON body instead of the probe itself timing out.
CHECK_TIMEOUT_SECONDS = 2.0

_STATEMENT_TIMEOUT_MS = str(int(CHECK_TIMEOUT_SECONDS * 1000))
_REDIS_SCHEMES = frozenset({"redis", "rediss", "unix"})


def app_version() -> str:
    try:
        return version("kith")
    except PackageNotFoundError:  # running from a source tree that was never pip-installed
        return "unknown"


APP_VERSION = app_version()


@dataclass
class CheckResult:
    ok: bool
    latency_ms: float
    error: str = ""

    def as_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"ok": self.ok, "latency_ms": self.latency_ms}
        if self.error:
            data["error"] = self.error
        return data


@dataclass
class HealthReport:
    database: CheckResult
    runner: str
    broker: CheckResult | None = None
    oldest_due_job_seconds: float | None = None

    @property
    def healthy(self) -> bool:
        """Serving needs the database; under Celery it also needs the broker, or no background work starts."""
        broker_ok = self.broker is None or self.broker.ok
        return self.database.ok and broker_ok

    def as_dict(self) -> dict[str, Any]:
        jobs: dict[str, Any] = {"runner": self.runner, "oldest_due_seconds": self.oldest_due_job_seconds}
        if self.broker is not None:
            jobs["broker"] = self.broker.as_dict()
        return {
            "status": "ok" if self.healthy else "unavailable",
            "version": APP_VERSION,
            "database": {"vendor": connection.vendor, **self.database.as_dict()},
            "jobs": jobs,
        }


def _elapsed_ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 1)


def _failed(what: str, started: float, exc: Exception) -> CheckResult:
    logger.warning("health check of the %s failed: %s: %s", what, type(exc).__name__, exc)
    return CheckResult(ok=False, latency_ms=_elapsed_ms(started), error=type(exc).__name__)


def check_database() -> CheckResult:
    """``SELECT 1`` on the default connection; on PostgreSQL bounded by a transaction-local statement timeout.

    The connect itself is bounded by ``connect_timeout`` (settings). SQLite needs no timeout for ``SELECT 1``: it
    takes no lock, and opening the file cannot hang on a network.
    """
    started = time.perf_counter()
    try:
        if connection.vendor == "postgresql":
            with transaction.atomic(), connection.cursor() as cursor:
                # is_local=true: the timeout ends with this transaction and never leaks into the pooled connection.
                cursor.execute("SELECT set_config('statement_timeout', %s, true)", [_STATEMENT_TIMEOUT_MS])
                cursor.execute("SELECT 1")
                cursor.fetchone()
        else:
            with connection.cursor() as cursor:
                cursor.execute("SELECT 1")
                cursor.fetchone()
    except DatabaseError as exc:  # Django wraps every driver error (refused, timeout, auth) in DatabaseError
        return _failed("database", started, exc)
    return CheckResult(ok=True, latency_ms=_elapsed_ms(started))


def check_broker(url: str) -> CheckResult:
    """Connect to the Celery broker: a Redis ``PING``, or an AMQP (or other kombu transport) connection."""
    started = time.perf_counter()
    try:
        if urlsplit(url).scheme in _REDIS_SCHEMES:
            client = redis.Redis.from_url(
                url, socket_connect_timeout=CHECK_TIMEOUT_SECONDS, socket_timeout=CHECK_TIMEOUT_SECONDS
            )
            try:
                client.ping()
            finally:
                client.close()
        else:
            with KombuConnection(url, connect_timeout=CHECK_TIMEOUT_SECONDS) as conn:
                # One attempt: a probe wants the state now, not kombu's default retry loop.
                conn.ensure_connection(max_retries=0, timeout=CHECK_TIMEOUT_SECONDS)
    # redis, kombu, amqp and the socket layer each raise their own types (and ValueError for a malformed URL):
    # any of them means "broker unusable", which is reported and logged, never raised into a 500.
    except Exception as exc:  # noqa: BLE001
        return _failed("broker", started, exc)
    return CheckResult(ok=True, latency_ms=_elapsed_ms(started))


def oldest_due_job_seconds() -> float:
    """Age of the oldest queued job that is due (0 when none): how far behind the runners are.

    Under Celery too: the job row is the truth and the broker message only a doorbell, so a growing age means
    work is not being done whatever the broker says. One indexed query (``job_due_idx``).
    """
    now = timezone.now()
    oldest = Job.objects.filter(status=Job.Status.QUEUED, run_at__lte=now).aggregate(oldest=Min("run_at"))["oldest"]
    return 0.0 if oldest is None else round((now - oldest).total_seconds(), 1)


def health_report() -> HealthReport:
    database = check_database()
    report = HealthReport(database=database, runner=settings.KITH_JOBS_RUNNER)
    if settings.KITH_JOBS_RUNNER == "celery":
        report.broker = check_broker(settings.CELERY_BROKER_URL)
    if database.ok:
        try:
            report.oldest_due_job_seconds = oldest_due_job_seconds()
        except DatabaseError as exc:  # the database went away between the two queries: report it, do not raise
            report.database = _failed("database", time.perf_counter(), exc)
    return report
