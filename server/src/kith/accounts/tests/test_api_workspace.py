import pytest
from rest_framework.test import APIClient

from kith.core.models import AuditEntry

pytestmark = pytest.mark.django_db


def _client(user):
    client = APIClient()
    client.force_login(user)
    return client


def test_any_member_reads_the_current_workspace(personas):
    response = _client(personas.bob).get("/api/v1/workspace/")
    assert response.status_code == 200
    assert response.json() == {"id": personas.acme.id, "name": "Acme", "slug": "acme", "timezone": "UTC"}


def test_an_admin_renames_the_workspace_and_the_change_is_audited(personas):
    response = _client(personas.alice).patch("/api/v1/workspace/", {"timezone": "Europe/Berlin"}, format="json")

    assert response.status_code == 200
    assert response.json()["timezone"] == "Europe/Berlin"
    entry = AuditEntry.objects.get(action="workspace.updated")
    assert (entry.before, entry.after) == ({"timezone": "UTC"}, {"timezone": "Europe/Berlin"})


def test_a_rep_cannot_change_the_workspace(personas):
    assert _client(personas.bob).patch("/api/v1/workspace/", {"name": "Bob's"}, format="json").status_code == 403


@pytest.mark.parametrize("payload", [["not", "an", "object"], {"timezone": "Mars/Olympus"}, {"name": ""}])
def test_bad_workspace_payloads_get_400_with_the_error_format(personas, payload):
    response = _client(personas.alice).patch("/api/v1/workspace/", payload, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid"
