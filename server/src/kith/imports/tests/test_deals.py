"""Importing deals: references by name resolve (or fail that row), upserts by external id never duplicate, stage
history is written, a crash resumes without duplicates."""

from __future__ import annotations

import csv
import datetime as dt
from decimal import Decimal

import pytest

from kith.accounts.models import Membership, Role
from kith.contacts.models import Company, Contact
from kith.core.errors import PermissionDenied
from kith.deals.models import Deal, DealStageChange, DealStatus
from kith.deals.services import deal_create, pipeline_create
from kith.imports import processing, services, storage
from kith.imports.models import ImportJob, ImportStatus
from kith.imports.selectors import import_preview
from kith.imports.tests.helpers import run, upload

pytestmark = pytest.mark.django_db(transaction=True)
HEADER = "Deal ID,Deal Name,Pipeline,Stage,Amount,Currency,Close Date,Owner Email,Company,Primary Contact"


def report_rows(job) -> list[list[str]]:
    with storage.absolute(job.error_report_path).open(encoding="utf-8", newline="") as handle:
        return list(csv.reader(handle))


def deals_run(personas, body: str, **kwargs):
    return run(personas, f"{HEADER}\n{body}", kind="deals", name="deals.csv", **kwargs)


@pytest.fixture
def sales(personas):
    return pipeline_create(workspace=personas.acme, actor=personas.alice, name="Sales")


@pytest.fixture
def partners(personas, sales):
    return pipeline_create(workspace=personas.acme, actor=personas.alice, name="Partners")


@pytest.fixture
def refs(personas):
    acme_co = Company.objects.create(workspace=personas.acme, name="Globex", domain="globex.com",
                                     external_id="co-1")
    ada = Contact.objects.create(workspace=personas.acme, email="ada@example.com", first_name="Ada")
    return acme_co, ada


def test_headers_map_to_deal_fields(personas, sales):
    job = upload(personas, f"{HEADER}\n", kind="deals", name="deals.csv")
    assert job.upsert_key == "external_id"
    assert list(job.mapping.values()) == ["external_id", "name", "pipeline", "stage", "value", "currency",
                                          "expected_close_date", "owner", "company", "contact"]


def test_good_rows_import_with_references_resolved_by_name(personas, sales, partners, refs):
    globex, ada = refs
    job = deals_run(personas, "d-1,Big deal,sales,proposal,\"1,500.50\",eur,2026-12-31,BOB@acme.test,globex,"
                              "Ada@Example.com\n"
                              "d-2,Partner deal,Partners,,200,USD,,,co-1,\n"
                              "d-3,Default pipeline,,,,,,,,\n")
    assert job.status == ImportStatus.DONE
    assert (job.created_count, job.updated_count, job.failed_count) == (3, 0, 0)
    big = Deal.objects.get(workspace=personas.acme, external_id="d-1")
    assert (big.name, big.pipeline_id, big.stage.name, big.value, big.currency) == (
        "Big deal", sales.pk, "Proposal", Decimal("1500.50"), "EUR")
    assert (big.expected_close_date, big.owner_id, big.company_id, big.contact_id, big.status) == (
        dt.date(2026, 12, 31), personas.bob.pk, globex.pk, ada.pk, DealStatus.OPEN)
    partner = Deal.objects.get(external_id="d-2")
    assert (partner.pipeline_id, partner.stage.name, partner.company_id) == (partners.pk, "Qualification", globex.pk)
    fallback = Deal.objects.get(external_id="d-3")
    assert (fallback.pipeline_id, fallback.stage.name, fallback.currency) == (sales.pk, "Qualification", "USD")
    # Each new deal has its first stage-history row, naming who imported it, and its own card position.
    history = DealStageChange.objects.get(deal=big)
    assert (history.from_stage_id, history.to_stage_id, history.changed_by_id) == (None, big.stage_id,
                                                                                    personas.alice.pk)
    assert sorted(Deal.objects.filter(stage=fallback.stage).values_list("position", flat=True)) == [0]


def test_each_bad_row_is_reported_while_good_rows_import(personas, sales, partners, refs):
    Company.objects.create(workspace=personas.acme, name="Twin", domain="twin-a.com")
    Company.objects.create(workspace=personas.acme, name="Twin", domain="twin-b.com")
    mallory_co = Company.objects.create(workspace=personas.mallory_inc, name="Evil Corp", domain="evil.test")
    job = deals_run(personas,
                    "g-1,Good,Sales,Proposal,10,EUR,,,,\n"
                    "b-1,Unknown pipeline,Nope,,,,,,,\n"
                    "b-2,Unknown stage,Sales,Nowhere,,,,,,\n"
                    "b-3,Stage of another pipeline,Partners,Proposal-ish,,,,,,\n"
                    "b-4,Bad amount,,,-5,,,,,\n"
                    "b-5,Bad currency,,,,EURO,,,,\n"
                    "b-6,Bad date,,,,,2026-02-30,,,\n"
                    "b-7,Owner not a member,,,,,,mallory@evil.test,,\n"
                    "b-8,Unknown company,,,,,,,Initech,\n"
                    "b-9,Ambiguous company,,,,,,,twin,\n"
                    "b-10,Other workspace's company,,,,,,,Evil Corp,\n"
                    "b-11,Unknown contact,,,,,,,,nobody@example.com\n"
                    "b-12,Lost without reason,Sales,Lost,,,,,,\n"
                    ",No key,,,,,,,,\n"
                    "g-1,Repeated key,,,,,,,,\n"
                    "b-13,,,,,,,,,\n"
                    "g-2,Also good,,,,,,,globex,ada@example.com\n")
    assert job.status == ImportStatus.DONE
    assert sorted(Deal.objects.filter(workspace=personas.acme).values_list("external_id", flat=True)) == [
        "g-1", "g-2"]
    errors = {int(row[0]): row[1] for row in report_rows(job)[1:]}
    assert sorted(errors) == list(range(3, 18))
    assert "pipeline: No pipeline named 'Nope'." in errors[3]
    assert "stage: Pipeline 'Sales' has no stage named 'Nowhere'." in errors[4]
    assert "stage: Pipeline 'Partners' has no stage named" in errors[5]
    assert errors[6].startswith("value:")
    assert errors[7].startswith("currency:")
    assert "expected_close_date: Give a date" in errors[8]
    assert "owner: No member of this workspace" in errors[9]
    assert "company: No company with the name or external id 'Initech'." in errors[10]
    assert "company: Several companies are named 'twin'" in errors[11]
    assert "company: No company" in errors[12]  # another workspace's company is not found, not linked
    assert "contact: No contact with the e-mail" in errors[13]
    assert "lost_reason:" in errors[14]
    assert "No external id" in errors[15]
    assert "earlier row of this file has the same external id" in errors[16]
    assert "name: A deal needs a name." in errors[17]
    assert (job.created_count, job.failed_count) == (2, 15)
    assert not Deal.objects.filter(company=mallory_co).exists()


def test_upsert_by_external_id_updates_moves_and_keeps_blank_cells(personas, sales, refs):
    globex, _ = refs
    old = deal_create(workspace=personas.acme, actor=personas.alice, pipeline=sales, name="Old name", value=100,
                      currency="EUR", company=globex)
    Deal.objects.filter(pk=old.pk).update(external_id="d-1")
    job = deals_run(personas, "d-1,,,Won,250,,,,,\nd-2,New,,,,,,,,\n")
    assert (job.created_count, job.updated_count, job.failed_count) == (1, 1, 0)
    old.refresh_from_db()
    assert (old.name, old.value, old.currency, old.company_id) == ("Old name", Decimal("250.00"), "EUR", globex.pk)
    assert (old.stage.name, old.status) == ("Won", DealStatus.WON) and old.closed_at is not None
    moves = list(DealStageChange.objects.filter(deal=old).order_by("pk").values_list("from_stage_name",
                                                                                    "to_stage_name"))
    assert moves == [("", "Qualification"), ("Qualification", "Won")]
    assert Deal.objects.filter(workspace=personas.acme).count() == 2
    # Importing the same file again moves nothing and writes no second history row.
    deals_run(personas, "d-1,,,Won,250,,,,,\n")
    assert DealStageChange.objects.filter(deal=old).count() == 2
    assert Deal.objects.filter(workspace=personas.acme).count() == 2


def test_skip_existing_leaves_matched_deals_alone(personas, sales):
    deals_run(personas, "d-1,First,,,,,,,,\n")
    job = deals_run(personas, "d-1,Changed,,,,,,,,\nd-2,Second,,,,,,,,\n", update_existing=False)
    assert (job.created_count, job.updated_count, job.skipped_count) == (1, 0, 1)
    assert Deal.objects.get(external_id="d-1").name == "First"


def test_another_workspaces_external_ids_are_not_matched(personas, sales):
    theirs = pipeline_create(workspace=personas.mallory_inc, actor=personas.mallory, name="Theirs")
    deal_create(workspace=personas.mallory_inc, actor=personas.mallory, pipeline=theirs, name="Theirs")
    Deal.objects.filter(workspace=personas.mallory_inc).update(external_id="d-1")
    job = deals_run(personas, "d-1,Ours,,,,,,,,\n")
    assert (job.created_count, job.updated_count) == (1, 0)
    assert Deal.objects.get(workspace=personas.mallory_inc).name == "Theirs"


def test_preview_shows_actions_and_reference_errors(personas, sales):
    deals_run(personas, "d-1,First,,,,,,,,\n")
    job = upload(personas, f"{HEADER}\nd-1,Again,,,,,,,,\nd-2,New,,,,,,,Initech,\n", kind="deals",
                 name="deals.csv")
    preview = import_preview(job=job)
    assert [row.action for row in preview] == ["update", ""]
    assert preview[1].cells[8].error == "No company with the name or external id 'Initech'."


def test_a_crash_mid_import_resumes_without_duplicates(personas, sales, monkeypatch):
    monkeypatch.setattr(processing, "BATCH_ROWS", 10)
    lines = [f"d-{n},Deal {n},,,{n},,,,," for n in range(45)]
    lines.insert(15, "broken,Bad,,,-1,,,,,")  # row 17 of the file fails in the second batch
    calls = {"n": 0}
    real = processing.deal_batch_write

    def crashing(**kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise RuntimeError("worker died")
        return real(**kwargs)

    monkeypatch.setattr(processing, "deal_batch_write", crashing)
    with pytest.raises(RuntimeError):
        deals_run(personas, "\n".join(lines) + "\n")
    job = ImportJob.objects.get()
    assert job.status == ImportStatus.FAILED and job.checkpoint == 20
    assert Deal.objects.filter(workspace=personas.acme).count() == 19
    monkeypatch.setattr(processing, "deal_batch_write", real)
    processing.import_run(import_id=job.pk)
    job.refresh_from_db()
    assert job.status == ImportStatus.DONE
    assert Deal.objects.filter(workspace=personas.acme).count() == 45
    assert DealStageChange.objects.filter(deal__workspace=personas.acme).count() == 45
    assert (job.created_count, job.updated_count, job.failed_count, job.total_rows) == (45, 0, 1, 46)
    assert [row[0] for row in report_rows(job)[1:]] == ["17"]
    # Positions in the column stay distinct across batches and the resume.
    positions = list(Deal.objects.filter(workspace=personas.acme).values_list("position", flat=True))
    assert sorted(positions) == list(range(45))
    processing.import_run(import_id=job.pk)
    assert Deal.objects.filter(workspace=personas.acme).count() == 45


def test_a_marketer_may_not_import_deals(personas):
    membership = Membership.objects.get(workspace=personas.acme, user=personas.alice)
    membership.role = Role.MARKETER
    membership.save()
    with pytest.raises(PermissionDenied):
        services.import_create(workspace=personas.acme, actor=personas.alice, membership=membership, kind="deals",
                               file_name="d.csv", size=10, chunks=[b"external_id\n"])
