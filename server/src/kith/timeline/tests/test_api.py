"""/api/v1/activities/: list a subject's timeline, log/edit/delete notes, calls and meetings, with the access rules
of the UI (restricted reps, viewers), Idempotency-Key and sanitized text."""

import datetime as dt

import pytest

from kith.contacts.tests.conftest import client_for
from kith.contacts.tests.factories import CompanyFactory, ContactFactory
from kith.core import clock
from kith.core.models import AuditEntry
from kith.deals.services import deal_create, pipeline_create
from kith.tasks.tests.helpers import restrict, viewer
from kith.timeline.models import Activity, ActivityKind
from kith.timeline.services import activity_log_manual, activity_record

pytestmark = pytest.mark.django_db
URL = "/api/v1/activities/"


def _fields(response):
    assert response.status_code == 400, response.content
    return response.json()["error"]["fields"]


def _ids(api, query=""):
    response = api.get(f"{URL}?{query}")
    assert response.status_code == 200, response.content
    return [row["id"] for row in response.json()["results"]]


def test_a_note_logged_through_the_api_is_sanitized_audited_and_on_the_contact_and_its_company(personas):
    api = client_for(personas.alice)
    company = CompanyFactory(workspace=personas.acme)
    contact = ContactFactory(workspace=personas.acme, company=company)

    created = api.post(URL, {"kind": "note", "title": "Recap", "contact": contact.pk,
                             "body": '<p onclick="x()">Likes <strong>red</strong><script>alert(1)</script>'
                                     '<a href="javascript:alert(1)">y</a></p>'}, format="json")

    assert created.status_code == 201, created.content
    body = created.json()
    assert "<script" not in body["body"] and "onclick" not in body["body"] and "javascript:" not in body["body"]
    assert "<strong>red</strong>" in body["body"]
    assert body["contact"] == contact.pk and body["company"] == company.pk and body["actor"] == personas.alice.pk
    assert body["editable"] is True
    assert _ids(api, f"contact={contact.pk}") == [body["id"]]
    assert _ids(api, f"company={company.pk}") == [body["id"]]
    assert AuditEntry.objects.filter(action="activity.created", target_id=str(body["id"])).exists()


def test_a_call_on_a_deal_also_shows_on_its_contact_and_company_and_keeps_its_time(personas):
    api = client_for(personas.alice)
    company = CompanyFactory(workspace=personas.acme)
    contact = ContactFactory(workspace=personas.acme)
    pipeline = pipeline_create(workspace=personas.acme, actor=personas.alice, name="Sales")
    deal = deal_create(workspace=personas.acme, actor=personas.alice, pipeline=pipeline, name="Pilot",
                       contact=contact, company=company)
    when = "2026-01-05T15:30:00+01:00"

    created = api.post(URL, {"kind": "call", "deal": deal.pk, "occurred_at": when}, format="json")

    assert created.status_code == 201, created.content
    body = created.json()
    assert (body["deal"], body["contact"], body["company"]) == (deal.pk, contact.pk, company.pk)
    assert body["title"] == "Call"  # the kind's name when no title is given
    assert dt.datetime.fromisoformat(body["occurred_at"]) == dt.datetime.fromisoformat(when)


def test_the_list_filters_by_subject_and_kind_newest_first_with_cursor_pages(personas):
    api = client_for(personas.alice)
    contact, other = ContactFactory(workspace=personas.acme), ContactFactory(workspace=personas.acme)
    now = clock.now()
    entries = [activity_record(workspace=personas.acme, kind=kind, title=f"entry {n}", contact=contact,
                               occurred_at=now - dt.timedelta(minutes=n))
               for n, kind in enumerate([ActivityKind.NOTE, ActivityKind.EMAIL_SENT, ActivityKind.CALL] * 3)]
    activity_record(workspace=personas.acme, kind=ActivityKind.NOTE, title="elsewhere", contact=other)

    assert _ids(api, f"contact={contact.pk}") == [e.pk for e in entries]
    assert _ids(api, f"contact={contact.pk}&kind=note&kind=call") == [
        e.pk for e in entries if e.kind in (ActivityKind.NOTE, ActivityKind.CALL)]
    assert _ids(api, f"contact={contact.pk}&kind=email_sent") == [e.pk for e in entries if e.kind == "email_sent"]

    seen, url = [], f"{URL}?contact={contact.pk}&page_size=4"
    while url:
        page = api.get(url).json()
        seen += [row["id"] for row in page["results"]]
        url = page["next"]
    assert seen == [e.pk for e in entries]

    assert set(_fields(api.get(f"{URL}?kind=nonsense"))) == {"kind"}
    assert set(_fields(api.get(f"{URL}?contact=abc"))) == {"contact"}
    assert set(_fields(api.get(f"{URL}?contact=1&contact=2"))) == {"contact"}


def test_edit_and_delete_a_note_but_never_a_system_entry(personas):
    api = client_for(personas.alice)
    contact = ContactFactory(workspace=personas.acme)
    note = activity_log_manual(workspace=personas.acme, actor=personas.alice, kind="note", title="Draft",
                               body="<p>first</p>", contact=contact)
    system = activity_record(workspace=personas.acme, kind=ActivityKind.EMAIL_SENT, title="Welcome",
                             contact=contact)

    patched = api.patch(f"{URL}{note.pk}/", {"kind": "meeting", "body": "<p>second<img src=x onerror=y></p>"},
                        format="json")
    assert patched.status_code == 200, patched.content
    assert patched.json()["kind"] == "meeting" and patched.json()["body"] == "<p>second</p>"
    assert AuditEntry.objects.filter(action="activity.updated", target_id=str(note.pk)).exists()

    assert api.patch(f"{URL}{system.pk}/", {"title": "forged"}, format="json").status_code == 400
    assert api.delete(f"{URL}{system.pk}/").status_code == 400
    assert Activity.objects.get(pk=system.pk).title == "Welcome"
    assert set(_fields(api.patch(f"{URL}{note.pk}/", {"kind": "email_sent"}, format="json"))) == {"kind"}

    assert api.delete(f"{URL}{note.pk}/").status_code == 204
    assert not Activity.objects.filter(pk=note.pk).exists()


def test_validation_errors_name_each_field(personas):
    api = client_for(personas.alice)
    assert set(_fields(api.post(URL, {"kind": "note"}, format="json"))) == {"contact"}  # needs a subject
    wrong = api.post(URL, {"kind": "email_sent", "title": 5, "contact": "x", "occurred_at": "soon"}, format="json")
    assert {"kind", "title", "contact", "occurred_at"} <= set(_fields(wrong))
    too_long = api.post(URL, {"kind": "note", "contact": ContactFactory(workspace=personas.acme).pk,
                              "body": "x" * 100_001}, format="json")
    assert set(_fields(too_long)) == {"body"}
    mallorys = ContactFactory(workspace=personas.mallory_inc)
    assert _fields(api.post(URL, {"kind": "note", "contact": mallorys.pk}, format="json")) == {
        "contact": ["No such contact in this workspace."]}


def test_a_restricted_rep_sees_and_logs_only_on_records_he_owns(personas):
    membership = restrict(personas)
    bob = client_for(personas.bob)
    own = ContactFactory(workspace=personas.acme, owner=personas.bob)
    others = ContactFactory(workspace=personas.acme, owner=personas.alice)
    mine = activity_record(workspace=personas.acme, kind=ActivityKind.NOTE, title="on bob's", contact=own)
    hidden = activity_record(workspace=personas.acme, kind=ActivityKind.NOTE, title="on alice's", contact=others)

    assert _ids(bob) == [mine.pk]
    assert _ids(bob, f"contact={others.pk}") == []
    assert bob.get(f"{URL}{hidden.pk}/").status_code == 404
    assert bob.patch(f"{URL}{hidden.pk}/", {"title": "x"}, format="json").status_code == 404
    assert bob.delete(f"{URL}{hidden.pk}/").status_code == 404
    assert _fields(bob.post(URL, {"kind": "note", "contact": others.pk}, format="json")) == {
        "contact": ["No such contact in this workspace."]}
    assert bob.post(URL, {"kind": "note", "contact": own.pk}, format="json").status_code == 201
    assert membership.restrict_to_own


def test_a_rep_changes_only_the_entries_he_logged_and_a_manager_any(personas):
    bob = client_for(personas.bob)
    contact = ContactFactory(workspace=personas.acme)
    alices = activity_log_manual(workspace=personas.acme, actor=personas.alice, kind="note", title="Alice's",
                                 contact=contact)
    bobs = activity_log_manual(workspace=personas.acme, actor=personas.bob, kind="note", title="Bob's",
                               contact=contact)

    assert bob.patch(f"{URL}{alices.pk}/", {"title": "mine now"}, format="json").status_code == 403
    assert bob.delete(f"{URL}{alices.pk}/").status_code == 403
    assert bob.patch(f"{URL}{bobs.pk}/", {"title": "Bob's, corrected"}, format="json").status_code == 200
    assert client_for(personas.alice).delete(f"{URL}{bobs.pk}/").status_code == 204
    assert Activity.objects.get(pk=alices.pk).title == "Alice's"


def test_a_viewer_reads_the_timeline_but_cannot_write(personas):
    victor = client_for(viewer(personas))
    contact = ContactFactory(workspace=personas.acme)
    note = activity_log_manual(workspace=personas.acme, actor=personas.alice, kind="note", title="Read me",
                               contact=contact)

    assert _ids(victor, f"contact={contact.pk}") == [note.pk]
    assert victor.post(URL, {"kind": "note", "contact": contact.pk}, format="json").status_code == 403
    assert victor.patch(f"{URL}{note.pk}/", {"title": "x"}, format="json").status_code == 403
    assert victor.delete(f"{URL}{note.pk}/").status_code == 403
    assert Activity.objects.filter(workspace=personas.acme).count() == 1


def test_an_idempotency_key_logs_the_note_once(personas):
    api = client_for(personas.alice)
    contact = ContactFactory(workspace=personas.acme)
    payload = {"kind": "note", "title": "Once", "contact": contact.pk}

    first = api.post(URL, payload, format="json", HTTP_IDEMPOTENCY_KEY="note-1")
    again = api.post(URL, payload, format="json", HTTP_IDEMPOTENCY_KEY="note-1")
    other = api.post(URL, {**payload, "title": "Twice"}, format="json", HTTP_IDEMPOTENCY_KEY="note-1")

    assert first.status_code == again.status_code == 201
    assert again["Idempotent-Replayed"] == "true" and again.json() == first.json()
    assert other.status_code == 422
    assert Activity.objects.filter(contact=contact).count() == 1


def test_an_api_key_with_write_scope_logs_without_a_person(personas, acme_key_api):
    contact = ContactFactory(workspace=personas.acme)
    created = acme_key_api.post(URL, {"kind": "meeting", "contact": contact.pk, "title": "Demo"}, format="json")
    assert created.status_code == 201, created.content
    assert created.json()["actor"] is None
    assert acme_key_api.delete(f"{URL}{created.json()['id']}/").status_code == 204
