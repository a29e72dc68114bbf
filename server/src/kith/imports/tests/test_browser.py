"""The import flow in headless Chromium: Import button → upload → mapping with preview → start → summary, and the
progress bar updating live while an import runs. Screenshots go to ``server/var/screenshots/imports-*.png``."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from kith.contacts.models import Contact, CustomFieldDefinition
from kith.imports.models import ImportJob, ImportStatus
from kith.web.tests.test_browser import browser, log_in, new_page, shot  # noqa: F401  (fixtures by name)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CSV = ("E-mail,First Name,Last Name,Plan,Tags\n"
       "ada@example.com,Ada,Lovelace,Pro,\"vip, beta\"\n"
       "grace@example.com,Grace,Hopper,free,vip\n"
       "not-an-email,Bob,Broken,Pro,\n"
       "cy@example.com,Cy,Choice,Platinum,\n")


def test_alice_imports_contacts_from_a_csv(live_server, personas, new_page, tmp_path):  # noqa: F811
    CustomFieldDefinition.objects.create(workspace=personas.acme, object_type="contact", key="plan", label="Plan",
                                         field_type="single_choice", choices=["Free", "Pro"])
    Contact.objects.create(workspace=personas.acme, email="grace@example.com", first_name="G")
    upload = tmp_path / "people.csv"
    upload.write_text(CSV)
    page = new_page()
    log_in(page, live_server.url, personas.alice.email)
    page.goto(f"{live_server.url}/contacts/")
    page.get_by_role("link", name="Import").click()
    page.get_by_role("heading", name="Import records").wait_for()
    page.get_by_label("CSV or Excel file").set_input_files(str(upload))
    shot(page, "imports-upload")
    page.get_by_role("button", name="Upload and map columns").click()

    page.get_by_role("heading", name="Map columns").wait_for()
    expect(page.get_by_label("Column “E-mail”")).to_have_value("email")
    expect(page.get_by_label("Column “Plan”")).to_have_value("attr.plan")
    expect(page.get_by_label("Column “Tags”")).to_have_value("tags")
    preview = page.locator(".kith-import-preview tbody tr")
    expect(preview).to_have_count(4)
    expect(preview.nth(0)).to_contain_text("New")
    expect(preview.nth(1)).to_contain_text("Update")
    expect(preview.nth(2)).to_contain_text("Enter a valid e-mail address.")
    expect(preview.nth(3)).to_contain_text("is not one of the choices")
    shot(page, "imports-mapping")

    page.get_by_label("Column “Last Name”").select_option("skip")
    page.get_by_role("button", name="Start import").click()
    progress = page.locator("#kith-import-progress")
    expect(progress).to_contain_text("Done")
    expect(progress.locator('[data-count="created"]')).to_have_text("1")
    expect(progress.locator('[data-count="updated"]')).to_have_text("1")
    expect(progress.locator('[data-count="failed"]')).to_have_text("2")
    shot(page, "imports-summary")
    with page.expect_download() as download:
        page.get_by_role("link", name="Download error report (2 rows)").click()
    lines = download.value.path().read_text(encoding="utf-8").splitlines()
    assert lines[0] == "row,error,E-mail,First Name,Last Name,Plan,Tags" and len(lines) == 3
    ada = Contact.objects.get(email="ada@example.com")
    assert (ada.first_name, ada.last_name, ada.attributes) == ("Ada", "", {"plan": "Pro"})
    assert set(ada.tags.values_list("name", flat=True)) == {"vip", "beta"}
    assert Contact.objects.get(email="grace@example.com").first_name == "Grace"
    page.get_by_role("link", name="All imports").click()
    expect(page.locator("tbody tr")).to_have_count(1)
    expect(page.locator("tbody tr")).to_contain_text("people.csv")
    shot(page, "imports-list")


def test_the_progress_bar_follows_a_running_import(live_server, personas, new_page, tmp_path):  # noqa: F811
    job = ImportJob.objects.create(workspace=personas.acme, created_by=personas.alice, kind="contacts",
                                   file_path="imports/none.csv", file_name="big.csv", format="csv",
                                   headers=["email"], mapping={"0": "email"}, upsert_key="email",
                                   status=ImportStatus.RUNNING, total_rows=1000, processed_rows=100)
    page = new_page()
    log_in(page, live_server.url, personas.alice.email)
    page.goto(f"{live_server.url}/imports/{job.pk}/")
    bar = page.get_by_role("progressbar", name="Import progress")
    expect(bar).to_have_attribute("aria-valuenow", "10")
    ImportJob.objects.filter(pk=job.pk).update(processed_rows=600, created_count=590, failed_count=10)
    expect(bar).to_have_attribute("aria-valuenow", "60")  # polled, no reload
    expect(page.locator('[data-count="created"]')).to_have_text("590")
    shot(page, "imports-progress")
    ImportJob.objects.filter(pk=job.pk).update(status=ImportStatus.DONE, processed_rows=1000, total_rows=1000,
                                               created_count=990)
    expect(page.locator("#kith-import-progress")).to_contain_text("Done")
    expect(bar).to_have_attribute("aria-valuenow", "100")
