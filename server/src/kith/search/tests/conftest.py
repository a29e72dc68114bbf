"""Fixtures of the search tests: Acme's people, companies and deals to look for, and clients per persona."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from kith.accounts.models import Membership, Role
from kith.accounts.tests.factories import MembershipFactory, UserFactory
from kith.contacts.tests.factories import CompanyFactory, ContactFactory
from kith.deals.services import deal_create, pipeline_create


def client_for(user: Any) -> APIClient:
    client = APIClient()
    client.force_login(user)
    return client


@pytest.fixture
def acme_people(personas: Any) -> dict[str, Any]:
    acme = personas.acme
    engines = CompanyFactory(workspace=acme, name="Analytical Engines", domain="engines.test")
    people = {
        "engines": engines,
        "ada": ContactFactory(workspace=acme, first_name="Ada", last_name="Lovelace", email="ada@engines.test",
                              phone="+14155550123", company=engines, owner=personas.alice),
        "adam": ContactFactory(workspace=acme, first_name="Adam", last_name="Smith", email="adam@wealth.test",
                               owner=personas.bob),
        "obrien": ContactFactory(workspace=acme, first_name="Conan", last_name="O'Brien", email="conan@late.test"),
        "under": ContactFactory(workspace=acme, first_name="Una", last_name="Score", email="under_score@x.test"),
    }
    pipeline = pipeline_create(workspace=acme, actor=personas.alice, name="Sales")
    people["deal"] = deal_create(workspace=acme, actor=personas.alice, pipeline=pipeline, name="Difference engine",
                                 company=engines, owner=personas.alice)
    ContactFactory(workspace=personas.mallory_inc, first_name="Ada", last_name="Lovelace", email="ada@evil.test")
    return people


@pytest.fixture
def restricted_bob(personas: Any) -> Membership:
    membership = Membership.objects.get(workspace=personas.acme, user=personas.bob)
    membership.restrict_to_own = True
    membership.save(update_fields=["restrict_to_own"])
    return membership


@pytest.fixture
def victor(personas: Any) -> Any:
    user = UserFactory(email="victor@acme.test", full_name="Victor Viewer")
    MembershipFactory(workspace=personas.acme, user=user, role=Role.VIEWER)
    return user
