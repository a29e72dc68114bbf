"""Error pages are Kith's own, never Django's defaults; API paths keep the JSON error format."""

from __future__ import annotations

import pytest
from django.test import Client, RequestFactory

from kith.web.views import errors

pytestmark = pytest.mark.django_db


def test_an_unknown_page_is_the_kith_404(client):
    response = client.get("/no/such/page/")

    assert response.status_code == 404
    assert b"Page not found" in response.content
    assert b"kith.css" in response.content


def test_an_unknown_api_route_answers_json(client):
    response = client.get("/api/v1/no-such-thing/")

    assert response.status_code == 404
    assert response.json() == {"error": {"code": "not_found", "message": "Not found."}}


def test_the_500_page_renders_without_touching_the_database(django_assert_num_queries):
    request = RequestFactory().get("/settings/")
    request.request_id = "abc123"

    with django_assert_num_queries(0):
        response = errors.server_error(request)

    assert response.status_code == 500
    assert b"Something went wrong on our side" in response.content
    assert b"abc123" in response.content


def test_the_403_page_shows_the_reason_it_was_given(personas, client):
    client.force_login(personas.bob)

    response = client.get("/settings/api-keys/")

    assert response.status_code == 403
    assert b"Only the workspace&#x27;s owners and admins can open this page." in response.content


def test_a_csrf_failure_is_styled_too(personas):
    client = Client(enforce_csrf_checks=True)
    client.force_login(personas.alice)

    response = client.post("/settings/", {"name": "x", "timezone": "UTC"})

    assert response.status_code == 403
    assert b"Your session form expired" in response.content
