"""Fixtures of the deals tests: Acme's personas from the contacts tests, plus a pipeline with deals."""

from __future__ import annotations

from typing import Any

import pytest

from kith.contacts.tests.conftest import (  # noqa: F401  (fixtures re-used by name)
    acme_key_api,
    alice_api,
    bob_api,
    client_for,
    restricted_bob,
    victor,
)
from kith.deals.models import Pipeline
from kith.deals.services import pipeline_create


@pytest.fixture
def sales(personas: Any) -> Pipeline:
    """Acme's default pipeline with the default stages: Qualification … Negotiation, Won, Lost."""
    return pipeline_create(workspace=personas.acme, actor=personas.alice, name="Sales")


def stage(pipeline: Pipeline, name: str) -> Any:
    return pipeline.stages.get(name=name)
