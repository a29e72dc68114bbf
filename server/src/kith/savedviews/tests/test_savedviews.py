"""Saved views of the list pages: save the layout, pick it, choose columns and sort (custom attributes too),
personal versus shared, who may delete, and that bad input is refused."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from kith.accounts.models import Role
from kith.accounts.tests.factories import MembershipFactory, UserFactory
from kith.contacts.models import FieldType, ObjectType
from kith.contacts.tests.factories import (
    CompanyFactory,
    ContactFactory,
    CustomFieldDefinitionFactory,
)
from kith.core.models import AuditEntry
from kith.deals.services import deal_create, pipeline_create
from kith.savedviews.models import SavedView

pytestmark = pytest.mark.django_db


def _login(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _emails_in_order(html: str) -> list[str]:
    return re.findall(r"[\w.-]+@example\.com", html)


@pytest.fixture
def seats(personas):
    CustomFieldDefinitionFactory(workspace=personas.acme, key="seats", label="Seats", field_type=FieldType.NUMBER)
    ContactFactory(workspace=personas.acme, email="nine@example.com", lifecycle_stage="customer",
                   attributes={"seats": 9})
    ContactFactory(workspace=personas.acme, email="eighty@example.com", lifecycle_stage="customer",
                   attributes={"seats": 80})
    ContactFactory(workspace=personas.acme, email="ten@example.com", lifecycle_stage="customer",
                   attributes={"seats": 10})
    ContactFactory(workspace=personas.acme, email="lead@example.com", lifecycle_stage="lead",
                   attributes={"seats": 500})


def test_a_list_shows_chosen_columns_sorted_numerically_by_a_custom_attribute(seats, personas):
    html = _login(personas.alice).get(
        "/contacts/?lifecycle_stage=customer&columns=email,attr.seats&sort=-attr.seats").content.decode()

    table = html[html.index("<table"):html.index("</table>")]
    assert ">Seats" in table and ">E-mail" in table and ">Stage<" not in table
    assert _emails_in_order(table) == ["eighty@example.com", "ten@example.com", "nine@example.com"]


def test_saving_a_view_keeps_filters_columns_and_sort_and_picking_it_shows_them(seats, personas):
    client = _login(personas.alice)

    response = client.post("/views/save/", {"kind": "contact", "name": "Big customers",
                                            "query": "lifecycle_stage=customer&after=99&page=2",
                                            "columns": "email,attr.seats", "sort": "-attr.seats"})

    view = SavedView.objects.get(name="Big customers")
    assert (view.query, view.columns, view.sort, view.shared) == (
        "lifecycle_stage=customer", ["email", "attr.seats"], "-attr.seats", False)
    assert response.status_code == 302 and response["Location"].startswith("/contacts/?lifecycle_stage=customer")
    page = client.get(response["Location"]).content.decode()
    assert "Big customers" in page
    table = page[page.index("<table"):page.index("</table>")]
    assert _emails_in_order(table) == ["eighty@example.com", "ten@example.com", "nine@example.com"]
    assert AuditEntry.objects.filter(action="saved_view.created", target_id=str(view.pk)).exists()


def test_saving_under_the_same_name_replaces_the_view(seats, personas):
    client = _login(personas.alice)
    client.post("/views/save/", {"kind": "contact", "name": "Mine", "query": "lifecycle_stage=lead"})
    client.post("/views/save/", {"kind": "contact", "name": "Mine", "query": "lifecycle_stage=customer"})

    assert list(SavedView.objects.values_list("query", flat=True)) == ["lifecycle_stage=customer"]


def test_personal_views_stay_personal_and_shared_ones_show_to_the_team(seats, personas):
    alice = _login(personas.alice)
    alice.post("/views/save/", {"kind": "contact", "name": "Alice private", "query": ""})
    alice.post("/views/save/", {"kind": "contact", "name": "Team pipeline", "query": "", "shared": "on"})

    bob_page = _login(personas.bob).get("/contacts/").content.decode()
    mallory_page = _login(personas.mallory).get("/contacts/").content.decode()

    assert "Team pipeline" in bob_page and "Alice private" not in bob_page
    assert "Team pipeline" not in mallory_page


def test_only_the_owner_or_an_admin_deletes_a_shared_view(seats, personas):
    _login(personas.bob).post("/views/save/", {"kind": "contact", "name": "Bob shared", "shared": "on"})
    view = SavedView.objects.get(name="Bob shared")
    viewer = UserFactory(email="victor@acme.test")
    MembershipFactory(workspace=personas.acme, user=viewer, role=Role.VIEWER)

    _login(viewer).post(f"/views/{view.pk}/delete/")
    assert SavedView.objects.filter(pk=view.pk).exists()
    assert _login(personas.mallory).post(f"/views/{view.pk}/delete/").status_code == 404

    _login(personas.alice).post(f"/views/{view.pk}/delete/")
    assert not SavedView.objects.filter(pk=view.pk).exists()


def test_viewers_keep_personal_views_but_cannot_share(seats, personas):
    viewer = UserFactory(email="victor@acme.test")
    MembershipFactory(workspace=personas.acme, user=viewer, role=Role.VIEWER)
    client = _login(viewer)

    client.post("/views/save/", {"kind": "contact", "name": "Mine"})
    client.post("/views/save/", {"kind": "contact", "name": "Everyone's", "shared": "on"})

    assert list(SavedView.objects.values_list("name", "shared")) == [("Mine", False)]


@pytest.mark.parametrize("data", [
    {"kind": "contact", "name": ""},
    {"kind": "contact", "name": "x" * 101},
    {"kind": "contact", "name": "Bad column", "columns": "email,attr.nope"},
    {"kind": "contact", "name": "Bad sort", "sort": "tags"},
    {"kind": "nope", "name": "Bad kind"},
    {"kind": "contact", "name": "Long", "query": "q=" + "x" * 3000},
])
def test_bad_views_are_refused_with_a_message_not_a_500(seats, personas, data):
    response = _login(personas.alice).post("/views/save/", data, follow=True)

    assert response.status_code == 200
    assert not SavedView.objects.exists()


def test_unknown_columns_or_sort_in_a_url_fall_back_to_the_default_list(seats, personas):
    response = _login(personas.alice).get("/contacts/?columns=nope&sort=attr.nope")

    assert response.status_code == 200
    assert ">Lead status<" in response.content.decode()


def test_company_and_deal_lists_take_columns_and_sort(personas):
    CustomFieldDefinitionFactory(workspace=personas.acme, object_type=ObjectType.COMPANY, key="tier", label="Tier")
    CompanyFactory(workspace=personas.acme, name="Beta Corp", attributes={"tier": "b"})
    CompanyFactory(workspace=personas.acme, name="Alpha Corp", attributes={"tier": "a"})
    pipeline = pipeline_create(workspace=personas.acme, actor=personas.alice, name="Sales")
    deal_create(workspace=personas.acme, actor=personas.alice, pipeline=pipeline, name="Zeta deal", value=5)
    deal_create(workspace=personas.acme, actor=personas.alice, pipeline=pipeline, name="Eta deal", value=50)
    client = _login(personas.alice)

    companies = client.get("/companies/?columns=name,attr.tier&sort=attr.tier").content.decode()
    deals = client.get("/deals/list/?columns=name,value&sort=-value").content.decode()

    assert companies.index("Alpha Corp") < companies.index("Beta Corp") and ">Tier" in companies
    assert deals.index("Eta deal") < deals.index("Zeta deal")


def test_sorted_lists_page_by_number(personas):
    for n in range(55):
        ContactFactory(workspace=personas.acme, email=f"p{n:02d}@example.com")
    client = _login(personas.alice)

    first = client.get("/contacts/?columns=email&sort=email").content.decode()
    second = client.get("/contacts/?columns=email&sort=email&page=2").content.decode()

    assert "p00@example.com" in first and "p54@example.com" not in first and "page=2" in first
    assert _emails_in_order(second[second.index("<table"):]) == [f"p{n}@example.com" for n in range(50, 55)]
