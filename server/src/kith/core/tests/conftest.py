"""Fixtures for the jobs tests: worker subprocesses, and the Celery test broker."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from pytest_django.fixtures import Settings

from kith.celery import app as celery_app
from kith.core.tests.jobs_processes import Workers

BROKER_ENV = "KITH_TEST_BROKER_URL"


@pytest.fixture
def workers(tmp_path: Path) -> Iterator[Workers]:
    group = Workers(tmp_path=tmp_path)
    try:
        yield group
    finally:
        group.stop_all()


@pytest.fixture(scope="session")
def broker_url() -> str:
    url = os.environ.get(BROKER_ENV, "")
    if not url:
        pytest.fail(
            f"{BROKER_ENV} is not set. The celery tests run job code on a real Celery worker over a real broker; "
            f"run them with `make test-celery` (or set {BROKER_ENV}=redis://127.0.0.1:6379/15 and DATABASE_URL to "
            "PostgreSQL). They are never skipped.",
            pytrace=False,
        )
    return url


@pytest.fixture
def celery_broker(broker_url: str, settings: Settings) -> str:
    """The test broker, emptied; this process's enqueue_on_commit rings it (KITH_JOBS_RUNNER=celery)."""
    redis.Redis.from_url(broker_url).flushdb()
    # kith.celery.app read its (empty) broker URL from settings; nothing in the test process has published yet,
    # so pointing it at the test broker now is enough.
    celery_app.conf.update(broker_url=broker_url)
    settings.KITH_JOBS_RUNNER = "celery"
    return broker_url
