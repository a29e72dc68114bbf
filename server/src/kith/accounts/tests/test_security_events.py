import pytest
from django.urls import reverse

from kith.accounts.tests.factories import PASSWORD
from kith.core.models import AuditEntry

pytestmark = pytest.mark.django_db


def test_login_and_failed_login_are_audited(client, personas):
    client.post(reverse("account_login"), {"login": "alice@acme.test", "password": "wrong password"})
    client.post(reverse("account_login"), {"login": "alice@acme.test", "password": PASSWORD})

    failed = AuditEntry.objects.get(action="user.login_failed")
    assert failed.target_label == "alice@acme.test"
    assert failed.actor is None
    ok = AuditEntry.objects.get(action="user.logged_in")
    assert ok.actor == personas.alice
    assert ok.request_id  # joined to the request's log lines


def test_security_events_show_in_the_workspace_audit_api_for_admins(client, personas):
    client.post(reverse("account_login"), {"login": "bob@acme.test", "password": PASSWORD})
    client.logout()
    client.force_login(personas.alice)

    actions = [row["action"] for row in client.get("/api/v1/audit-log/").json()["results"]]
    assert "user.logged_in" in actions


def test_members_who_are_not_admins_cannot_read_the_audit_log(client, personas):
    client.force_login(personas.bob)
    assert client.get("/api/v1/audit-log/").status_code == 403


def test_mallory_does_not_see_acme_logins(client, personas):
    client.post(reverse("account_login"), {"login": "alice@acme.test", "password": PASSWORD})
    client.logout()
    client.force_login(personas.mallory)
    labels = [row["actor_label"] for row in client.get("/api/v1/audit-log/").json()["results"]]
    assert "alice@acme.test" not in labels
