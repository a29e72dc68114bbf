"""Fixtures of the workflow tests: Acme's write key, a Segment-style client that runs the processing job (and every
job it rings) when the request commits, and a controllable clock."""

from __future__ import annotations

import base64
import datetime as dt
import json
from collections.abc import Iterator
from typing import Any

import pytest
from django.test import Client

from kith.core import clock
from kith.events.services import event_write_key_create
from kith.messaging.backends import memory


def basic(key: str) -> str:
    return "Basic " + base64.b64encode(f"{key}:".encode()).decode()


class Clock:
    """``clock.now()`` for the code under test, moved by the test (``clock.advance(minutes=30)``)."""

    def __init__(self, start: dt.datetime) -> None:
        self.now = start

    def advance(self, **delta: float) -> dt.datetime:
        self.now += dt.timedelta(**delta)
        clock._override = self.now
        return self.now


@pytest.fixture
def frozen_clock() -> Iterator[Clock]:
    start = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)  # a Monday
    fake = Clock(start)
    with clock.frozen(start):
        yield fake


@pytest.fixture(autouse=True)
def outbox(settings: Any) -> Iterator[list[Any]]:
    settings.KITH_MESSAGING_EMAIL_BACKEND = "memory"
    memory.outbox.clear()
    yield memory.outbox
    memory.outbox.clear()


@pytest.fixture
def acme_write_key(personas: Any) -> str:
    return event_write_key_create(workspace=personas.acme, actor=personas.alice)[1]


@pytest.fixture
def send(acme_write_key: str, django_capture_on_commit_callbacks: Any) -> Any:
    """``send("/v1/track", {...})``: POST as Acme's Segment client; processing and every job it rings run after
    the request commits (the immediate runner)."""

    def _send(path: str, body: Any) -> Any:
        with django_capture_on_commit_callbacks(execute=True):
            response = Client().post(path, json.dumps(body).encode(), content_type="application/json",
                                     HTTP_AUTHORIZATION=basic(acme_write_key))
        assert response.status_code == 200, response.content
        return response

    return _send


@pytest.fixture
def run_jobs(django_capture_on_commit_callbacks: Any) -> Any:
    """Call a job (or any function) and then every job its commit rings, as the immediate runner would."""

    def _run(fn: Any, **kwargs: Any) -> Any:
        with django_capture_on_commit_callbacks(execute=True):
            return fn(**kwargs)

    return _run
