"""The ``/metrics`` body: per-process counters plus gauges read from the database at scrape time.

Per-process metrics (``kith.core.observability``: HTTP requests and latency, and whatever other modules define)
live in the default prometheus_client registry. With several gunicorn workers each process keeps its own
counters, so a scrape would see only the worker that happened to answer. Setting ``PROMETHEUS_MULTIPROC_DIR`` (an
empty directory, wiped when the server starts) switches prometheus_client to files shared by all processes, and
this module then aggregates them with ``MultiProcessCollector``. ``deploy/gunicorn.conf.py`` and ``kith_run`` set
it up; it must be set before the first metric is created, i.e. in the environment of the server process.

Gauges about durable state (job rows by status) are computed per scrape from one ``GROUP BY`` query instead of
being kept in process memory, so every worker reports the same truth.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable

from django.db import DatabaseError
from django.db.models import Count, Min
from django.utils import timezone
from prometheus_client import REGISTRY, CollectorRegistry, generate_latest, multiprocess
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from kith.core.health import APP_VERSION
from kith.core.jobs.models import Job

logger = logging.getLogger(__name__)

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


class DatabaseStateCollector(Collector):
    """Job rows by status and the age of the oldest due queued job, from one query per scrape.

    The query groups by ``status`` and reads ``MIN(run_at)`` per group: the oldest queued row is due exactly when
    any queued row is, so the same row gives the backlog age. The ``(status, run_at)`` index serves it.
    """

    def describe(self) -> Iterable[Metric]:
        # Registering must not query the database (it happens at import), so the names are not pre-announced.
        return []

    def collect(self) -> Iterable[Metric]:
        info = GaugeMetricFamily("kith_build_info", "Kith version serving this scrape", labels=["version"])
        info.add_metric([APP_VERSION], 1)
        yield info
        up = GaugeMetricFamily("kith_database_up", "1 when the scrape-time database queries succeeded")
        try:
            now = timezone.now()
            rows = list(Job.objects.order_by().values("status").annotate(count=Count("id"), oldest=Min("run_at")))
        except DatabaseError as exc:
            logger.warning("metrics: database query failed: %s: %s", type(exc).__name__, exc)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        by_status = {row["status"]: row for row in rows}
        jobs = GaugeMetricFamily("kith_jobs", "Job rows by status", labels=["status"])
        # Every status is always present (0 when empty) so alerts on a series never see it vanish.
        for status in Job.Status.values:
            jobs.add_metric([status], by_status[status]["count"] if status in by_status else 0)
        yield jobs
        queued = by_status.get(Job.Status.QUEUED)
        oldest = queued["oldest"] if queued else None
        age = max((now - oldest).total_seconds(), 0.0) if oldest is not None else 0.0
        yield GaugeMetricFamily(
            "kith_jobs_oldest_due_seconds", "Age of the oldest queued job that is due (0 when none)", value=age
        )


_SCRAPE_REGISTRY = CollectorRegistry(auto_describe=False)
_SCRAPE_REGISTRY.register(DatabaseStateCollector())


def multiprocess_dir() -> str | None:
    """The shared metrics directory when multi-process mode is on (the variable is set), else ``None``."""
    return os.environ.get(MULTIPROC_ENV)


def _process_registry() -> CollectorRegistry:
    if multiprocess_dir() is None:
        return REGISTRY
    # prometheus_client's documented pattern: a fresh registry per scrape that reads every process's files.
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    return registry


def render_latest() -> bytes:
    """The exposition text: process metrics (aggregated over processes in multi-process mode), then scrape gauges.

    Two registries are rendered one after the other; their metric names are disjoint, so the concatenation is one
    valid exposition.
    """
    return generate_latest(_process_registry()) + generate_latest(_SCRAPE_REGISTRY)
