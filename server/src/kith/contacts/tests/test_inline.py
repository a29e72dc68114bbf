"""Inline edit on the contact page: one field at a time through HTMX, validated like every other write."""

from __future__ import annotations

import pytest
from django.test import Client

from kith.accounts.models import Role
from kith.accounts.tests.factories import MembershipFactory, UserFactory
from kith.contacts.models import Contact, FieldType
from kith.contacts.tests.factories import (
    CompanyFactory,
    ContactFactory,
    CustomFieldDefinitionFactory,
)
from kith.core.models import AuditEntry

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}


def _login(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def dana(personas):
    CustomFieldDefinitionFactory(workspace=personas.acme, key="seats", label="Seats", field_type=FieldType.NUMBER)
    CustomFieldDefinitionFactory(workspace=personas.acme, key="plan", label="Plan",
                                 field_type=FieldType.SINGLE_CHOICE)
    return ContactFactory(workspace=personas.acme, email="dana@example.com", first_name="Dana",
                          attributes={"seats": 3}, owner=personas.alice)


def test_the_details_card_offers_every_field_and_custom_field_for_inline_edit(dana, personas):
    html = _login(personas.alice).get(f"/contacts/{dana.pk}/").content.decode()

    assert f'hx-get="/contacts/{dana.pk}/fields/email/?edit=1"' in html
    assert f'hx-get="/contacts/{dana.pk}/fields/attr.seats/?edit=1"' in html
    assert 'aria-label="Edit Plan"' in html


def test_editing_shows_a_form_and_saving_updates_the_contact(dana, personas):
    client = _login(personas.alice)

    form = client.get(f"/contacts/{dana.pk}/fields/first_name/?edit=1", **HTMX).content.decode()
    saved = client.post(f"/contacts/{dana.pk}/fields/first_name/", {"value": "Danielle"}, **HTMX)

    assert 'name="value"' in form and 'value="Dana"' in form
    assert saved.status_code == 200 and "Danielle" in saved.content.decode() and 'name="value"' not in \
        saved.content.decode()
    assert "kith:toast" in saved["HX-Trigger"]
    dana.refresh_from_db()
    assert dana.first_name == "Danielle"
    assert AuditEntry.objects.filter(action="contact.updated", target_id=str(dana.pk)).exists()


def test_custom_attributes_are_validated_by_their_definition(dana, personas):
    client = _login(personas.alice)

    bad = client.post(f"/contacts/{dana.pk}/fields/attr.seats/", {"value": "many"}, **HTMX).content.decode()
    good = client.post(f"/contacts/{dana.pk}/fields/attr.seats/", {"value": "12"}, **HTMX)
    choice = client.post(f"/contacts/{dana.pk}/fields/attr.plan/", {"value": "PRO"}, **HTMX)

    assert "Expected a number." in bad and 'aria-invalid="true"' in bad
    assert good.status_code == 200
    dana.refresh_from_db()
    assert dana.attributes == {"seats": 12, "plan": "pro"}
    assert choice.status_code == 200


def test_an_invalid_email_is_shown_on_the_field_and_nothing_changes(dana, personas):
    html = _login(personas.alice).post(f"/contacts/{dana.pk}/fields/email/", {"value": "not an address"},
                                       **HTMX).content.decode()

    assert "is-invalid" in html
    assert Contact.objects.get(pk=dana.pk).email == "dana@example.com"


def test_without_htmx_a_save_redirects_to_the_contact(dana, personas):
    response = _login(personas.alice).post(f"/contacts/{dana.pk}/fields/last_name/", {"value": "Lee"})

    assert response.status_code == 302 and response["Location"] == f"/contacts/{dana.pk}/"
    assert Contact.objects.get(pk=dana.pk).last_name == "Lee"


def test_viewers_get_no_edit_buttons_and_cannot_post(dana, personas):
    viewer = UserFactory(email="victor@acme.test")
    MembershipFactory(workspace=personas.acme, user=viewer, role=Role.VIEWER)
    client = _login(viewer)

    assert "kith-inline-edit" not in client.get(f"/contacts/{dana.pk}/").content.decode()
    assert client.post(f"/contacts/{dana.pk}/fields/first_name/", {"value": "X"}, **HTMX).status_code == 403
    assert Contact.objects.get(pk=dana.pk).first_name == "Dana"


def test_unknown_fields_and_other_workspaces_are_404(dana, personas):
    assert _login(personas.alice).get(f"/contacts/{dana.pk}/fields/owner_id/").status_code == 404
    assert _login(personas.mallory).post(f"/contacts/{dana.pk}/fields/first_name/",
                                         {"value": "X"}).status_code == 404


def test_owner_is_picked_among_the_workspace_members(dana, personas):
    client = _login(personas.alice)

    form = client.get(f"/contacts/{dana.pk}/fields/owner/?edit=1", **HTMX).content.decode()
    saved = client.post(f"/contacts/{dana.pk}/fields/owner/", {"value": str(personas.bob.pk)}, **HTMX)

    assert f'<option value="{personas.alice.pk}" selected>' in form
    assert f'<option value="{personas.bob.pk}"' in form and f'value="{personas.mallory.pk}"' not in form
    assert saved.status_code == 200 and "Bob Rep" in saved.content.decode()
    dana.refresh_from_db()
    assert dana.owner_id == personas.bob.pk
    cleared = client.post(f"/contacts/{dana.pk}/fields/owner/", {"value": ""}, **HTMX)
    dana.refresh_from_db()
    assert cleared.status_code == 200 and dana.owner_id is None


def test_company_is_picked_among_the_workspace_companies(dana, personas):
    ours = CompanyFactory(workspace=personas.acme, name="Globex")
    theirs = CompanyFactory(workspace=personas.mallory_inc, name="Evil Corp")
    client = _login(personas.alice)

    form = client.get(f"/contacts/{dana.pk}/fields/company/?edit=1", **HTMX).content.decode()
    saved = client.post(f"/contacts/{dana.pk}/fields/company/", {"value": str(ours.pk)}, **HTMX)

    assert f'<option value="{ours.pk}"' in form and "Evil Corp" not in form
    assert saved.status_code == 200 and "Globex" in saved.content.decode()
    dana.refresh_from_db()
    assert dana.company_id == ours.pk
    detail = client.get(f"/contacts/{dana.pk}/").content.decode()
    assert f'hx-get="/contacts/{dana.pk}/fields/company/?edit=1"' in detail
    assert f'hx-get="/contacts/{dana.pk}/fields/owner/?edit=1"' in detail
    del theirs


@pytest.mark.parametrize("name", ["owner", "company"])
def test_another_workspaces_id_is_a_field_error_not_a_500(dana, personas, name):
    evil = {"owner": personas.mallory.pk, "company": CompanyFactory(workspace=personas.mallory_inc).pk}[name]
    client = _login(personas.alice)

    for value in (str(evil), "not-a-number", "99999999999"):
        response = client.post(f"/contacts/{dana.pk}/fields/{name}/", {"value": value}, **HTMX)
        html = response.content.decode()
        assert response.status_code == 200 and "invalid-feedback" in html and 'aria-invalid="true"' in html
    dana.refresh_from_db()
    assert (dana.owner_id, dana.company_id) == (personas.alice.pk, None)
    # Without HTMX the error comes back as a message on the contact page.
    response = client.post(f"/contacts/{dana.pk}/fields/{name}/", {"value": str(evil)})
    assert response.status_code == 302


def test_owner_and_company_edit_in_place_on_the_list(dana, personas):
    ours = CompanyFactory(workspace=personas.acme, name="Globex")
    client = _login(personas.alice)

    listing = client.get("/contacts/").content.decode()
    form = client.get(f"/contacts/{dana.pk}/fields/company/?edit=1&in=list", **HTMX).content.decode()
    saved = client.post(f"/contacts/{dana.pk}/fields/company/?in=list", {"value": str(ours.pk)}, **HTMX)
    refused = client.post(f"/contacts/{dana.pk}/fields/owner/?in=list", {"value": str(personas.mallory.pk)}, **HTMX)

    assert f'hx-get="/contacts/{dana.pk}/fields/owner/?edit=1&amp;in=list"' in listing
    assert f'hx-get="/contacts/{dana.pk}/fields/company/?edit=1&amp;in=list"' in listing
    assert "kith-inline--cell" in form and f'<option value="{ours.pk}"' in form
    html = saved.content.decode()
    assert saved.status_code == 200 and "kith-inline--cell" in html and f'href="/companies/{ours.pk}/"' in html
    assert refused.status_code == 200 and "invalid-feedback" in refused.content.decode()
    dana.refresh_from_db()
    assert (dana.company_id, dana.owner_id) == (ours.pk, personas.alice.pk)


def test_viewers_see_no_edit_buttons_on_the_list(dana, personas):
    viewer = UserFactory()
    MembershipFactory(workspace=personas.acme, user=viewer, role=Role.VIEWER)

    listing = _login(viewer).get("/contacts/").content.decode()

    assert "dana@example.com" in listing and "/fields/owner/?edit=1" not in listing
