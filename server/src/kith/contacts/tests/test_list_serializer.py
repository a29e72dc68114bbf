"""The contact serializer's direct ``to_representation`` (a speed-up for the list endpoint) must produce exactly
what DRF's generic field loop produces for the same declared fields."""

from __future__ import annotations

import datetime as dt

import pytest
from rest_framework import serializers

from kith.contacts import selectors
from kith.contacts.api.serializers import ContactSerializer
from kith.contacts.tests.factories import CompanyFactory, ContactFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("full", [True, False])
def test_the_direct_representation_equals_the_generic_one(personas, full):
    extra = {}
    if full:
        extra = {"company": CompanyFactory(workspace=personas.acme, name="Globex"), "owner": personas.alice,
                 "last_seen_at": dt.datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=dt.UTC),
                 "email_consent_changed_at": dt.datetime(2025, 5, 6, 7, 8, 9, tzinfo=dt.UTC),
                 "attributes": {"plan": "pro", "seats": 3}, "tags": ["vip", "alpha"], "external_id": "u-1",
                 "phone": "+14155550123", "engagement_score": 7}
    contact = ContactFactory(workspace=personas.acme, email="dana@example.com", **extra)
    loaded = selectors.contact_get(workspace=personas.acme, membership=None, contact_id=contact.pk)
    serializer = ContactSerializer()

    direct = serializer.to_representation(loaded)
    generic = serializers.ModelSerializer.to_representation(serializer, loaded)

    assert direct == dict(generic)
    assert list(direct) == list(generic)
