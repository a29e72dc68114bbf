"""Fixtures of the events tests: Acme's write key and a client that sends Segment requests the way the Segment
libraries do (HTTP Basic with the key as user name), running the processing job when the request commits."""

from __future__ import annotations

import base64
import gzip as gzip_module
import json
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from kith.events.services import event_write_key_create

Send = Callable[..., Any]


def basic(key: str) -> str:
    return "Basic " + base64.b64encode(f"{key}:".encode()).decode()


@pytest.fixture
def acme_write_key(personas: Any) -> str:
    return event_write_key_create(workspace=personas.acme, actor=personas.alice)[1]


@pytest.fixture
def mallory_write_key(personas: Any) -> str:
    return event_write_key_create(workspace=personas.mallory_inc, actor=personas.mallory)[1]


@pytest.fixture
def send(acme_write_key: str, django_capture_on_commit_callbacks: Any) -> Send:
    """``send("/v1/track", {...})``: POST as Acme's client; the processing job runs after the request commits."""

    def _send(path: str, body: Any, *, key: str | None = None, gzip: bool = False, auth: str | None = None,
              raw: bytes | None = None, **headers: Any) -> Any:
        data = raw if raw is not None else json.dumps(body).encode()
        if gzip:
            data = gzip_module.compress(data)
            headers["HTTP_CONTENT_ENCODING"] = "gzip"
        if auth is None:
            auth = basic(key or acme_write_key)
        if auth:
            headers["HTTP_AUTHORIZATION"] = auth
        with django_capture_on_commit_callbacks(execute=True):
            return Client().post(path, data, content_type="application/json", **headers)

    return _send
