import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from kith.contacts import services
from kith.contacts.errors import InvalidFields
from kith.contacts.models import Contact, ContactTag
from kith.contacts.services import MAX_BULK_ITEMS
from kith.contacts.tests.factories import CompanyFactory, ContactFactory
from kith.core.models import AuditEntry

pytestmark = pytest.mark.django_db


def test_good_items_are_saved_and_bad_items_get_their_own_errors(personas):
    existing = ContactFactory(workspace=personas.acme, email="known@example.com", lead_status="new")
    company = CompanyFactory(workspace=personas.acme)

    results = services.contact_bulk_upsert(workspace=personas.acme, actor=personas.alice, items=[
        {"email": "new@example.com", "first_name": "New", "company": company.pk, "tags": ["import"]},
        {"email": "KNOWN@example.com", "lead_status": "contacted"},
        {"email": "broken@example.com", "phone": "12", "timezone": "Mars/Base"},
        {"email": "known@example.com"},
        {"email": "other@example.com", "company": 999_999},
        {"first_name": "Phone only", "phone": "+14155550123"},
    ])

    assert [r.status for r in results] == ["created", "updated", "error", "error", "error", "created"]
    assert set(results[2].errors) == {"phone", "timezone"}
    assert "Item 1" in results[3].errors["email"][0]
    assert "company" in results[4].errors
    assert results[1].id == existing.pk
    assert Contact.objects.get(pk=existing.pk).lead_status == "contacted"
    created = Contact.objects.get(email="new@example.com")
    assert (created.company_id, created.pk) == (company.pk, results[0].id)
    assert list(created.tags.values_list("name", flat=True)) == ["import"]
    assert not Contact.objects.filter(email__in=["broken@example.com", "other@example.com"]).exists()


def test_an_item_identical_to_the_stored_contact_is_unchanged_and_not_audited(personas):
    ContactFactory(workspace=personas.acme, email="same@example.com", first_name="Sam")

    (result,) = services.contact_bulk_upsert(workspace=personas.acme, actor=personas.alice,
                                             items=[{"email": "same@example.com", "first_name": "Sam"}])

    assert result.status == "unchanged"
    assert not AuditEntry.objects.filter(action__startswith="contact.").exists()


def test_every_created_and_updated_row_gets_an_audit_entry(personas):
    ContactFactory(workspace=personas.acme, email="known@example.com", lead_status="new")

    services.contact_bulk_upsert(workspace=personas.acme, actor=personas.alice, items=[
        {"email": "a@example.com"}, {"email": "known@example.com", "lead_status": "qualified"},
    ])

    actions = dict(AuditEntry.objects.filter(workspace=personas.acme, action__startswith="contact.")
                   .values_list("action", "after"))
    assert actions["contact.created"]["email"] == "a@example.com"
    assert actions["contact.updated"] == {"lead_status": "qualified"}


def test_an_update_may_not_take_an_email_another_contact_has(personas):
    ContactFactory(workspace=personas.acme, email="taken@example.com")
    mover = ContactFactory(workspace=personas.acme, email="mover@example.com", external_id="u-1")

    (result,) = services.contact_bulk_upsert(workspace=personas.acme, actor=personas.alice,
                                             items=[{"external_id": "u-1", "email": "taken@example.com"}])

    assert result.status == "error"
    assert Contact.objects.get(pk=mover.pk).email == "mover@example.com"


def test_more_than_the_limit_is_refused_as_a_whole(personas):
    items = [{"email": f"c{i}@example.com"} for i in range(MAX_BULK_ITEMS + 1)]

    with pytest.raises(InvalidFields) as caught:
        services.contact_bulk_upsert(workspace=personas.acme, actor=personas.alice, items=items)

    assert "items" in caught.value.errors
    assert not Contact.objects.exists()


@pytest.mark.parametrize("size", [10, 300])
def test_bulk_is_set_based_never_a_query_per_item(personas, size):
    ContactFactory(workspace=personas.acme, email="c0@example.com")
    items = [{"email": f"c{i}@example.com", "lead_status": "contacted", "tags": ["batch", f"t{i % 3}"]}
             for i in range(size)]

    with CaptureQueriesContext(connection) as queries:
        results = services.contact_bulk_upsert(workspace=personas.acme, actor=personas.alice, items=items)

    assert {r.status for r in results} == {"created", "updated"}
    assert ContactTag.objects.filter(contact__workspace=personas.acme).count() == 2 * size
    # About fifteen statements, plus the extra INSERT batches SQLite needs (it binds at most 999 parameters per
    # statement); a query per item would be several hundred here.
    assert len(queries) <= 20 + size // 10, [q["sql"][:60] for q in queries]


def test_a_row_lost_to_a_concurrent_writer_fails_alone(personas, monkeypatch):
    # Given a contact that appeared after the batch looked for existing rows (simulated by hiding it from the lookup)
    ContactFactory(workspace=personas.acme, email="raced@example.com")
    monkeypatch.setattr("kith.contacts.services.bulk._existing", lambda workspace, pending: [])

    # When the batch inserts it again next to a new contact
    results = services.contact_bulk_upsert(workspace=personas.acme, actor=personas.alice,
                                           items=[{"email": "fresh@example.com"}, {"email": "raced@example.com"}])

    # Then only the raced item fails, and the other is saved
    assert [r.status for r in results] == ["created", "error"]
    assert Contact.objects.filter(email="fresh@example.com").exists()
    assert Contact.objects.filter(email="raced@example.com").count() == 1
