"""The audit log page: workspace changes plus members' security events, filterable, paged by id."""

from __future__ import annotations

import pytest
from django.urls import reverse

from kith.accounts.models import Membership
from kith.accounts.services import api_key_create, member_set_role
from kith.core.audit import audit_record
from kith.core.models import AuditEntry

pytestmark = pytest.mark.django_db


def test_changes_show_who_did_what_with_a_readable_diff(personas, client_for):
    bob = Membership.objects.get(user=personas.bob, workspace=personas.acme)
    alice = Membership.objects.get(user=personas.alice, workspace=personas.acme)
    member_set_role(membership=bob, role="manager", actor=personas.alice, actor_membership=alice)

    html = client_for(personas.alice).get(reverse("web:audit_log")).content.decode()

    assert "Role changed" in html and "member.role_changed" in html
    assert "<del aria-label=\"before\">rep</del>" in html
    assert "<ins aria-label=\"after\">manager</ins>" in html
    assert "alice@acme.test" in html


def test_members_security_events_are_included_and_outsiders_are_not(personas, client_for):
    audit_record(action="user.logged_in", actor=personas.bob, target=personas.bob)
    audit_record(action="user.mfa_added", actor=personas.bob, target=personas.bob, after={"type": "totp"})
    audit_record(action="user.login_failed", actor=None, target_label="BOB@acme.test")
    audit_record(action="user.logged_in", actor=personas.mallory, target=personas.mallory)
    audit_record(action="user.login_failed", actor=None, target_label="mallory@evil.test")

    html = client_for(personas.alice).get(reverse("web:audit_log")).content.decode()

    assert "Signed in" in html and "Two-factor method added" in html and "Failed sign-in" in html
    assert "BOB@acme.test" in html
    assert "mallory" not in html


def test_filtering_by_action(personas, client_for):
    api_key_create(workspace=personas.acme, actor=personas.alice, name="Visible key", scopes=["read"])
    audit_record(action="user.logged_in", actor=personas.alice, target=personas.alice)

    response = client_for(personas.alice).get(reverse("web:audit_log"), {"action": "api_key.created"})

    html = response.content.decode()
    assert "Visible key" in html
    assert "user.logged_in</div>" not in html
    assert '<option value="api_key.created" selected>' in html


def test_an_unknown_filter_is_a_form_error_not_a_crash(personas, client_for):
    response = client_for(personas.alice).get(reverse("web:audit_log"), {"action": "<script>", "before": "abc"})

    assert response.status_code == 400
    assert b"Select a valid choice." in response.content
    assert b"<script>" not in response.content


def test_pages_of_fifty_newest_first_with_an_older_link(personas, client_for):
    client = client_for(personas.alice)  # logging in writes a row of its own, older than the ones below
    for n in range(55):
        audit_record(action="workspace.updated", actor=personas.alice, workspace=personas.acme,
                     target_label=f"entry-{n:02d}")

    first = client.get(reverse("web:audit_log")).content.decode()
    assert "entry-54" in first and "entry-05" in first and "entry-04" not in first
    oldest_shown = AuditEntry.objects.get(target_label="entry-05").pk
    assert f"?before={oldest_shown}" in first

    second = client.get(reverse("web:audit_log"), {"before": oldest_shown}).content.decode()
    assert "entry-04" in second and "entry-00" in second and "entry-05" not in second
    assert "Older entries" not in second
    assert "Newest" in second


def test_the_empty_log_explains_itself(personas, client_for):
    client = client_for(personas.alice)
    AuditEntry.objects.all().delete()

    response = client.get(reverse("web:audit_log"))

    assert b"The audit log is empty" in response.content
