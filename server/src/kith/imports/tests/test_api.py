"""The imports API: multipart upload (optionally started at once), status, start, error report; roles and keys."""

from __future__ import annotations

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from kith.accounts.services import api_key_create
from kith.contacts.models import Contact
from kith.deals.models import Deal
from kith.deals.services import pipeline_create
from kith.imports.models import ImportJob

pytestmark = pytest.mark.django_db(transaction=True)
CSV = b"email,first_name,nickname\nada@example.com,Ada,A\nbad,Bob,B\n"


def api(user) -> APIClient:
    client = APIClient()
    client.force_login(user)
    return client


def test_upload_and_start_at_once_then_read_status_and_errors(personas):
    client = api(personas.alice)
    response = client.post("/api/v1/imports/", {
        "kind": "contacts", "file": SimpleUploadedFile("p.csv", CSV), "start": "true",
        "mapping": json.dumps({"0": "email", "1": "first_name", "2": "skip"})}, format="multipart")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["status"] == "done" and body["created_count"] == 1 and body["failed_count"] == 1
    assert body["headers"] == ["email", "first_name", "nickname"]
    status = client.get(f"/api/v1/imports/{body['id']}/").json()
    assert status["processed_rows"] == 2 and status["error_report_url"] == f"/api/v1/imports/{body['id']}/errors/"
    report = client.get(status["error_report_url"])
    assert report.status_code == 200
    assert b"".join(report.streaming_content).decode().splitlines()[1].startswith("3,email:")


def test_a_draft_is_started_with_json(personas):
    client = api(personas.alice)
    body = client.post("/api/v1/imports/", {"kind": "contacts", "file": SimpleUploadedFile("p.csv", CSV)},
                       format="multipart").json()
    assert body["status"] == "draft" and body["mapping"] == {"0": "email", "1": "first_name", "2": "skip"}
    response = client.post(f"/api/v1/imports/{body['id']}/start/", {"mapping": {"0": "email", "1": "last_name"}},
                           format="json")
    assert response.status_code == 200 and response.json()["status"] == "done"
    assert Contact.objects.get().last_name == "Ada"
    again = client.post(f"/api/v1/imports/{body['id']}/start/", {}, format="json")
    assert again.status_code == 409


def test_bad_requests_answer_400_or_413(personas, settings):
    client = api(personas.alice)
    response = client.post("/api/v1/imports/", {"kind": "tasks", "file": SimpleUploadedFile("p.csv", CSV)},
                           format="multipart")
    assert response.status_code == 400 and "kind" in response.json()["error"]["fields"]
    response = client.post("/api/v1/imports/", {"kind": "contacts", "file": SimpleUploadedFile("p.csv", CSV),
                                                 "mapping": "{not json"}, format="multipart")
    assert response.status_code == 400 and "mapping" in response.json()["error"]["fields"]
    response = client.post("/api/v1/imports/", {"kind": "contacts", "file": SimpleUploadedFile("p.csv", CSV),
                                                 "mapping": json.dumps({"0": "password"})}, format="multipart")
    assert response.status_code == 400 and "mapping" in response.json()["error"]["fields"]
    settings.KITH_IMPORT_MAX_BYTES = 10
    response = client.post("/api/v1/imports/", {"kind": "contacts", "file": SimpleUploadedFile("p.csv", CSV)},
                           format="multipart")
    assert response.status_code == 413 and response.json()["error"]["code"] == "too_large"


def test_reps_cannot_import_and_keys_need_write_scope(personas):
    response = api(personas.bob).post("/api/v1/imports/", {"kind": "contacts",
                                                           "file": SimpleUploadedFile("p.csv", CSV)},
                                      format="multipart")
    assert response.status_code == 403
    assert api(personas.bob).get("/api/v1/imports/").status_code == 403
    for scopes, expected in ((["read"], 403), (["write"], 201)):
        _, raw = api_key_create(workspace=personas.acme, actor=personas.alice, name=f"k-{scopes[0]}", scopes=scopes)
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
        response = client.post("/api/v1/imports/", {"kind": "contacts", "file": SimpleUploadedFile("p.csv", CSV)},
                               format="multipart")
        assert response.status_code == expected, response.content


def test_other_workspaces_get_404(personas):
    body = api(personas.alice).post("/api/v1/imports/", {"kind": "contacts",
                                                         "file": SimpleUploadedFile("p.csv", CSV)},
                                    format="multipart").json()
    mallory = api(personas.mallory)
    assert mallory.get(f"/api/v1/imports/{body['id']}/").status_code == 404
    assert mallory.post(f"/api/v1/imports/{body['id']}/start/", {}, format="json").status_code == 404
    assert mallory.get("/api/v1/imports/").json()["results"] == []
    assert ImportJob.objects.get().status == "draft"


def test_deals_import_through_the_api(personas):
    pipeline_create(workspace=personas.acme, actor=personas.alice, name="Sales")
    client = api(personas.alice)
    body = b"external_id,name,pipeline,stage,amount,currency\nd-1,Big,Sales,Won,99.5,EUR\nd-2,Bad,Nope,,1,EUR\n"
    response = client.post("/api/v1/imports/", {"kind": "deals", "file": SimpleUploadedFile("d.csv", body),
                                                 "upsert_key": "external_id", "start": "true"}, format="multipart")
    assert response.status_code == 201, response.content
    data = response.json()
    assert (data["kind"], data["status"], data["created_count"], data["failed_count"]) == ("deals", "done", 1, 1)
    assert data["mapping"] == {"0": "external_id", "1": "name", "2": "pipeline", "3": "stage", "4": "value",
                               "5": "currency"}
    deal = Deal.objects.get(external_id="d-1")
    assert (deal.status, str(deal.value), deal.currency) == ("won", "99.50", "EUR")
    report = b"".join(client.get(data["error_report_url"]).streaming_content).decode().splitlines()
    assert report[1].startswith("3,pipeline: No pipeline named 'Nope'.")
    # Deals match on the external id only.
    response = client.post("/api/v1/imports/", {"kind": "deals", "file": SimpleUploadedFile("d.csv", body),
                                                 "upsert_key": "email"}, format="multipart")
    assert response.status_code == 400 and "upsert_key" in response.json()["error"]["fields"]
