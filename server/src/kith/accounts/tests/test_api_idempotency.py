"""Idempotency-Key on the workspace-management API: members, invitations and API keys."""

import json

import pytest
from rest_framework.test import APIClient

from kith.accounts.models import ApiKey, Invitation, Membership
from kith.core.idempotency_models import IdempotencyRecord

pytestmark = pytest.mark.django_db


@pytest.fixture
def alice(personas):
    client = APIClient()
    client.force_login(personas.alice)
    return client


def test_a_retried_invitation_with_the_same_key_is_created_once_and_replayed(personas, alice):
    body = {"email": "carol@acme.test", "role": "rep"}

    first = alice.post("/api/v1/invitations/", body, format="json", HTTP_IDEMPOTENCY_KEY="inv-1")
    second = alice.post("/api/v1/invitations/", body, format="json", HTTP_IDEMPOTENCY_KEY="inv-1")

    assert (first.status_code, second.status_code) == (201, 201)
    assert second["Idempotent-Replayed"] == "true"
    assert second.json() == first.json()
    assert Invitation.objects.filter(workspace=personas.acme, email="carol@acme.test").count() == 1


def test_the_same_key_for_a_different_request_answers_422(personas, alice):
    alice.post("/api/v1/invitations/", {"email": "carol@acme.test", "role": "rep"}, format="json",
               HTTP_IDEMPOTENCY_KEY="inv-2")

    reused = alice.post("/api/v1/invitations/", {"email": "dave@acme.test", "role": "rep"}, format="json",
                        HTTP_IDEMPOTENCY_KEY="inv-2")

    assert reused.status_code == 422
    assert reused.json()["error"]["code"] == "idempotency_key_reused"


def test_a_retried_role_change_is_replayed(personas, alice):
    bob = Membership.objects.get(workspace=personas.acme, user=personas.bob)
    url = f"/api/v1/members/{bob.pk}/"

    first = alice.patch(url, {"role": "manager"}, format="json", HTTP_IDEMPOTENCY_KEY="role-1")
    second = alice.patch(url, {"role": "manager"}, format="json", HTTP_IDEMPOTENCY_KEY="role-1")

    assert (first.status_code, second.status_code) == (200, 200)
    assert second["Idempotent-Replayed"] == "true"


def test_a_retried_key_creation_makes_one_key_and_never_stores_its_secret(personas, alice):
    body = {"name": "CI", "scopes": ["read"]}

    first = alice.post("/api/v1/api-keys/", body, format="json", HTTP_IDEMPOTENCY_KEY="key-1")
    second = alice.post("/api/v1/api-keys/", body, format="json", HTTP_IDEMPOTENCY_KEY="key-1")

    assert (first.status_code, second.status_code) == (201, 201)
    secret = first.json()["key"].split("_", 2)[2]
    assert len(secret) > 20
    assert ApiKey.objects.filter(workspace=personas.acme, name="CI").count() == 1
    assert second.json()["id"] == first.json()["id"]
    assert secret not in second.json()["key"]
    stored = json.dumps(list(IdempotencyRecord.objects.values_list("response_body", flat=True)))
    assert secret not in stored


def test_a_retried_revocation_is_replayed(personas, alice):
    created = alice.post("/api/v1/api-keys/", {"name": "CI", "scopes": ["read"]}, format="json").json()

    first = alice.delete(f"/api/v1/api-keys/{created['id']}/", HTTP_IDEMPOTENCY_KEY="rev-1")
    second = alice.delete(f"/api/v1/api-keys/{created['id']}/", HTTP_IDEMPOTENCY_KEY="rev-1")

    assert (first.status_code, second.status_code) == (204, 204)
    assert second["Idempotent-Replayed"] == "true"
