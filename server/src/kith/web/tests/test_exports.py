"""The Export menus of the list pages: the file holds the rows the page's filters select, for the member's view."""

from __future__ import annotations

import csv
import io

import pytest
from django.test import Client

from kith.accounts.models import Membership, Role
from kith.accounts.tests.factories import MembershipFactory, UserFactory
from kith.contacts.tests.factories import CompanyFactory, ContactFactory
from kith.core.models import AuditEntry
from kith.deals.services import deal_create, pipeline_create

pytestmark = pytest.mark.django_db


def _login(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _rows(response) -> list[dict[str, str]]:
    assert response.status_code == 200, response
    body = b"".join(response.streaming_content).decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(body)))


@pytest.fixture
def listed(personas):
    ContactFactory(workspace=personas.acme, email="vip-customer@example.com", lifecycle_stage="customer",
                   tags=["vip"], owner=personas.alice)
    ContactFactory(workspace=personas.acme, email="vip-lead@example.com", lifecycle_stage="lead", tags=["vip"],
                   owner=personas.bob)
    ContactFactory(workspace=personas.acme, email="plain@example.com", lifecycle_stage="customer",
                   owner=personas.bob)


def test_contact_export_uses_the_list_pages_filters(listed, personas):
    rows = _rows(_login(personas.alice).get("/contacts/export/?format=csv&lifecycle_stage=customer&tag=vip&q="))

    assert [row["email"] for row in rows] == ["vip-customer@example.com"]
    assert AuditEntry.objects.filter(action="contacts.exported", actor=personas.alice).count() == 1


def test_a_restricted_rep_exports_only_his_rows_from_the_page(listed, personas):
    Membership.objects.filter(workspace=personas.acme, user=personas.bob).update(restrict_to_own=True)

    rows = _rows(_login(personas.bob).get("/contacts/export/?format=csv"))

    assert sorted(row["email"] for row in rows) == ["plain@example.com", "vip-lead@example.com"]


def test_viewers_see_no_export_menu_and_get_403(listed, personas):
    viewer = UserFactory(email="victor@acme.test")
    MembershipFactory(workspace=personas.acme, user=viewer, role=Role.VIEWER)
    client = _login(viewer)

    assert "kith-export-menu" not in client.get("/contacts/").content.decode()
    assert client.get("/contacts/export/?format=csv").status_code == 403
    assert "kith-export-menu" in _login(personas.bob).get("/contacts/").content.decode()


def test_the_export_menu_submits_the_filter_form_with_a_format(listed, personas):
    html = _login(personas.alice).get("/contacts/?lifecycle_stage=customer").content.decode()

    assert 'id="kith-contact-filters"' in html
    assert 'form="kith-contact-filters" formaction="/contacts/export/" formmethod="get" name="format" value="xlsx"' \
        in html


def test_a_bad_format_is_a_400(listed, personas):
    assert _login(personas.alice).get("/contacts/export/?format=pdf").status_code == 400


def test_a_page_showing_chosen_columns_exports_those_columns_in_its_sort_order(listed, personas):
    response = _login(personas.alice).get("/contacts/export/?format=csv&columns=name,email,nope&sort=-email")

    body = b"".join(response.streaming_content).decode("utf-8-sig").splitlines()
    assert body[0] == "first_name,last_name,email"
    assert [line.split(",")[2] for line in body[1:]] == [
        "vip-lead@example.com", "vip-customer@example.com", "plain@example.com"]


def test_company_and_deal_exports_follow_their_list_filters(personas):
    globex = CompanyFactory(workspace=personas.acme, name="Globex")
    CompanyFactory(workspace=personas.acme, name="Initech")
    pipeline = pipeline_create(workspace=personas.acme, actor=personas.alice, name="Sales")
    deal_create(workspace=personas.acme, actor=personas.alice, pipeline=pipeline, name="Globex pilot",
                company=globex, owner=personas.alice)
    deal_create(workspace=personas.acme, actor=personas.alice, pipeline=pipeline, name="Other deal",
                owner=personas.bob)
    client = _login(personas.alice)

    companies = _rows(client.get("/companies/export/?format=csv&q=Globex"))
    deals = _rows(client.get(f"/deals/export/?format=csv&owner={personas.alice.pk}"))

    assert [c["name"] for c in companies] == ["Globex"]
    assert [(d["name"], d["company_name"]) for d in deals] == [("Globex pilot", "Globex")]


def test_outsiders_export_nothing_of_acme(listed, personas):
    rows = _rows(_login(personas.mallory).get("/contacts/export/?format=csv"))

    assert rows == []
