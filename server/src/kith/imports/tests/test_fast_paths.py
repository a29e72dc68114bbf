"""The fast paths added to the contacts validators for imports give exactly what the general paths give."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from kith.contacts.attributes import value_coerce
from kith.contacts.models import CustomFieldDefinition, FieldType
from kith.contacts.validation import _PLAIN_EMAIL, normalize_email

ADDRESSES = [
    "Ada@Example.COM", "a.b+c@sub.example.co.uk", "x_y%z@ex-ample.io", "a..b@example.com", ".a@example.com",
    "a.@example.com", "a@-example.com", "a@example-.com", "a@example.c", "a@example.123", "a@localhost",
    "a@[127.0.0.1]", "ünï@example.com", "a@exämple.com", "a@xn--exmple-cua.com", "a b@example.com",
    "K\u212a@example.com", "a@" + "l" * 63 + ".com", "a@" + "l" * 64 + ".com", "\"quoted\"@example.com",
]


@pytest.mark.parametrize("address", ADDRESSES)
def test_the_plain_address_pattern_only_accepts_what_django_accepts(address):
    if _PLAIN_EMAIL.fullmatch(address):
        validate_email(address)  # raises if the fast path were looser
        assert normalize_email(address) == address.lower()
    else:
        try:
            expected = normalize_email(address)
        except ValueError:
            with pytest.raises(ValueError):
                normalize_email(address)
        else:
            assert normalize_email(address) == expected


def test_choices_still_match_ignoring_case_and_follow_definition_changes():
    definition = CustomFieldDefinition(key="plan", field_type=FieldType.SINGLE_CHOICE, choices=["Free", "Pro"])
    assert value_coerce(definition=definition, value=" pro ") == "Pro"
    definition.choices = ["Free", "Team"]
    with pytest.raises(ValueError):
        value_coerce(definition=definition, value="pro")
    assert value_coerce(definition=definition, value="TEAM") == "Team"
    with pytest.raises(ValidationError):
        validate_email("a..b@example.com")
