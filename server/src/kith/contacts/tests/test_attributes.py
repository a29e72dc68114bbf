"""The custom attribute validator, on its own and on every write path (service create/update/upsert, bulk, API)."""

import pytest

from kith.contacts import services
from kith.contacts.attributes import MAX_TEXT_LENGTH, attributes_clean
from kith.contacts.errors import InvalidFields
from kith.contacts.models import Contact, CustomFieldDefinition, FieldType
from kith.contacts.tests.factories import ContactFactory, CustomFieldDefinitionFactory

pytestmark = pytest.mark.django_db


def _definitions(**types: str) -> dict[str, CustomFieldDefinition]:
    return {
        key: CustomFieldDefinition(key=key, field_type=field_type, label=key,
                                   choices=["free", "pro", "enterprise"] if "choice" in field_type else [])
        for key, field_type in types.items()
    }


DEFINITIONS = _definitions(plan=FieldType.SINGLE_CHOICE, interests=FieldType.MULTI_CHOICE, seats=FieldType.NUMBER,
                           renewal=FieldType.DATE, trial=FieldType.BOOLEAN, notes=FieldType.TEXT)


def test_values_are_coerced_to_json_native_forms():
    cleaned = attributes_clean(
        definitions=DEFINITIONS,
        values={"plan": "PRO", "interests": ["pro", "free", "pro"], "seats": "12", "renewal": "2025-01-31",
                "trial": "yes", "notes": "call back"},
        current=None,
    )

    assert cleaned == {"plan": "pro", "interests": ["pro", "free"], "seats": 12, "renewal": "2025-01-31",
                       "trial": True, "notes": "call back"}


def test_every_bad_key_is_named_in_the_error():
    with pytest.raises(InvalidFields) as caught:
        attributes_clean(
            definitions=DEFINITIONS,
            values={"colour": "red", "plan": "platinum", "seats": True, "renewal": "2025-02-30",
                    "notes": "x" * (MAX_TEXT_LENGTH + 1)},
            current=None,
        )

    errors = caught.value.errors
    assert set(errors) == {"attributes.colour", "attributes.plan", "attributes.seats", "attributes.renewal",
                           "attributes.notes"}
    assert "colour" in errors["attributes.colour"][0]
    assert "platinum" in errors["attributes.plan"][0]


def test_update_merges_keys_and_null_removes_one():
    cleaned = attributes_clean(definitions=DEFINITIONS, values={"seats": 20, "plan": None},
                               current={"plan": "pro", "trial": True})

    assert cleaned == {"seats": 20, "trial": True}


def test_required_field_is_needed_on_create_and_cannot_be_cleared():
    definitions = {"plan": CustomFieldDefinition(key="plan", field_type=FieldType.TEXT, required=True)}

    with pytest.raises(InvalidFields) as on_create:
        attributes_clean(definitions=definitions, values={}, current=None)
    with pytest.raises(InvalidFields) as on_update:
        attributes_clean(definitions=definitions, values={"plan": None}, current={"plan": "pro"})

    assert "attributes.plan" in on_create.value.errors
    assert "attributes.plan" in on_update.value.errors


def test_definition_changes_never_block_edits_of_untouched_keys():
    definitions = {"plan": CustomFieldDefinition(key="plan", field_type=FieldType.SINGLE_CHOICE, choices=["pro"],
                                                 required=True)}

    cleaned = attributes_clean(definitions=definitions, values={}, current={"plan": "retired-choice"})

    assert cleaned == {"plan": "retired-choice"}


def test_non_object_attributes_are_refused():
    with pytest.raises(InvalidFields) as caught:
        attributes_clean(definitions=DEFINITIONS, values=["plan"], current=None)
    assert "attributes" in caught.value.errors


# --- every write path ------------------------------------------------------------------------------------------
@pytest.fixture
def plan_field(personas):
    return CustomFieldDefinitionFactory(workspace=personas.acme, key="plan", field_type=FieldType.SINGLE_CHOICE)


def test_service_create_validates_attributes(personas, plan_field):
    with pytest.raises(InvalidFields) as caught:
        services.contact_create(workspace=personas.acme, actor=personas.alice,
                                data={"email": "a@example.com", "attributes": {"plan": "platinum"}})

    assert "attributes.plan" in caught.value.errors
    assert not Contact.objects.exists()


def test_service_update_validates_attributes(personas, plan_field):
    contact = ContactFactory(workspace=personas.acme)

    with pytest.raises(InvalidFields) as caught:
        services.contact_update(contact=contact, actor=personas.alice, data={"attributes": {"unknown": 1}})

    assert "attributes.unknown" in caught.value.errors


def test_upsert_validates_attributes_when_it_updates(personas, plan_field):
    ContactFactory(workspace=personas.acme, email="a@example.com")

    with pytest.raises(InvalidFields) as caught:
        services.contact_upsert(workspace=personas.acme, actor=personas.alice,
                                data={"email": "A@example.com", "attributes": {"plan": "platinum"}})

    assert "attributes.plan" in caught.value.errors


def test_bulk_validates_attributes_per_item(personas, plan_field):
    results = services.contact_bulk_upsert(
        workspace=personas.acme, actor=personas.alice,
        items=[{"email": "good@example.com", "attributes": {"plan": "pro"}},
               {"email": "bad@example.com", "attributes": {"plan": "platinum"}}],
    )

    assert [r.status for r in results] == ["created", "error"]
    assert "attributes.plan" in results[1].errors
    assert Contact.objects.get(email="good@example.com").attributes == {"plan": "pro"}


def test_company_writes_validate_company_attributes(personas):
    CustomFieldDefinitionFactory(workspace=personas.acme, object_type="company", key="tier",
                                 field_type=FieldType.NUMBER)

    with pytest.raises(InvalidFields) as caught:
        services.company_create(workspace=personas.acme, actor=personas.alice,
                                data={"name": "Globex", "attributes": {"tier": "gold"}})

    assert "attributes.tier" in caught.value.errors


def test_api_write_answers_400_naming_the_attribute(personas, plan_field, alice_api):
    response = alice_api.post("/api/v1/contacts/", {"email": "a@example.com", "attributes": {"plan": "platinum"}},
                              format="json")

    assert response.status_code == 400
    assert "attributes.plan" in response.json()["error"]["fields"]
