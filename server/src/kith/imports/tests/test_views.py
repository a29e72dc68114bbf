"""The import pages: upload → mapping with preview → start → progress → summary, and who may use them."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client, override_settings

from kith.accounts.models import Membership, Role
from kith.accounts.tests.factories import MembershipFactory, UserFactory
from kith.contacts.models import Contact, CustomFieldDefinition
from kith.deals.services import pipeline_create
from kith.imports.models import ImportJob, ImportStatus

pytestmark = pytest.mark.django_db(transaction=True)
CSV = b"E-mail,First Name,Plan\nada@example.com,Ada,pro\nnot-an-email,Bob,free\ncy@example.com,Cy,gold\n"


def browser(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def member(personas, role: str, **extra) -> Client:
    user = UserFactory()
    MembershipFactory(workspace=personas.acme, user=user, role=role, **extra)
    return browser(user)


def test_upload_map_preview_start_and_summary(personas):
    CustomFieldDefinition.objects.create(workspace=personas.acme, object_type="contact", key="plan", label="Plan",
                                         field_type="single_choice", choices=["Free", "Pro"])
    alice = browser(personas.alice)
    page = alice.get("/contacts/")
    assert b'href="/imports/new/?kind=contacts"' in page.content
    response = alice.post("/imports/new/", {"kind": "contacts", "file": SimpleUploadedFile("people.csv", CSV)})
    job = ImportJob.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/imports/{job.pk}/"
    page = alice.get(f"/imports/{job.pk}/").content.decode()
    # The guessed mapping is preselected, and the preview shows each row's fate and each bad cell's error.
    assert '<option value="email" selected>' in page and '<option value="attr.plan" selected>' in page
    assert "Enter a valid e-mail address." in page
    assert "&#x27;gold&#x27; is not one of the choices" in page
    assert page.count(">New</span>") == 1
    data = {"col_0": "email", "col_1": "first_name", "col_2": "attr.plan", "upsert_key": "email",
            "update_existing": "update", "action": "start"}
    response = alice.post(f"/imports/{job.pk}/", data)
    assert response.status_code == 302
    job.refresh_from_db()
    assert job.status == ImportStatus.DONE  # the immediate job runner ran it at commit
    page = alice.get(f"/imports/{job.pk}/").content.decode()
    assert 'data-count="created">1<' in page and 'data-count="failed">2<' in page
    assert f"/imports/{job.pk}/progress/" not in page  # finished: the progress block no longer polls
    report = alice.get(f"/imports/{job.pk}/errors.csv")
    assert report["Content-Type"] == "text/csv"
    lines = b"".join(report.streaming_content).decode().splitlines()
    assert lines[0] == "row,error,E-mail,First Name,Plan" and len(lines) == 3
    assert Contact.objects.get().attributes == {"plan": "Pro"}


def test_a_running_import_polls_its_progress(personas):
    alice = browser(personas.alice)
    alice.post("/imports/new/", {"kind": "contacts", "file": SimpleUploadedFile("p.csv", CSV)})
    job = ImportJob.objects.get()
    ImportJob.objects.filter(pk=job.pk).update(status=ImportStatus.RUNNING, total_rows=3, processed_rows=1)
    page = alice.get(f"/imports/{job.pk}/").content.decode()
    assert f'hx-get="/imports/{job.pk}/progress/"' in page and 'aria-valuenow="33"' in page
    partial = alice.get(f"/imports/{job.pk}/progress/", HTTP_HX_REQUEST="true").content.decode()
    assert partial.lstrip().startswith("{#") is False and 'id="kith-import-progress"' in partial
    response = alice.post(f"/imports/{job.pk}/cancel/")
    assert response.status_code == 302
    job.refresh_from_db()
    assert job.status == ImportStatus.CANCELLED


def test_bad_uploads_get_form_errors_not_500s(personas):
    alice = browser(personas.alice)
    response = alice.post("/imports/new/", {"kind": "contacts", "file": SimpleUploadedFile("x.pdf", b"%PDF")})
    assert response.status_code == 400 and b"Upload a .csv or .xlsx file." in response.content
    response = alice.post("/imports/new/", {"kind": "contacts", "file": SimpleUploadedFile("x.xlsx", b"no zip")})
    assert response.status_code == 400 and b"not a readable XLSX workbook" in response.content
    response = alice.post("/imports/new/", {"kind": "contacts", "file": SimpleUploadedFile("x.csv", b"\n\n")})
    assert response.status_code == 400
    with override_settings(KITH_IMPORT_MAX_BYTES=10):
        response = alice.post("/imports/new/", {"kind": "contacts", "file": SimpleUploadedFile("x.csv", CSV)})
    assert response.status_code == 400 and b"larger than the limit" in response.content
    assert not ImportJob.objects.exists()
    response = alice.post("/imports/new/", {"kind": "contacts", "file": SimpleUploadedFile("p.csv", CSV)})
    job = ImportJob.objects.get()
    response = alice.post(f"/imports/{job.pk}/", {"col_0": "first_name", "col_1": "first_name", "col_2": "skip",
                                                  "upsert_key": "email", "update_existing": "update"})
    assert response.status_code == 400
    assert b"Two columns are mapped to" in response.content


@pytest.mark.parametrize(("role", "restricted", "allowed"), [
    (Role.ADMIN, False, True), (Role.MANAGER, False, True), (Role.MARKETER, False, True),
    (Role.REP, False, False), (Role.VIEWER, False, False), (Role.MANAGER, True, True), (Role.MARKETER, True, False),
])
def test_only_data_owning_roles_may_import(personas, role, restricted, allowed):
    client = member(personas, role, restrict_to_own=restricted)
    response = client.get("/imports/new/")
    assert response.status_code == (200 if allowed else 403)
    assert (b"/imports/new/?kind=contacts" in client.get("/contacts/").content) is allowed


def test_marketers_import_contacts_but_not_companies(personas):
    marketer = member(personas, Role.MARKETER)
    assert b"/imports/new/?kind=companies" not in marketer.get("/companies/").content
    response = marketer.post("/imports/new/", {"kind": "companies",
                                               "file": SimpleUploadedFile("c.csv", b"name,domain\nA,a.com\n")})
    assert response.status_code == 400 and not ImportJob.objects.exists()


def test_a_rep_cannot_open_someone_elses_import(personas):
    browser(personas.alice).post("/imports/new/", {"kind": "contacts", "file": SimpleUploadedFile("p.csv", CSV)})
    job = ImportJob.objects.get()
    assert Membership.objects.get(user=personas.bob).role == Role.REP
    bob = browser(personas.bob)
    assert bob.get(f"/imports/{job.pk}/").status_code == 403
    assert bob.post(f"/imports/{job.pk}/cancel/").status_code == 403
    assert browser(personas.mallory).get(f"/imports/{job.pk}/").status_code == 404


def test_deals_are_a_target_of_the_wizard_for_roles_that_may_import_them(personas):
    pipeline_create(workspace=personas.acme, actor=personas.alice, name="Sales")
    alice = browser(personas.alice)
    assert b'href="/imports/new/?kind=deals"' in alice.get("/deals/list/").content
    page = alice.get("/imports/new/?kind=deals").content.decode()
    assert '<option value="deals" selected>' in page
    body = b"Deal ID,Deal Name,Stage,Amount\nd-1,Big,Proposal,10\nd-2,Bad,Nowhere,5\n"
    alice.post("/imports/new/", {"kind": "deals", "file": SimpleUploadedFile("deals.csv", body)})
    job = ImportJob.objects.get()
    page = alice.get(f"/imports/{job.pk}/").content.decode()
    assert '<option value="stage" selected>' in page and "has no stage named" in page
    response = alice.post(f"/imports/{job.pk}/", {"col_0": "external_id", "col_1": "name", "col_2": "stage",
                                                  "col_3": "value", "upsert_key": "external_id",
                                                  "update_existing": "update", "action": "start"})
    assert response.status_code == 302
    job.refresh_from_db()
    assert (job.status, job.created_count, job.failed_count) == (ImportStatus.DONE, 1, 1)
    assert 'href="/deals/list/"' in alice.get(f"/imports/{job.pk}/").content.decode()
    # A marketer imports contacts only: deals are not offered, and posting them is refused.
    marketer = member(personas, Role.MARKETER)
    assert b'value="deals"' not in marketer.get("/imports/new/").content
    response = marketer.post("/imports/new/", {"kind": "deals", "file": SimpleUploadedFile("d.csv", body)})
    assert response.status_code == 400 and ImportJob.objects.count() == 1
