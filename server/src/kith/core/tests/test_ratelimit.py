"""Per-key rate limits of the REST API: a token bucket per API key (and per member for session calls)."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from kith.accounts.services import api_key_create
from kith.core.ratelimit import bucket_take

pytestmark = pytest.mark.django_db


@pytest.fixture
def small_limits(settings):
    settings.KITH_API_RATE_LIMIT = 60  # one token a second: nothing refills noticeably within a test
    settings.KITH_API_RATE_BURST = 3
    cache.clear()
    yield
    cache.clear()


def _key_client(personas, name: str) -> APIClient:
    _, raw = api_key_create(workspace=personas.acme, actor=personas.alice, name=name, scopes=["read"])
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client


def test_a_key_over_its_burst_gets_429_with_retry_after_in_the_api_error_format(personas, small_limits):
    client = _key_client(personas, "sync")

    answers = [client.get("/api/v1/contacts/") for _ in range(4)]

    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    refused = answers[-1]
    assert refused.json()["error"]["code"] == "throttled"
    assert int(refused["Retry-After"]) >= 1
    assert refused["X-RateLimit-Limit"] == "3"
    assert refused["X-RateLimit-Remaining"] == "0"
    assert [a["X-RateLimit-Remaining"] for a in answers[:3]] == ["2", "1", "0"]


def test_keys_have_independent_buckets(personas, small_limits):
    first, second = _key_client(personas, "first"), _key_client(personas, "second")
    for _ in range(3):
        first.get("/api/v1/contacts/")

    assert first.get("/api/v1/contacts/").status_code == 429
    assert second.get("/api/v1/contacts/").status_code == 200


def test_session_calls_are_limited_per_member(personas, small_limits):
    alice, bob = APIClient(), APIClient()
    alice.force_login(personas.alice)
    bob.force_login(personas.bob)
    for _ in range(3):
        alice.get("/api/v1/contacts/")

    assert alice.get("/api/v1/contacts/").status_code == 429
    assert bob.get("/api/v1/contacts/").status_code == 200


def test_health_check_and_web_pages_are_not_limited(personas, small_limits, client):
    client.force_login(personas.alice)

    assert all(client.get("/healthz").status_code in (200, 503) for _ in range(6))
    assert all(client.get("/contacts/").status_code == 200 for _ in range(6))
    assert "X-RateLimit-Limit" not in client.get("/contacts/")


def test_zero_turns_the_limit_off(personas, small_limits, settings):
    settings.KITH_API_RATE_LIMIT = 0
    client = _key_client(personas, "unlimited")

    assert all(client.get("/api/v1/contacts/").status_code == 200 for _ in range(6))


def test_the_bucket_refills_at_the_sustained_rate(small_limits):
    for _ in range(3):
        assert bucket_take("t", capacity=3, per_second=1.0, now=1000.0).allowed
    empty = bucket_take("t", capacity=3, per_second=1.0, now=1000.0)
    later = bucket_take("t", capacity=3, per_second=1.0, now=1001.5)

    assert not empty.allowed and empty.retry_after == pytest.approx(1.0)
    assert later.allowed and later.tokens == pytest.approx(0.5)


def test_a_cache_outage_lets_requests_through(personas, small_limits, monkeypatch):
    def broken(*args, **kwargs):
        raise ConnectionError("cache down")

    monkeypatch.setattr(cache, "get", broken)
    client = _key_client(personas, "outage")

    assert all(client.get("/api/v1/contacts/").status_code == 200 for _ in range(5))


def test_the_openapi_document_describes_the_429_headers(client):
    document = client.get("/api/schema/?format=json").json()

    throttled = document["paths"]["/api/v1/contacts/"]["get"]["responses"]["429"]
    assert {"Retry-After", "X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"} <= set(
        throttled["headers"])
