"""Fixtures of the contacts tests: API clients per persona and the restricted/viewer variations of Acme's team."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from kith.accounts.models import Membership, Role
from kith.accounts.services import api_key_create
from kith.accounts.tests.factories import MembershipFactory, UserFactory


def client_for(user: Any) -> APIClient:
    client = APIClient()
    client.force_login(user)
    return client


@pytest.fixture
def alice_api(personas: Any) -> APIClient:
    return client_for(personas.alice)


@pytest.fixture
def bob_api(personas: Any) -> APIClient:
    return client_for(personas.bob)


@pytest.fixture
def restricted_bob(personas: Any) -> Membership:
    """Bob, a rep in Acme, limited to the records he owns."""
    membership = Membership.objects.get(workspace=personas.acme, user=personas.bob)
    membership.restrict_to_own = True
    membership.save(update_fields=["restrict_to_own"])
    return membership


@pytest.fixture
def victor(personas: Any) -> Any:
    """Victor, a viewer in Acme: reads everything, writes nothing."""
    user = UserFactory(email="victor@acme.test", full_name="Victor Viewer")
    MembershipFactory(workspace=personas.acme, user=user, role=Role.VIEWER)
    return user


@pytest.fixture
def acme_key_api(personas: Any) -> APIClient:
    _, raw = api_key_create(workspace=personas.acme, actor=personas.alice, name="integration",
                            scopes=["read", "write"])
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client


# The webhooks tests' HTTP receiver, for the bulk upsert's webhook tests (test_bulk_webhooks.py).
from kith.webhooks.tests.receiver import receiver  # noqa: F401  (fixture, by name)
