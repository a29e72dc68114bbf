"""The segment pages: list, editor, the live count (HTMX partial) and CSRF."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from kith.accounts.tests.factories import MembershipFactory, UserFactory
from kith.contacts.models import Contact
from kith.segments.models import Segment

pytestmark = pytest.mark.django_db


def _client(user):
    client = Client()
    client.force_login(user)
    return client


def test_the_live_count_shows_matches_or_names_the_bad_condition(personas):
    Contact.objects.create(workspace=personas.acme, email="c@example.test", lifecycle_stage="customer")
    client = _client(personas.alice)
    good = client.post("/segments/preview/", {"definition": '{"field": "lifecycle_stage", "op": "eq", '
                                                             '"value": "customer"}'})
    assert good.status_code == 200 and b">1</strong> contact match" in good.content
    bad = client.post("/segments/preview/", {"definition": '{"all": [{"tag": "x"}, {"field": "lang"}]}'})
    assert "all[1]: unknown field &#x27;lang&#x27;" in bad.content.decode()
    broken = client.post("/segments/preview/", {"definition": '{"all": ['})
    assert "not valid JSON" in broken.content.decode()
    escaped = client.post("/segments/preview/", {"definition": '{"field": "<script>x</script>"}'})
    assert "<script>x" not in escaped.content.decode()


def test_alice_creates_and_edits_a_segment_in_the_editor(personas):
    client = _client(personas.alice)
    assert client.get("/segments/new/").status_code == 200
    response = client.post("/segments/new/", {"name": "VIPs", "definition": '{"tag": "vip"}'})
    segment = Segment.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/segments/{segment.pk}/"
    page = client.get(f"/segments/{segment.pk}/").content.decode()
    assert "VIPs" in page and "&quot;tag&quot;: &quot;vip&quot;" in page
    invalid = client.post(f"/segments/{segment.pk}/", {"name": "VIPs", "definition": '{"tag": "vip", "op": "x"}'})
    assert invalid.status_code == 400 and "definition: operator" in invalid.content.decode()
    client.post(f"/segments/{segment.pk}/", {"name": "English", "definition": "language=en"})
    segment.refresh_from_db()
    assert segment.definition == {"all": [{"field": "locale", "op": "eq", "value": "en"}]}
    assert "English" in client.get("/segments/").content.decode()


def test_a_viewer_cannot_save_and_the_editor_needs_csrf(personas):
    victor = UserFactory(email="victor@acme.test")
    MembershipFactory(workspace=personas.acme, user=victor, role="viewer")
    assert _client(victor).post("/segments/new/", {"name": "X", "definition": '{"tag": "x"}'}).status_code == 403
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(personas.alice)
    assert strict.post("/segments/new/", {"name": "X", "definition": '{"tag": "x"}'}).status_code == 403
    assert not Segment.objects.exists()


def test_mallory_gets_404_for_an_acme_segment_page(personas):
    segment = Segment.objects.create(workspace=personas.acme, name="Acme secret", definition={"tag": "vip"})
    client = _client(personas.mallory)
    assert client.get(f"/segments/{segment.pk}/").status_code == 404
    assert client.post(f"/segments/{segment.pk}/", {"name": "p", "definition": json.dumps({"tag": "x"})}
                       ).status_code == 404
    assert "Acme secret" not in client.get("/segments/").content.decode()


def test_an_empty_editor_shows_a_hint_not_an_error(personas):
    response = _client(personas.alice).post("/segments/preview/", {"definition": "  "})
    assert response.status_code == 200 and "Type a definition" in response.content.decode()
