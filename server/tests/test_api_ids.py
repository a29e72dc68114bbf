"""Object ids in API paths are ASCII digits, as the OpenAPI document says: anything Python's int() would also accept
(a leading no-break space, Arabic-Indic digits, a plus sign) answers 404 and changes nothing."""

from __future__ import annotations

import re

import pytest
from django.urls import URLPattern
from rest_framework.test import APIClient

from kith.api_urls import router
from kith.contacts.models import Contact
from kith.contacts.services import contact_create
from kith.preferences.models import Topic
from kith.preferences.services import topic_create

pytestmark = pytest.mark.django_db

# What int() accepts for 3 that is not "3".
LOOKALIKES = ["%C2%A0{n}", "{n}%C2%A0", "%2B{n}", "%D9%A3"]


def test_every_router_detail_route_takes_ascii_digits_only():
    details = [p for p in router.urls if isinstance(p, URLPattern) and "(?P<pk>" in str(p.pattern)]

    assert details, "the router has detail routes"
    assert all("(?P<pk>[0-9]+)" in str(p.pattern) for p in details), [str(p.pattern) for p in details]


@pytest.mark.parametrize("lookalike", LOOKALIKES)
def test_a_lookalike_id_is_not_found_and_archives_or_deletes_nothing(personas, lookalike):
    acme, alice = personas.acme, personas.alice
    topic = topic_create(workspace=acme, actor=alice, data={"name": "News"})
    contact = contact_create(workspace=acme, actor=alice, data={"email": "ada@example.com"})
    client = APIClient()
    client.force_authenticate(alice)
    client.force_login(alice)

    for path, pk in (("topics", topic.pk), ("contacts", contact.pk)):
        odd = lookalike.format(n=pk) if "{n}" in lookalike else lookalike
        url = f"/api/v1/{path}/{odd}/"
        assert client.get(url).status_code == 404, url
        assert client.delete(url, HTTP_IDEMPOTENCY_KEY=f"k-{path}-{odd}").status_code == 404, url

    assert not Topic.objects.get(pk=topic.pk).archived_at
    assert Contact.objects.filter(pk=contact.pk).exists()
