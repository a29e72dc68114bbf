"""The contacts list's filter bar filters on custom attributes (``attr.<key>``, as in the API), and its export
reads the same rows."""

from __future__ import annotations

import pytest
from django.test import Client

from kith.contacts.models import Contact, FieldType
from kith.contacts.tests.factories import CustomFieldDefinitionFactory

pytestmark = pytest.mark.django_db


def browser(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def crowd(personas):
    for key, field_type, choices in (("plan", FieldType.SINGLE_CHOICE, ["Free", "Pro"]),
                                     ("seats", FieldType.NUMBER, []), ("trial", FieldType.BOOLEAN, []),
                                     ("langs", FieldType.MULTI_CHOICE, ["EN", "DE"])):
        CustomFieldDefinitionFactory(workspace=personas.acme, key=key, label=key.title(), field_type=field_type,
                                     choices=choices)
    rows = {
        "ann": {"plan": "Pro", "seats": 5, "trial": True, "langs": ["EN", "DE"]},
        "bob": {"plan": "Pro", "seats": 12, "trial": False, "langs": ["EN"]},
        "cy": {"plan": "Free", "seats": 5},
    }
    return {name: Contact.objects.create(workspace=personas.acme, email=f"{name}@example.com", first_name=name,
                                         attributes=attributes) for name, attributes in rows.items()}


def _shown(html: str) -> set[str]:
    return {name for name in ("ann@example.com", "bob@example.com", "cy@example.com") if name in html}


def test_the_filter_bar_offers_one_filter_per_custom_field(crowd, personas):
    html = browser(personas.alice).get("/contacts/").content.decode()

    assert 'name="attr.plan"' in html and '<option value="Pro">Pro</option>' in html
    assert 'name="attr.seats"' in html and 'type="number"' in html
    assert 'name="attr.trial"' in html and 'name="attr.langs"' in html


@pytest.mark.parametrize(("query", "expected"), [
    ("attr.plan=Pro", {"ann@example.com", "bob@example.com"}),
    ("attr.seats=5", {"ann@example.com", "cy@example.com"}),
    ("attr.plan=pro&attr.seats=5", {"ann@example.com"}),
    ("attr.trial=true", {"ann@example.com"}),
    ("attr.langs=DE", {"ann@example.com"}),
])
def test_attribute_filters_narrow_the_list(crowd, personas, query, expected):
    response = browser(personas.alice).get(f"/contacts/?{query}", HTTP_HX_REQUEST="true")

    assert response.status_code == 200 and _shown(response.content.decode()) == expected


def test_a_value_that_does_not_fit_the_field_is_shown_as_an_error_not_a_500(crowd, personas):
    response = browser(personas.alice).get("/contacts/?attr.seats=many&attr.plan=Platinum")
    html = response.content.decode()

    assert response.status_code == 200
    assert _shown(html) == {"ann@example.com", "bob@example.com", "cy@example.com"}  # dropped, not narrowed
    assert "invalid-feedback" in html


def test_the_export_of_a_filtered_list_has_the_same_rows(crowd, personas):
    response = browser(personas.alice).get("/contacts/export/?format=csv&attr.plan=Pro")

    assert response.status_code == 200
    body = b"".join(response.streaming_content).decode()
    assert "ann@example.com" in body and "bob@example.com" in body and "cy@example.com" not in body
