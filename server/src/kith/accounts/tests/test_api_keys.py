import hashlib

import pytest
from rest_framework.test import APIClient

from kith.accounts.models import ApiKey
from kith.accounts.services import api_key_create, api_key_revoke
from kith.core.models import AuditEntry

pytestmark = pytest.mark.django_db


def test_api_key_secret_is_stored_only_as_a_hash(personas):
    key, raw = api_key_create(workspace=personas.acme, actor=personas.alice, name="CI", scopes=["read"])

    row = ApiKey.objects.get(pk=key.pk)
    secret = raw.split("_", 2)[2]
    assert raw.startswith(f"kith_{row.prefix}_")
    assert row.secret_hash == hashlib.sha256(secret.encode()).hexdigest()
    for value in (row.name, row.prefix, row.secret_hash, str(row.scopes)):
        assert secret not in value


def test_key_authenticates_for_its_workspace_and_stops_when_revoked(personas):
    key, raw = api_key_create(workspace=personas.acme, actor=personas.alice, name="CI", scopes=["read"])
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")

    response = client.get("/api/v1/api-keys/")
    assert response.status_code == 200
    assert [k["prefix"] for k in response.json()["results"]] == [key.prefix]
    assert ApiKey.objects.get(pk=key.pk).last_used_at is not None

    api_key_revoke(api_key=key, actor=personas.alice)
    response = client.get("/api/v1/api-keys/")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "authentication_failed"


def test_wrong_secret_with_a_real_prefix_is_rejected(personas):
    key, raw = api_key_create(workspace=personas.acme, actor=personas.alice, name="CI", scopes=["read"])
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer kith_{key.prefix}_{'x' * 43}")

    assert client.get("/api/v1/api-keys/").status_code == 401


def test_read_key_cannot_write_and_creating_a_key_through_the_api_shows_it_once(personas):
    _, read_raw = api_key_create(workspace=personas.acme, actor=personas.alice, name="R", scopes=["read"])
    _, write_raw = api_key_create(workspace=personas.acme, actor=personas.alice, name="W", scopes=["write"])
    client = APIClient()

    client.credentials(HTTP_AUTHORIZATION=f"Bearer {read_raw}")
    assert client.post("/api/v1/api-keys/", {"name": "x", "scopes": ["read"]}, format="json").status_code == 403

    client.credentials(HTTP_AUTHORIZATION=f"Bearer {write_raw}")
    created = client.post("/api/v1/api-keys/", {"name": "made by key", "scopes": ["read"]}, format="json")
    assert created.status_code == 201
    assert created.json()["key"].startswith("kith_")
    shown_again = client.get(f"/api/v1/api-keys/{created.json()['id']}/")
    assert "key" not in shown_again.json()


def test_key_creation_and_revocation_are_audited(personas):
    key, _ = api_key_create(workspace=personas.acme, actor=personas.alice, name="CI", scopes=["read"])
    api_key_revoke(api_key=key, actor=personas.alice)

    actions = list(AuditEntry.objects.filter(workspace=personas.acme).values_list("action", "actor_label"))
    assert ("api_key.created", "alice@acme.test") in actions
    assert ("api_key.revoked", "alice@acme.test") in actions


def test_invalid_key_payload_gets_field_errors(personas):
    client = APIClient()
    client.force_login(personas.alice)
    response = client.post("/api/v1/api-keys/", {"name": "", "scopes": ["root"]}, format="json")
    assert response.status_code == 400
    fields = response.json()["error"]["fields"]
    assert set(fields) == {"name", "scopes"}
