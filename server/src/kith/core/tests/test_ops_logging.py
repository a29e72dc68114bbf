"""Request ids and structured logs: one JSON access line per request, every line carrying the request id."""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Iterator
from unittest import mock

import pytest
from django.conf import settings
from django.db import OperationalError, connection
from django.test.utils import CaptureQueriesContext
from django.utils.module_loading import import_string
from rest_framework.test import APIClient

from kith.accounts.services import api_key_create
from kith.core.observability import RequestIdFilter

pytestmark = pytest.mark.django_db


@pytest.fixture
def json_log() -> Iterator[io.StringIO]:
    """Captures what the production handler would print: settings' JSON formatter and request-id filter, at INFO."""
    config = dict(settings.LOGGING["formatters"]["json"])
    formatter = import_string(config.pop("()"))(**config)
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter)
    handler.addFilter(RequestIdFilter())
    root = logging.getLogger()
    previous_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        root.setLevel(previous_level)


def lines(stream: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]


def access_lines(stream: io.StringIO) -> list[dict]:
    return [line for line in lines(stream) if line["logger"] == "kith.access"]


def test_a_well_formed_incoming_request_id_is_kept_and_echoed(client):
    response = client.get("/healthz", HTTP_X_REQUEST_ID="lb-7f3a.2024_01")

    assert response["X-Request-ID"] == "lb-7f3a.2024_01"


@pytest.mark.parametrize("incoming", ["has spaces", "quote\"d", "x" * 65, "", "ünïcode"])
def test_a_malformed_incoming_request_id_is_replaced(client, incoming):
    response = client.get("/healthz", HTTP_X_REQUEST_ID=incoming)

    assert response["X-Request-ID"] != incoming
    assert re.fullmatch(r"[0-9a-f]{32}", response["X-Request-ID"])


def test_each_request_writes_one_json_access_line_with_its_request_id(client, json_log):
    response = client.get("/healthz", HTTP_X_REQUEST_ID="req-123")

    [line] = access_lines(json_log)
    assert line["request_id"] == "req-123" == response["X-Request-ID"]
    assert line["level"] == "INFO"
    assert line["method"] == "GET"
    assert line["path"] == "/healthz"
    assert line["status"] == 200
    assert isinstance(line["duration_ms"], float)
    assert "time" in line
    assert "user_id" not in line and "workspace_id" not in line  # anonymous probe


def test_lines_logged_while_handling_a_request_carry_its_request_id(client, json_log):
    with mock.patch.object(connection, "ensure_connection", side_effect=OperationalError("connection refused")):
        response = client.get("/healthz")

    request_id = response["X-Request-ID"]
    logged = lines(json_log)
    warning = next(line for line in logged if line["logger"] == "kith.core.health")
    assert warning["level"] == "WARNING"
    assert warning["request_id"] == request_id
    assert access_lines(json_log)[0]["status"] == 503


def test_djangos_own_response_log_lines_carry_the_request_id(client, json_log):
    response = client.get("/no-such-page/", HTTP_X_REQUEST_ID="req-404")

    assert response.status_code == 404
    not_found = next(line for line in lines(json_log) if line["logger"] == "django.request")
    assert not_found["request_id"] == "req-404"


def test_the_access_line_names_the_logged_in_user_and_workspace(client, json_log, personas):
    client.force_login(personas.alice)

    response = client.get("/api/v1/api-keys/")

    assert response.status_code == 200
    [line] = access_lines(json_log)
    assert line["user_id"] == personas.alice.pk
    assert line["workspace_id"] == personas.acme.pk


def test_the_access_line_names_the_api_key_not_its_secret(json_log, personas):
    key, raw = api_key_create(workspace=personas.acme, actor=personas.alice, name="CI", scopes=["read"])
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")

    assert client.get("/api/v1/api-keys/").status_code == 200

    [line] = access_lines(json_log)
    assert line["api_key"] == key.prefix
    assert line["workspace_id"] == personas.acme.pk
    assert raw.split("_", 2)[2] not in json_log.getvalue()


def test_the_access_log_does_not_load_a_user_nobody_asked_for(client, personas):
    # A logged-in browser hitting the health probe: no session or user query just to fill the log line.
    client.force_login(personas.alice)
    with CaptureQueriesContext(connection) as queries:
        assert client.get("/healthz").status_code == 200

    tables = " ".join(query["sql"] for query in queries.captured_queries)
    assert "django_session" not in tables
    assert "accounts_user" not in tables
