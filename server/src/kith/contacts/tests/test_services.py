import datetime as dt

import pytest
from django.db import IntegrityError, transaction

from kith.accounts.tests.factories import UserFactory
from kith.contacts import services
from kith.contacts.errors import DuplicateRecord, InvalidFields
from kith.contacts.models import Company, Contact, ContactSettings, CustomFieldDefinition, FieldType, Tag
from kith.contacts.tests.factories import CompanyFactory, ContactFactory, CustomFieldDefinitionFactory
from kith.core import clock
from kith.core.models import AuditEntry

pytestmark = pytest.mark.django_db


def _audit(action):
    return list(AuditEntry.objects.filter(action=action).order_by("id"))


# --- contacts ------------------------------------------------------------------------------------------------
def test_email_is_unique_per_workspace_ignoring_case(personas):
    services.contact_create(workspace=personas.acme, actor=personas.alice, data={"email": "dana@example.com"})

    with pytest.raises(DuplicateRecord) as caught:
        services.contact_create(workspace=personas.acme, actor=personas.alice, data={"email": "DANA@Example.com"})

    assert caught.value.field == "email"
    assert Contact.objects.filter(workspace=personas.acme).count() == 1


def test_the_same_email_may_live_in_two_workspaces(personas):
    for workspace, actor in ((personas.acme, personas.alice), (personas.mallory_inc, personas.mallory)):
        services.contact_create(workspace=workspace, actor=actor, data={"email": "dana@example.com"})

    assert Contact.objects.filter(email="dana@example.com").count() == 2


def test_database_refuses_an_email_that_skipped_normalization(personas):
    with pytest.raises(IntegrityError), transaction.atomic():
        Contact.objects.create(workspace=personas.acme, email="Dana@Example.com")


def test_create_normalizes_phone_with_the_workspace_region(personas):
    ContactSettings.objects.create(workspace=personas.acme, default_phone_region="DE")

    contact = services.contact_create(workspace=personas.acme, actor=personas.alice,
                                      data={"first_name": "Dana", "phone": "030 1234567"})

    assert contact.phone == "+49301234567"


def test_invalid_phone_is_a_field_error(personas):
    with pytest.raises(InvalidFields) as caught:
        services.contact_create(workspace=personas.acme, actor=personas.alice, data={"phone": "12"})

    assert "phone" in caught.value.errors


def test_a_contact_needs_something_to_be_found_by(personas):
    with pytest.raises(InvalidFields) as caught:
        services.contact_create(workspace=personas.acme, actor=personas.alice, data={"lifecycle_stage": "lead"})

    assert "email" in caught.value.errors


def test_owner_must_be_a_member_of_the_workspace(personas):
    outsider = UserFactory(email="outsider@example.com")

    with pytest.raises(InvalidFields) as caught:
        services.contact_create(workspace=personas.acme, actor=personas.alice,
                                data={"email": "a@example.com", "owner": outsider.pk})

    assert "owner" in caught.value.errors


def test_company_of_another_workspace_cannot_be_linked(personas):
    foreign = CompanyFactory(workspace=personas.mallory_inc)

    with pytest.raises(InvalidFields) as caught:
        services.contact_create(workspace=personas.acme, actor=personas.alice,
                                data={"email": "a@example.com", "company": foreign.pk})

    assert "company" in caught.value.errors


def test_create_is_audited_with_the_values_written(personas):
    contact = services.contact_create(workspace=personas.acme, actor=personas.alice,
                                      data={"email": "dana@example.com", "lifecycle_stage": "mql"}, tags=["vip"])

    created = _audit("contact.created")[0]
    assert created.target_id == str(contact.pk)
    assert created.after["email"] == "dana@example.com"
    assert created.after["lifecycle_stage"] == "mql"
    assert _audit("contact.tags_added")[0].after == {"tags": ["vip"]}


def test_update_is_audited_with_before_and_after_of_changed_fields_only(personas):
    contact = ContactFactory(workspace=personas.acme, lead_status="new", attributes={})
    CustomFieldDefinitionFactory(workspace=personas.acme, key="seats", field_type=FieldType.NUMBER)

    services.contact_update(contact=contact, actor=personas.alice,
                            data={"lead_status": "contacted", "first_name": contact.first_name,
                                  "attributes": {"seats": 3}})

    (updated,) = _audit("contact.updated")
    assert updated.before == {"lead_status": "new", "attributes": {}}
    assert updated.after == {"lead_status": "contacted", "attributes": {"seats": 3}}
    assert updated.actor == personas.alice


def test_update_can_change_the_external_id_and_the_owner(personas):
    contact = ContactFactory(workspace=personas.acme, external_id="old-id")

    services.contact_update(contact=contact, actor=personas.alice,
                            data={"external_id": "new-id", "owner": personas.bob.pk})

    stored = Contact.objects.get(pk=contact.pk)
    assert (stored.external_id, stored.owner_id) == ("new-id", personas.bob.pk)
    assert _audit("contact.updated")[0].after == {"external_id": "new-id", "owner": personas.bob.pk}


def test_an_update_that_changes_nothing_writes_nothing(personas):
    contact = ContactFactory(workspace=personas.acme, first_name="Dana")
    before = Contact.objects.get(pk=contact.pk).updated_at

    services.contact_update(contact=contact, actor=personas.alice, data={"first_name": " Dana "})

    assert _audit("contact.updated") == []
    assert Contact.objects.get(pk=contact.pk).updated_at == before


def test_consent_change_records_when_it_changed(personas):
    contact = ContactFactory(workspace=personas.acme)
    moment = dt.datetime(2025, 3, 1, 12, 0, tzinfo=dt.UTC)

    with clock.frozen(moment):
        contact = services.contact_update(contact=contact, actor=personas.alice, data={"email_consent": "opted_in"})

    assert contact.email_consent == "opted_in"
    assert contact.email_consent_changed_at == moment
    assert contact.sms_consent_changed_at is None


def test_delete_keeps_what_the_contact_held_in_the_audit_row(personas):
    contact = ContactFactory(workspace=personas.acme, email="gone@example.com")
    pk = contact.pk

    services.contact_delete(contact=contact, actor=personas.alice)

    assert not Contact.objects.filter(pk=pk).exists()
    (deleted,) = _audit("contact.deleted")
    assert deleted.target_id == str(pk)
    assert deleted.before["email"] == "gone@example.com"


# --- upsert --------------------------------------------------------------------------------------------------
def test_upsert_by_email_updates_the_same_row_whatever_the_case(personas):
    first, created = services.contact_upsert(workspace=personas.acme, actor=personas.alice,
                                             data={"email": "dana@example.com", "first_name": "Dana"})
    second, created_again = services.contact_upsert(workspace=personas.acme, actor=personas.alice,
                                                    data={"email": "DANA@EXAMPLE.COM", "lead_status": "contacted"})

    assert (created, created_again) == (True, False)
    assert second.pk == first.pk
    assert Contact.objects.get(pk=first.pk).lead_status == "contacted"
    assert Contact.objects.filter(workspace=personas.acme).count() == 1


def test_upsert_prefers_the_external_id_and_may_change_the_email(personas):
    contact = ContactFactory(workspace=personas.acme, email="old@example.com", external_id="user-1")

    updated, created = services.contact_upsert(workspace=personas.acme, actor=personas.alice,
                                               data={"external_id": "user-1", "email": "new@example.com"})

    assert not created
    assert updated.pk == contact.pk
    assert updated.email == "new@example.com"


def test_upsert_by_email_adopts_the_external_id_of_a_contact_without_one(personas):
    contact = ContactFactory(workspace=personas.acme, email="dana@example.com", external_id="")

    updated, created = services.contact_upsert(workspace=personas.acme, actor=personas.alice,
                                               data={"external_id": "user-9", "email": "dana@example.com"},
                                               tags=["paying"])

    assert (created, updated.pk, updated.external_id) == (False, contact.pk, "user-9")


def test_upsert_refuses_an_email_and_external_id_of_two_different_contacts(personas):
    ContactFactory(workspace=personas.acme, email="a@example.com", external_id="user-1")
    ContactFactory(workspace=personas.acme, email="b@example.com", external_id="user-2")

    with pytest.raises(InvalidFields) as caught:
        services.contact_upsert(workspace=personas.acme, actor=personas.alice,
                                data={"external_id": "user-1", "email": "b@example.com"})

    assert "email" in caught.value.errors


def test_upsert_tags_are_added_not_replaced(personas):
    ContactFactory(workspace=personas.acme, email="a@example.com", tags=["vip"])

    contact, _ = services.contact_upsert(workspace=personas.acme, actor=personas.alice,
                                         data={"email": "a@example.com"}, tags=["paying"])

    assert sorted(contact.tags.values_list("name", flat=True)) == ["paying", "vip"]


def test_restricted_rep_becomes_owner_of_what_they_create(personas, restricted_bob):
    contact = services.contact_create(workspace=personas.acme, actor=personas.bob, data={"email": "a@example.com"},
                                      membership=restricted_bob)

    assert contact.owner_id == personas.bob.pk


def test_restricted_rep_cannot_upsert_a_contact_owned_by_someone_else(personas, restricted_bob):
    ContactFactory(workspace=personas.acme, email="a@example.com", owner=personas.alice)

    with pytest.raises(InvalidFields) as caught:
        services.contact_upsert(workspace=personas.acme, actor=personas.bob,
                                data={"email": "a@example.com", "lead_status": "contacted"},
                                membership=restricted_bob)

    assert "email" in caught.value.errors
    assert Contact.objects.get(email="a@example.com").lead_status == "new"


# --- tags ----------------------------------------------------------------------------------------------------
def test_tags_are_one_per_name_ignoring_case_and_spacing(personas):
    contact = ContactFactory(workspace=personas.acme)

    services.contact_add_tags(contact=contact, actor=personas.alice, names=["VIP  Customer", "vip customer"])
    services.contact_add_tags(contact=contact, actor=personas.alice, names=["Vip Customer"])

    assert list(Tag.objects.filter(workspace=personas.acme).values_list("name", flat=True)) == ["VIP Customer"]
    assert contact.tags.count() == 1
    assert len(_audit("contact.tags_added")) == 1


def test_removing_tags_audits_only_those_the_contact_had(personas):
    contact = ContactFactory(workspace=personas.acme, tags=["vip", "trial"])

    removed = services.contact_remove_tags(contact=contact, actor=personas.alice, names=["TRIAL", "never-had"])

    assert [t.name for t in removed] == ["trial"]
    assert list(contact.tags.values_list("name", flat=True)) == ["vip"]
    assert _audit("contact.tags_removed")[0].before == {"tags": ["trial"]}


def test_tag_rename_may_change_case_but_not_clash(personas):
    vip = services.tag_create(workspace=personas.acme, actor=personas.alice, name="vip")
    services.tag_create(workspace=personas.acme, actor=personas.alice, name="trial")

    services.tag_rename(tag=vip, actor=personas.alice, name="VIP")
    with pytest.raises(InvalidFields):
        services.tag_rename(tag=vip, actor=personas.alice, name="Trial")

    assert Tag.objects.get(pk=vip.pk).name == "VIP"


# --- companies -----------------------------------------------------------------------------------------------
def test_company_domain_is_normalized_and_unique(personas):
    company = services.company_create(workspace=personas.acme, actor=personas.alice,
                                      data={"name": "Globex", "domain": "https://www.Globex.com/contact"})

    with pytest.raises(DuplicateRecord) as caught:
        services.company_create(workspace=personas.acme, actor=personas.alice,
                                data={"name": "Globex again", "domain": "globex.com"})

    assert company.domain == "globex.com"
    assert caught.value.field == "domain"


def test_company_upsert_by_domain_updates_the_same_row(personas):
    first, created = services.company_upsert(workspace=personas.acme, actor=personas.alice,
                                             data={"name": "Globex", "domain": "globex.com"})
    second, created_again = services.company_upsert(workspace=personas.acme, actor=personas.alice,
                                                    data={"name": "Globex Corp", "domain": "WWW.GLOBEX.COM"})

    assert (created, created_again) == (True, False)
    assert second.pk == first.pk
    assert Company.objects.get(pk=first.pk).name == "Globex Corp"
    assert _audit("company.updated")[0].after == {"name": "Globex Corp"}


def test_deleting_a_company_keeps_its_contacts(personas):
    company = CompanyFactory(workspace=personas.acme)
    contact = ContactFactory(workspace=personas.acme, company=company)

    services.company_delete(company=company, actor=personas.alice)

    assert Contact.objects.get(pk=contact.pk).company is None


# --- custom fields -------------------------------------------------------------------------------------------
def test_custom_field_key_and_type_are_fixed(personas):
    definition = services.custom_field_definition_create(
        workspace=personas.acme, actor=personas.alice, object_type="contact", key="plan", label="Plan",
        field_type="single_choice", choices=["free", "pro"],
    )

    with pytest.raises(InvalidFields) as caught:
        services.custom_field_definition_update(definition=definition, actor=personas.alice,
                                                data={"field_type": "text", "label": "Plan tier"})

    assert "field_type" in caught.value.errors
    assert CustomFieldDefinition.objects.get(pk=definition.pk).label == "Plan"


def test_choice_fields_need_choices_and_keys_must_be_slugs(personas):
    with pytest.raises(InvalidFields) as caught:
        services.custom_field_definition_create(workspace=personas.acme, actor=personas.alice,
                                                object_type="contact", key="Plan Tier", label="Plan",
                                                field_type="single_choice", choices=[])

    assert set(caught.value.errors) == {"key", "choices"}


def test_deleting_a_custom_field_removes_its_values_everywhere(personas):
    definition = CustomFieldDefinitionFactory(workspace=personas.acme, key="plan")
    kept = ContactFactory(workspace=personas.acme, attributes={"plan": "pro", "seats": 3})
    other_workspace = ContactFactory(workspace=personas.mallory_inc, attributes={"plan": "pro"})

    purged = services.custom_field_definition_delete(definition=definition, actor=personas.alice)

    assert purged == 1
    assert Contact.objects.get(pk=kept.pk).attributes == {"seats": 3}
    assert Contact.objects.get(pk=other_workspace.pk).attributes == {"plan": "pro"}
    assert _audit("custom_field.deleted")[0].before["values_removed"] == 1


def test_default_phone_region_must_be_a_known_region(personas):
    services.contact_settings_update(workspace=personas.acme, actor=personas.alice, default_phone_region="de")

    with pytest.raises(InvalidFields):
        services.contact_settings_update(workspace=personas.acme, actor=personas.alice, default_phone_region="XX")

    assert ContactSettings.objects.get(workspace=personas.acme).default_phone_region == "DE"
