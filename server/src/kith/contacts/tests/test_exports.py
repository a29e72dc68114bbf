"""List exports through the API: the rows of the filtered list, access rules, custom attributes, formats,
formula escaping, who may export, the audit row, and memory that does not grow with the row count."""

from __future__ import annotations

import csv
import io
import itertools
import json
import tracemalloc

import openpyxl
import pytest
import schemathesis
from django.core import signals
from django.db import close_old_connections, connection
from django.test.utils import CaptureQueriesContext
from hypothesis import HealthCheck, given, settings
from schemathesis import checks

from kith.accounts.services import api_key_create
from kith.contacts.models import Contact, FieldType, ObjectType
from kith.contacts.tests.conftest import client_for
from kith.contacts.tests.factories import (
    CompanyFactory,
    ContactFactory,
    CustomFieldDefinitionFactory,
)
from kith.core import exports
from kith.core.models import AuditEntry
from kith.deals.services import deal_create, pipeline_create
from kith.wsgi import application

pytestmark = pytest.mark.django_db


def _body(response) -> bytes:
    assert response.status_code == 200, getattr(response, "content", b"")
    return b"".join(response.streaming_content) if response.streaming else response.getvalue()


def _csv(response) -> list[dict[str, str]]:
    assert response["Content-Type"].startswith("text/csv")
    return list(csv.DictReader(io.StringIO(_body(response).decode("utf-8-sig"))))


@pytest.fixture
def acme_contacts(personas):
    CustomFieldDefinitionFactory(workspace=personas.acme, key="plan", field_type=FieldType.SINGLE_CHOICE)
    CustomFieldDefinitionFactory(workspace=personas.acme, key="seats", field_type=FieldType.NUMBER)
    return {
        "pro": ContactFactory(workspace=personas.acme, email="pro@example.com", owner=personas.alice,
                              attributes={"plan": "pro", "seats": 12}, tags=["vip", "trial"],
                              lifecycle_stage="customer"),
        "free": ContactFactory(workspace=personas.acme, email="free@example.com", owner=personas.bob,
                               attributes={"plan": "free"}, lifecycle_stage="customer"),
        "bob_pro": ContactFactory(workspace=personas.acme, email="bob-pro@example.com", owner=personas.bob,
                                  attributes={"plan": "pro"}, lifecycle_stage="lead"),
        "other": ContactFactory(workspace=personas.mallory_inc, email="mallory-pro@example.com",
                                attributes={"plan": "pro"}),
    }


def test_csv_export_holds_exactly_the_filtered_rows_with_attributes_and_tags(acme_contacts, alice_api):
    response = alice_api.get("/api/v1/contacts/export/?format=csv&attr.plan=pro&lifecycle_stage=customer")

    rows = _csv(response)

    assert [row["email"] for row in rows] == ["pro@example.com"]
    assert rows[0]["attr.plan"] == "pro"
    assert rows[0]["attr.seats"] == "12"
    assert rows[0]["tags"] == "trial, vip"
    assert rows[0]["owner_email"] == "alice@acme.test"
    assert 'attachment; filename="contacts-' in response["Content-Disposition"]


def test_export_without_filters_is_the_whole_visible_list_newest_first(acme_contacts, alice_api):
    rows = _csv(alice_api.get("/api/v1/contacts/export/"))

    assert [row["email"] for row in rows] == ["bob-pro@example.com", "free@example.com", "pro@example.com"]


def test_a_restricted_rep_exports_only_the_contacts_he_sees(acme_contacts, restricted_bob, bob_api):
    rows = _csv(bob_api.get("/api/v1/contacts/export/?format=csv"))

    assert sorted(row["email"] for row in rows) == ["bob-pro@example.com", "free@example.com"]


def test_search_and_ordering_apply_as_in_the_list(acme_contacts, alice_api):
    rows = _csv(alice_api.get("/api/v1/contacts/export/?search=pro&ordering=email"))

    assert [row["email"] for row in rows] == ["bob-pro@example.com", "pro@example.com"]


def test_cells_that_would_start_a_spreadsheet_formula_are_quoted(personas, alice_api):
    ContactFactory(workspace=personas.acme, email="x@example.com", first_name="=HYPERLINK(\"http://evil\")",
                   last_name="+1", source="@SUM(A1)")

    csv_row = _csv(alice_api.get("/api/v1/contacts/export/?format=csv"))[0]
    sheet = openpyxl.load_workbook(io.BytesIO(_body(alice_api.get("/api/v1/contacts/export/?format=xlsx")))).active
    header, values = [cell.value for cell in sheet[1]], [cell.value for cell in sheet[2]]
    xlsx_row = dict(zip(header, values, strict=True))
    json_row = json.loads(_body(alice_api.get("/api/v1/contacts/export/?format=json")))[0]

    assert (csv_row["first_name"], csv_row["last_name"], csv_row["source"]) == (
        "'=HYPERLINK(\"http://evil\")", "'+1", "'@SUM(A1)")
    assert (xlsx_row["first_name"], xlsx_row["last_name"]) == ("'=HYPERLINK(\"http://evil\")", "'+1")
    assert sheet["B2"].data_type != "f"
    assert json_row["first_name"] == "=HYPERLINK(\"http://evil\")"  # data for programs stays exact


def test_json_export_is_one_array_shaped_like_the_list_results(acme_contacts, alice_api):
    response = alice_api.get("/api/v1/contacts/export/?format=json&attr.plan=pro")

    rows = json.loads(_body(response))

    assert response["Content-Type"] == "application/json"
    assert [row["email"] for row in rows] == ["bob-pro@example.com", "pro@example.com"]
    assert rows[1]["attributes"] == {"plan": "pro", "seats": 12}
    assert rows[1]["tags"] == ["trial", "vip"]


def test_ndjson_export_is_one_object_per_line(acme_contacts, alice_api):
    lines = _body(alice_api.get("/api/v1/contacts/export/?format=ndjson")).decode().splitlines()

    assert [json.loads(line)["email"] for line in lines] == [
        "bob-pro@example.com", "free@example.com", "pro@example.com"]


def test_xlsx_export_keeps_numbers_as_numbers(acme_contacts, alice_api):
    response = alice_api.get("/api/v1/contacts/export/?format=xlsx&email=pro@example.com")

    sheet = openpyxl.load_workbook(io.BytesIO(_body(response))).active
    header = [cell.value for cell in sheet[1]]
    rows = [[cell.value for cell in row] for row in sheet.iter_rows(min_row=2)]

    assert len(rows) == 1
    assert rows[0][header.index("attr.seats")] == 12
    assert rows[0][header.index("email")] == "pro@example.com"


def test_columns_parameter_picks_and_orders_columns(acme_contacts, alice_api):
    body = _body(alice_api.get("/api/v1/contacts/export/?columns=attr.plan,email&email=pro@example.com"))

    assert body.decode("utf-8-sig").splitlines() == ["attr.plan,email", "pro,pro@example.com"]


@pytest.mark.parametrize(("query", "field"), [
    ("format=pdf", "format"), ("format=csv&format=json", "format"), ("columns=email,nope", "columns"),
    ("attr.nope=1", "attr.nope"), ("lifecycle_stage=wizard", "lifecycle_stage"),
])
def test_bad_export_parameters_are_a_400_in_the_api_error_format(acme_contacts, alice_api, query, field):
    response = alice_api.get(f"/api/v1/contacts/export/?{query}")

    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    assert field in response.json()["error"]["fields"]


def test_viewers_may_not_export_but_reps_and_read_keys_may(acme_contacts, victor, bob_api, acme_key_api):
    viewer = client_for(victor)

    assert viewer.get("/api/v1/contacts/").status_code == 200
    assert viewer.get("/api/v1/contacts/export/").status_code == 403
    assert bob_api.get("/api/v1/contacts/export/").status_code == 200
    assert acme_key_api.get("/api/v1/contacts/export/").status_code == 200


def test_every_export_is_audited_with_its_filters(acme_contacts, alice_api):
    _body(alice_api.get("/api/v1/contacts/export/?format=json&attr.plan=pro"))

    entry = AuditEntry.objects.get(action="contacts.exported")
    assert entry.actor_label == "alice@acme.test"
    assert entry.after == {"format": "json", "query": "format=json&attr.plan=pro"}


def test_company_and_deal_exports_carry_external_ids_and_company_attributes(personas, alice_api, acme_key_api):
    CustomFieldDefinitionFactory(workspace=personas.acme, object_type=ObjectType.COMPANY, key="tier")
    company = CompanyFactory(workspace=personas.acme, name="Globex", external_id="crm-7",
                             attributes={"tier": "gold"})
    pipeline = pipeline_create(workspace=personas.acme, actor=personas.alice, name="Sales")
    deal = deal_create(workspace=personas.acme, actor=personas.alice, pipeline=pipeline, name="Globex pilot",
                       company=company, owner=personas.alice)
    type(deal).objects.filter(pk=deal.pk).update(external_id="opp-9")

    companies = _csv(alice_api.get("/api/v1/companies/export/?external_id=crm-7"))
    deals = _csv(alice_api.get(f"/api/v1/deals/export/?company={company.pk}"))

    assert [(c["name"], c["external_id"], c["attr.tier"]) for c in companies] == [("Globex", "crm-7", "gold")]
    assert [(d["name"], d["company_name"], d["external_id"]) for d in deals] == [("Globex pilot", "Globex", "opp-9")]
    assert acme_key_api.get("/api/v1/deals/?external_id=opp-9").json()["results"][0]["external_id"] == "opp-9"
    assert acme_key_api.get("/api/v1/companies/?external_id=crm-7").json()["results"][0]["id"] == company.pk


def test_mallory_exports_nothing_of_acme(acme_contacts, personas):
    rows = _csv(client_for(personas.mallory).get("/api/v1/contacts/export/"))

    assert [row["email"] for row in rows] == ["mallory-pro@example.com"]


def _bulk_contacts(workspace, count: int, start: int = 0) -> None:
    Contact.objects.bulk_create(
        [Contact(workspace=workspace, email=f"bulk{i}@example.com", first_name=f"First{i}", last_name="Bulk",
                 attributes={"plan": "pro", "seats": i}) for i in range(start, start + count)],
        batch_size=2000,
    )


def _export_peak(client, export_format: str) -> tuple[int, int]:
    """Peak traced memory and bytes while the whole export is read chunk by chunk (the way a server sends it)."""
    tracemalloc.start()
    try:
        response = client.get(f"/api/v1/contacts/export/?format={export_format}")
        assert response.status_code == 200
        size = 0
        for chunk in response.streaming_content:  # the test client closes the response after the last chunk
            size += len(chunk)
        return tracemalloc.get_traced_memory()[1], size
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("export_format", ["csv", "xlsx"])
def test_export_memory_does_not_grow_with_the_number_of_rows(personas, acme_key_api, export_format, monkeypatch):
    # Smaller chunks than in production so that five times the rows span many chunks while tracemalloc (which slows
    # every allocation) keeps the test to seconds; the property is the same at any chunk size.
    monkeypatch.setattr(exports, "CHUNK_SIZE", 500)
    CustomFieldDefinitionFactory(workspace=personas.acme, key="plan", field_type=FieldType.SINGLE_CHOICE)
    CustomFieldDefinitionFactory(workspace=personas.acme, key="seats", field_type=FieldType.NUMBER)
    _bulk_contacts(personas.acme, 2_500)
    small_peak, small_size = _export_peak(acme_key_api, export_format)
    _bulk_contacts(personas.acme, 10_000, start=2_500)

    with CaptureQueriesContext(connection) as queries:
        large_peak, large_size = _export_peak(acme_key_api, export_format)

    # Five times the rows (and bytes) but about the same peak: only a chunk of rows is ever held.
    assert large_size > 4 * small_size
    assert large_peak < 1.5 * small_peak, (small_peak, large_peak)
    # One query per chunk of rows and one for its tags, plus a fixed few (auth, definitions, audit).
    assert len(queries) <= 2 * (12_500 // 500 + 1) + 12


def test_export_operations_keep_their_openapi_contract(personas):
    """The export endpoints alone through schemathesis (tests/test_api_contract.py walks every operation and stops
    at the first failure anywhere; this keeps the exports' own contract checked)."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", application)
        _, raw = api_key_create(workspace=personas.acme, actor=personas.alice, name="contract", scopes=["read"])
        ContactFactory(workspace=personas.acme, email="x@example.com", first_name="=1+1")
        operations = [r.ok() for r in schema.get_all_operations() if r.ok().path.endswith("/export/")]
        assert {op.path for op in operations} == {"/api/v1/contacts/export/", "/api/v1/companies/export/",
                                                  "/api/v1/deals/export/"}
        for operation, mode in itertools.product(operations, list(schemathesis.GenerationMode)):

            @given(case=operation.as_strategy(generation_mode=mode))
            @settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck), database=None)
            def check(case: schemathesis.Case) -> None:
                case.call_and_validate(headers={"Authorization": f"Bearer {raw}"},
                                       excluded_checks=[checks.positive_data_acceptance])

            check()
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)


def test_xlsx_drops_control_characters_instead_of_failing():
    # A name like "\x0c8" (schemathesis found one) cannot be stored in XLSX's XML; it must not become a 500.
    assert exports.xlsx_cell("Ann\x0c8\x00e") == "Ann8e"
    assert exports.xlsx_cell("=\x01SUM(A1)") == "'=SUM(A1)"
