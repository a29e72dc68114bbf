"""``manage.py kith_demo``: a usable demo workspace, built through the services, and idempotent."""

from __future__ import annotations

import io
import re

import pytest
from allauth.account.models import EmailAddress
from django.core.management import call_command

from kith.accounts.demo import DEMO_EMAIL, DEMO_PASSWORD, DEMO_WORKSPACE_NAME, PENDING_INVITE
from kith.accounts.models import ApiKey, Invitation, Membership, Role, User, Workspace
from kith.core.models import AuditEntry

pytestmark = pytest.mark.django_db


def run_demo() -> str:
    out = io.StringIO()
    call_command("kith_demo", stdout=out)
    return out.getvalue()


def table_sizes() -> dict[str, int]:
    return {
        model.__name__: model.objects.count()
        for model in (User, EmailAddress, Workspace, Membership, Invitation, ApiKey, AuditEntry)
    }


def test_demo_creates_a_workspace_owned_by_the_demo_user_with_a_team():
    output = run_demo()

    workspace = Workspace.objects.get(name=DEMO_WORKSPACE_NAME)
    roles = dict(Membership.objects.filter(workspace=workspace).values_list("user__email", "role"))
    assert roles == {
        DEMO_EMAIL: Role.OWNER,
        "bob@kith.localhost": Role.REP,
        "mia@kith.localhost": Role.MARKETER,
        "victor@kith.localhost": Role.VIEWER,
    }
    pending = Invitation.objects.get(workspace=workspace, status=Invitation.Status.PENDING)
    assert (pending.email, pending.role) == (PENDING_INVITE.email, Role.MANAGER)
    assert ApiKey.objects.filter(workspace=workspace, revoked_at=None).count() == 1
    assert f"{DEMO_EMAIL} with password {DEMO_PASSWORD}" in output


def test_demo_leaves_the_audit_trail_the_services_write():
    run_demo()

    actions = list(AuditEntry.objects.filter(workspace__name=DEMO_WORKSPACE_NAME).values_list("action", flat=True))
    assert actions.count("workspace.created") == 1
    assert actions.count("invitation.created") == 4  # three accepted, one pending
    assert actions.count("member.joined") == 3
    assert actions.count("api_key.created") == 1


def test_demo_prints_no_api_key_secret():
    output = run_demo()

    key = ApiKey.objects.get()
    assert key.masked in output
    assert not re.search(r"kith_[0-9a-f]{8}_[A-Za-z0-9_-]{20,}", output)


def test_running_the_demo_twice_duplicates_nothing():
    run_demo()
    before = table_sizes()

    output = run_demo()

    assert table_sizes() == before
    assert "Demo data is ready." in output


def test_the_demo_user_can_log_in_through_the_login_page(client):
    run_demo()

    response = client.post("/accounts/login/", {"login": DEMO_EMAIL, "password": DEMO_PASSWORD})

    assert response.status_code == 302
    assert client.session.get("_auth_user_id") == str(User.objects.get(email=DEMO_EMAIL).pk)
    assert EmailAddress.objects.get(email=DEMO_EMAIL).verified


def test_the_demo_completes_a_partly_built_workspace():
    # Someone deleted a teammate and the key in the UI: the next `make run` puts them back, nothing else.
    run_demo()
    Membership.objects.filter(user__email="mia@kith.localhost").delete()
    ApiKey.objects.all().delete()

    run_demo()

    assert Membership.objects.filter(user__email="mia@kith.localhost", role=Role.MARKETER).exists()
    assert ApiKey.objects.count() == 1
    assert Workspace.objects.filter(name=DEMO_WORKSPACE_NAME).count() == 1
