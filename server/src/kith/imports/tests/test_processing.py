"""Running imports: every good row imports, every bad row is reported, upserts never duplicate, crashes resume."""

from __future__ import annotations

import csv
import io

import pytest

from kith.contacts.models import (
    Company,
    Contact,
    ContactTag,
    CustomFieldDefinition,
    FieldType,
    Tag,
)
from kith.imports import processing, storage
from kith.imports.models import ImportJob, ImportStatus
from kith.imports.tests.helpers import run, upload

pytestmark = pytest.mark.django_db(transaction=True)


def report_rows(job) -> list[list[str]]:
    with storage.absolute(job.error_report_path).open(encoding="utf-8", newline="") as handle:
        return list(csv.reader(handle))


def define(personas, key: str, field_type: str, *, choices=(), required=False, object_type="contact"):
    return CustomFieldDefinition.objects.create(workspace=personas.acme, object_type=object_type, key=key,
                                                label=key.title(), field_type=field_type, choices=list(choices),
                                                required=required)


def test_good_rows_import_with_tags_and_custom_attributes(personas):
    define(personas, "plan", FieldType.SINGLE_CHOICE, choices=["Free", "Pro"])
    define(personas, "seats", FieldType.NUMBER)
    job = run(personas, "E-mail,First Name,Last Name,Plan,Seats,Tags\n"
                        "Ada@Example.com,Ada,Lovelace,pro,3,\"VIP, Beta\"\n"
                        "grace@example.com,Grace,Hopper,Free,,vip\n")
    assert job.status == ImportStatus.DONE
    assert (job.created_count, job.updated_count, job.failed_count, job.total_rows) == (2, 0, 0, 2)
    ada = Contact.objects.get(workspace=personas.acme, email="ada@example.com")
    assert (ada.first_name, ada.last_name, ada.attributes, ada.source) == ("Ada", "Lovelace",
                                                                          {"plan": "Pro", "seats": 3}, "import")
    assert sorted(ada.tags.values_list("name", flat=True)) == ["Beta", "VIP"]
    assert Tag.objects.filter(workspace=personas.acme).count() == 2  # "vip" folded into "VIP"
    assert report_rows(job) == [["row", "error", "E-mail", "First Name", "Last Name", "Plan", "Seats", "Tags"]]


def test_each_malformed_row_is_reported_while_good_rows_import(personas):
    define(personas, "plan", FieldType.SINGLE_CHOICE, choices=["Free", "Pro"])
    huge = "x" * (1024 * 1024)
    lines = [
        b"email,first_name,plan,lifecycle_stage",
        b"good1@example.com,Ann,Free,lead",
        b"short@example.com,OnlyTwo",
        b"not-an-email,Bob,Free,lead",
        b"choice@example.com,Cy,Platinum,lead",
        b"stage@example.com,Di,Free,emperor",
        b"huge@example.com," + huge.encode() + b",Free,lead",
        # Past the sniffed start of the file, which is plain UTF-8: this row alone is not.
        b"bad-encoding@example.com,Ren\xe9e\xff\xfe,Free,lead",
        b"good1@example.com,Again,Free,lead",
        b",NoKey,Free,lead",
        b"good2@example.com,Eve,Pro,customer",
    ]
    job = run(personas, b"\n".join(lines) + b"\n")
    assert job.status == ImportStatus.DONE
    assert sorted(Contact.objects.filter(workspace=personas.acme).values_list("email", flat=True)) == [
        "good1@example.com", "good2@example.com"]
    errors = {int(row[0]): row[1] for row in report_rows(job)[1:]}
    assert sorted(errors) == [3, 4, 5, 6, 7, 8, 9, 10]
    assert "Expected 4 columns" in errors[3]
    assert errors[4].startswith("email:")
    assert "'Platinum' is not one of the choices" in errors[5]
    assert errors[6].startswith("lifecycle_stage:")
    assert "longer than 100,000 characters" in errors[7]
    assert "not valid utf-8" in errors[8]
    assert "earlier row of this file has the same e-mail" in errors[9]
    assert "No e-mail address" in errors[10]
    assert (job.created_count, job.failed_count, job.total_rows) == (2, 8, 10)
    assert report_rows(job)[2] == ["4", errors[4], "not-an-email", "Bob", "Free", "lead"]  # then the cells


def test_upsert_updates_instead_of_duplicating_and_blank_cells_keep_values(personas):
    define(personas, "plan", FieldType.TEXT)
    define(personas, "city", FieldType.TEXT)
    Contact.objects.create(workspace=personas.acme, email="ada@example.com", first_name="Ada", last_name="L",
                           attributes={"city": "London"})
    job = run(personas, "email,first_name,last_name,plan\nADA@example.com,Augusta,,Pro\nnew@example.com,New,,\n")
    assert (job.created_count, job.updated_count) == (1, 1)
    ada = Contact.objects.get(workspace=personas.acme, email="ada@example.com")
    assert (ada.first_name, ada.last_name) == ("Augusta", "L")
    assert ada.attributes == {"city": "London", "plan": "Pro"}
    assert Contact.objects.filter(workspace=personas.acme).count() == 2


def test_skip_existing_leaves_matches_alone(personas):
    Contact.objects.create(workspace=personas.acme, email="ada@example.com", first_name="Ada")
    job = run(personas, "email,first_name\nada@example.com,Changed\nnew@example.com,New\n", update_existing=False)
    assert (job.created_count, job.updated_count, job.skipped_count) == (1, 0, 1)
    assert Contact.objects.get(workspace=personas.acme, email="ada@example.com").first_name == "Ada"


def test_upsert_by_external_id(personas):
    Contact.objects.create(workspace=personas.acme, email="old@example.com", external_id="crm-1")
    job = run(personas, "external id,email,first name\ncrm-1,new@example.com,Ann\ncrm-2,,Bo\n",
              upsert_key="external_id")
    assert (job.created_count, job.updated_count, job.failed_count) == (1, 1, 0)
    assert Contact.objects.get(workspace=personas.acme, external_id="crm-1").email == "new@example.com"


def test_a_unique_value_taken_by_another_record_fails_only_that_row(personas):
    Contact.objects.create(workspace=personas.acme, email="other@example.com", external_id="taken")
    job = run(personas, "email,external_id\na@example.com,taken\nb@example.com,free\n")
    assert (job.created_count, job.failed_count) == (1, 1)
    assert report_rows(job)[1][0] == "2"
    assert Contact.objects.filter(workspace=personas.acme).count() == 2


def test_required_custom_fields_apply_to_new_records_only(personas):
    define(personas, "plan", FieldType.TEXT, required=True)
    Contact.objects.create(workspace=personas.acme, email="old@example.com", attributes={"plan": "x"})
    job = run(personas, "email,first_name\nold@example.com,Old\nnew@example.com,New\n")
    assert (job.created_count, job.updated_count, job.failed_count) == (0, 1, 1)
    assert "attributes.plan: This field is required." in report_rows(job)[1][1]


def test_custom_field_types_are_validated(personas):
    define(personas, "seats", FieldType.NUMBER)
    define(personas, "since", FieldType.DATE)
    define(personas, "active", FieldType.BOOLEAN)
    define(personas, "langs", FieldType.MULTI_CHOICE, choices=["EN", "DE", "FR"])
    job = run(personas, "email,seats,since,active,langs\n"
                        "a@example.com,12,2024-02-29,yes,en;de\n"
                        "b@example.com,many,2024-02-30,perhaps,en;xx\n")
    assert (job.created_count, job.failed_count) == (1, 1)
    assert Contact.objects.get(email="a@example.com").attributes == {
        "seats": 12, "since": "2024-02-29", "active": True, "langs": ["EN", "DE"]}
    message = report_rows(job)[1][1]
    for key in ("seats", "since", "active", "langs"):
        assert f"attributes.{key}:" in message


def test_a_crash_mid_import_resumes_without_duplicates(personas, monkeypatch):
    monkeypatch.setattr(processing, "BATCH_ROWS", 10)
    lines = ["email,first_name,tags"] + [f"p{n}@example.com,P{n},t{n % 3}" for n in range(95)]
    lines.insert(30, "broken,X,t1")  # row 31 of the file fails in the third batch
    calls = {"n": 0}
    real = processing.batch_write

    def crashing(**kwargs):
        calls["n"] += 1
        if calls["n"] == 4:
            raise RuntimeError("worker died")
        return real(**kwargs)

    monkeypatch.setattr(processing, "batch_write", crashing)
    with pytest.raises(RuntimeError):
        run(personas, "\n".join(lines) + "\n")
    job = ImportJob.objects.get()
    assert job.status == ImportStatus.FAILED and job.checkpoint == 30
    assert Contact.objects.filter(workspace=personas.acme).count() == 29
    monkeypatch.setattr(processing, "batch_write", real)
    processing.import_run(import_id=job.pk)
    job.refresh_from_db()
    assert job.status == ImportStatus.DONE
    assert Contact.objects.filter(workspace=personas.acme).count() == 95
    assert ContactTag.objects.filter(contact__workspace=personas.acme).count() == 95
    assert (job.created_count, job.updated_count, job.failed_count, job.total_rows) == (95, 0, 1, 96)
    assert [row[0] for row in report_rows(job)[1:]] == ["31"]  # reported once, not again after the resume
    # Running it again (a duplicate delivery of the job) changes nothing.
    processing.import_run(import_id=job.pk)
    assert Contact.objects.filter(workspace=personas.acme).count() == 95


def test_encodings_and_dialects_are_detected(personas):
    text = "E-mail;Vorname\nrene@example.com;René\n"
    for encoded in (text.encode("utf-8"), b"\xef\xbb\xbf" + text.encode("utf-8"), text.encode("cp1252")):
        Contact.objects.all().delete()
        job = run(personas, encoded)
        assert job.delimiter == ";" and job.created_count == 1
        assert Contact.objects.get().email == "rene@example.com"
    job = upload(personas, "email\tfirst_name\nx@example.com\tX\n")
    assert job.delimiter == "\t" and job.mapping == {"0": "email", "1": "first_name"}


def test_companies_upsert_by_domain(personas):
    Company.objects.create(workspace=personas.acme, name="Old name", domain="acme.io")
    job = run(personas, "Company,Website,Industry\nAcme Inc,https://www.ACME.io/about,Tools\n"
                        "Globex,globex.com,\n,nameless.com,\n", kind="companies", name="companies.csv")
    assert job.upsert_key == "domain"
    assert (job.created_count, job.updated_count, job.failed_count) == (1, 1, 1)
    assert Company.objects.get(domain="acme.io").name == "Acme Inc"
    assert "A company needs a name." in report_rows(job)[1][1]


def test_xlsx_files_import(personas):
    from openpyxl import Workbook

    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["Email Address", "First Name", "Score"])
    sheet.append(["x@example.com", "Xena", 42.0])
    sheet.append(["bad", "Bad", 1])
    buffer = io.BytesIO()
    workbook.save(buffer)
    job = run(personas, buffer.getvalue(), name="people.xlsx")
    assert job.format == "xlsx"
    assert job.mapping == {"0": "email", "1": "first_name", "2": "engagement_score"}
    assert (job.created_count, job.failed_count) == (1, 1)
    assert Contact.objects.get().engagement_score == 42


def test_cancelling_stops_after_the_batch_in_flight_is_rolled_back(personas, monkeypatch):
    monkeypatch.setattr(processing, "BATCH_ROWS", 10)
    calls = {"n": 0}

    def heartbeat():  # runs after each committed batch; "Cancel import" is pressed after the first one
        calls["n"] += 1
        if calls["n"] == 1:
            ImportJob.objects.update(status=ImportStatus.CANCELLED)

    monkeypatch.setattr(processing, "job_lease_extend", heartbeat)
    job = run(personas, "email\n" + "".join(f"c{n}@example.com\n" for n in range(35)))
    assert job.status == ImportStatus.CANCELLED and job.checkpoint == 10
    assert Contact.objects.filter(workspace=personas.acme).count() == 10


def test_a_rerun_of_a_finished_import_changes_nothing(personas):
    job = run(personas, "email,tags\na@example.com,x\nb@example.com,y\n")
    processing.import_run(import_id=job.pk)
    job.refresh_from_db()
    assert (job.created_count, job.updated_count) == (2, 0)
    assert ContactTag.objects.count() == 2
