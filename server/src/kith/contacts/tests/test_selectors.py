"""Who sees which contacts and companies: the rule lives in the selectors, shared by the UI and the API."""

import pytest

from kith.accounts.models import Membership, Role
from kith.contacts import selectors
from kith.contacts.models import FieldType
from kith.contacts.tests.factories import CompanyFactory, ContactFactory, CustomFieldDefinitionFactory
from kith.core.errors import NotFound

pytestmark = pytest.mark.django_db


@pytest.fixture
def book(personas):
    """Acme's contacts: one owned by bob, one by alice, one unassigned; one company each for bob and alice."""
    return {
        "bobs": ContactFactory(workspace=personas.acme, owner=personas.bob),
        "alices": ContactFactory(workspace=personas.acme, owner=personas.alice),
        "nobodys": ContactFactory(workspace=personas.acme, owner=None),
        "bobs_company": CompanyFactory(workspace=personas.acme, owner=personas.bob),
        "alices_company": CompanyFactory(workspace=personas.acme, owner=personas.alice),
    }


def _membership(personas, user):
    return Membership.objects.get(workspace=personas.acme, user=user)


def test_restricted_rep_sees_only_the_contacts_and_companies_he_owns(personas, book, restricted_bob):
    contacts = selectors.contact_list(workspace=personas.acme, membership=restricted_bob)
    companies = selectors.company_list(workspace=personas.acme, membership=restricted_bob)

    assert list(contacts) == [book["bobs"]]
    assert list(companies) == [book["bobs_company"]]
    with pytest.raises(NotFound):
        selectors.contact_get(workspace=personas.acme, membership=restricted_bob, contact_id=book["alices"].pk)


def test_unrestricted_rep_sees_the_whole_workspace(personas, book):
    contacts = selectors.contact_list(workspace=personas.acme, membership=_membership(personas, personas.bob))

    assert contacts.count() == 3


@pytest.mark.parametrize("role", [Role.OWNER, Role.ADMIN, Role.MANAGER])
def test_owners_admins_and_managers_see_everything_even_if_flagged(personas, book, role):
    membership = _membership(personas, personas.bob)
    membership.role, membership.restrict_to_own = role, True
    membership.save()

    assert selectors.contact_list(workspace=personas.acme, membership=membership).count() == 3


def test_api_keys_and_the_system_see_the_whole_workspace(personas, book):
    assert selectors.contact_list(workspace=personas.acme, membership=None).count() == 3


def test_no_workspace_sees_another_workspaces_contacts(personas, book):
    mallory = Membership.objects.get(workspace=personas.mallory_inc, user=personas.mallory)

    assert not selectors.contact_list(workspace=personas.mallory_inc, membership=mallory).exists()
    with pytest.raises(NotFound):
        selectors.contact_get(workspace=personas.mallory_inc, membership=mallory, contact_id=book["bobs"].pk)


def test_tag_filter_requires_every_tag_and_ignores_case(personas):
    both = ContactFactory(workspace=personas.acme, tags=["VIP", "trial"])
    ContactFactory(workspace=personas.acme, tags=["vip"])
    queryset = selectors.contact_list(workspace=personas.acme, membership=None)

    assert list(selectors.with_all_tags(queryset, workspace=personas.acme, names=["vip", "TRIAL"])) == [both]
    assert not selectors.with_all_tags(queryset, workspace=personas.acme, names=["unknown"]).exists()


@pytest.mark.parametrize(
    ("field_type", "stored", "wanted", "other"),
    [
        (FieldType.TEXT, "gold", "gold", "silver"),
        (FieldType.NUMBER, 12, 12, 13),
        (FieldType.BOOLEAN, True, True, False),
        (FieldType.DATE, "2025-01-31", "2025-01-31", "2025-02-01"),
        (FieldType.SINGLE_CHOICE, "pro", "pro", "free"),
        (FieldType.MULTI_CHOICE, ["pro", "free"], "free", ["enterprise"]),
    ],
)
def test_attribute_filter_matches_each_field_type(personas, field_type, stored, wanted, other):
    definition = CustomFieldDefinitionFactory(workspace=personas.acme, key="field", field_type=field_type)
    match = ContactFactory(workspace=personas.acme, attributes={"field": stored})
    ContactFactory(workspace=personas.acme, attributes={"field": other})
    ContactFactory(workspace=personas.acme, attributes={})
    queryset = selectors.contact_list(workspace=personas.acme, membership=None)

    assert list(selectors.with_attribute_equal(queryset, definition=definition, value=wanted)) == [match]
