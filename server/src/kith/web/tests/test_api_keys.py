"""API keys in the UI: created with a form, shown exactly once, listed masked, revoked after a confirmation."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from kith.accounts.models import ApiKey
from kith.accounts.services import api_key_authenticate, api_key_create

pytestmark = pytest.mark.django_db


def test_a_new_key_is_shown_once_and_never_again(personas, client_for):
    client = client_for(personas.alice)

    response = client.post(reverse("web:api_key_create"), {"name": "Storefront", "scopes": ["read", "events"]})

    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    html = response.content.decode()
    raw = re.search(r'value="(kith_[0-9a-f]+_[A-Za-z0-9_-]+)"', html).group(1)
    assert "it will not be shown again" in html
    assert api_key_authenticate(raw) is not None
    key = ApiKey.objects.get(workspace=personas.acme, name="Storefront")
    assert key.scopes == ["events", "read"]

    secret = raw.split("_", 2)[2]
    for url in (reverse("web:api_keys"), reverse("web:home"), reverse("web:audit_log")):
        page = client.get(url).content.decode()
        assert secret not in page, url
    listing = client.get(reverse("web:api_keys")).content.decode()
    assert f"kith_{key.prefix}_••••" in listing
    assert "Storefront" in listing


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({}, "This field is required."),
        ({"name": "", "scopes": ["read"]}, "This field is required."),
        ({"name": "   ", "scopes": ["read"]}, "This field is required."),
        ({"name": "No scopes"}, "Choose at least one scope."),
        ({"name": "Root", "scopes": ["root"]}, "Select a valid choice. root is not one of the available choices."),
    ],
)
def test_bad_key_input_comes_back_with_field_errors(personas, client_for, data, message):
    response = client_for(personas.alice).post(reverse("web:api_key_create"), data)

    assert response.status_code == 400
    assert message in response.content.decode()
    assert not ApiKey.objects.exists()


def test_the_empty_list_invites_you_to_create_a_key(personas, client_for):
    response = client_for(personas.alice).get(reverse("web:api_keys"))

    assert b"No API keys yet" in response.content
    assert reverse("web:api_key_create").encode() in response.content


def test_revoking_a_key_asks_first_then_the_key_stops_working(personas, client_for):
    key, raw = api_key_create(workspace=personas.acme, actor=personas.alice, name="CI", scopes=["read"])
    client = client_for(personas.alice)
    url = reverse("web:api_key_revoke", args=[key.pk])

    confirm = client.get(url)
    assert b"Revoke this API key?" in confirm.content
    assert api_key_authenticate(raw) is not None

    response = client.post(url, follow=True)

    assert "The key “CI” was revoked." in response.content.decode()
    assert api_key_authenticate(raw) is None
    assert "Revoked" in client.get(reverse("web:api_keys")).content.decode()


def test_revoking_twice_is_harmless(personas, client_for):
    key, _ = api_key_create(workspace=personas.acme, actor=personas.alice, name="CI", scopes=["read"])
    client = client_for(personas.alice)
    url = reverse("web:api_key_revoke", args=[key.pk])
    client.post(url)

    response = client.post(url, follow=True)

    assert response.status_code == 200
    assert "was already revoked" in response.content.decode()
