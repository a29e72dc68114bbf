"""The public unsubscribe page (RFC 8058 one-click) and tracked-link redirects."""

from __future__ import annotations

import pytest
from django.test import Client

from kith.contacts.models import ConsentState
from kith.contacts.services import contact_create
from kith.messaging import links
from kith.messaging.models import SourceType, Suppression
from kith.messaging.services import message_queue
from kith.messaging.tests.factories import template_make

pytestmark = pytest.mark.django_db


@pytest.fixture
def message(personas):
    contact = contact_create(workspace=personas.acme, actor=personas.alice, data={"email": "ada@example.com"})
    template = template_make(workspace=personas.acme)
    return message_queue(workspace=personas.acme, template=template, contact=contact,
                         source_type=SourceType.CAMPAIGN, source_id="spring")


def _path(url: str) -> str:
    return url.split("://", 1)[1].split("/", 1)[1].join(["/", ""])


def test_get_shows_a_confirmation_and_changes_nothing(message):
    response = Client().get(_path(links.unsubscribe_url(message_id=message.pk)))
    assert response.status_code == 200
    assert b"ada@example.com" in response.content and b"Unsubscribe" in response.content
    assert not Suppression.objects.exists()


def test_a_one_click_post_without_csrf_token_unsubscribes(message):
    client = Client(enforce_csrf_checks=True)
    response = client.post(_path(links.unsubscribe_url(message_id=message.pk)),
                           data="List-Unsubscribe=One-Click", content_type="application/x-www-form-urlencoded")
    assert response.status_code == 200
    assert Suppression.objects.filter(address="ada@example.com").exists()
    message.contact.refresh_from_db()
    assert message.contact.email_consent == ConsentState.OPTED_OUT


@pytest.mark.parametrize("token", ["1:forged", "not-a-token", f"{999999}:abc"])
def test_a_forged_token_is_a_404(message, token):
    assert Client().post(f"/u/{token}/").status_code == 404
    assert not Suppression.objects.exists()


def test_a_click_link_redirects_only_to_the_versions_own_targets(message):
    base = _path(links.click_base(message_id=message.pk))
    response = Client().get(f"{base}0/")
    assert response.status_code == 302 and response["Location"] == "https://shop.example.com/new"
    assert Client().get(f"{base}7/").status_code == 404
    assert Client().get("/t/1:forged/0/").status_code == 404
