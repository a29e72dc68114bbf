"""The tracking endpoints: authentication, every message type, limits, idempotency and the skew correction."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client, override_settings

from kith.accounts.models import ApiKey
from kith.accounts.services import api_key_create, api_key_revoke
from kith.core.jobs.models import Job
from kith.events.ingest import MAX_BATCH_BYTES, MAX_EVENT_BYTES
from kith.events.models import Event
from kith.events.tests.conftest import basic

pytestmark = pytest.mark.django_db

NOW = "2026-11-20T10:00:00Z"


def track(message_id="m-1", **extra):
    return {"userId": "u-1", "event": "Purchase Completed", "messageId": message_id, "timestamp": NOW,
            "properties": {"total": 42}, **extra}


@pytest.mark.parametrize(("path", "body", "kind", "name"), [
    ("/v1/identify", {"userId": "u-1", "traits": {"email": "dana@example.com"}}, "identify", ""),
    ("/v1/track", {"userId": "u-1", "event": "Signed Up"}, "track", "Signed Up"),
    ("/v1/page", {"anonymousId": "a-1", "name": "Pricing"}, "page", "Pricing"),
    ("/v1/screen", {"anonymousId": "a-1", "name": "Home"}, "screen", "Home"),
    ("/v1/group", {"userId": "u-1", "groupId": "g-1", "traits": {"name": "Acme"}}, "group", ""),
    ("/v1/alias", {"userId": "u-1", "previousId": "a-1"}, "alias", ""),
])
def test_each_endpoint_stores_its_message_and_answers_like_segment(send, personas, path, body, kind, name):
    response = send(path, {**body, "messageId": f"id-{kind}"})

    assert response.status_code == 200, response.content
    assert response.json() == {"success": True}
    event = Event.objects.get(workspace=personas.acme, message_id=f"id-{kind}")
    assert (event.type, event.name) == (kind, name)
    assert event.processed_at is not None


def test_batch_and_import_store_every_message_of_their_list(send, personas):
    batch = {"batch": [{"type": "track", **track("b-1")}, {"type": "identify", "userId": "u-2", "messageId": "b-2"},
                       {"type": "page", "anonymousId": "a-9", "messageId": "b-3"}]}

    assert send("/v1/batch", batch).json() == {"success": True}
    assert send("/v1/import", {"batch": [{"type": "track", **track("i-1")}]}).status_code == 200
    assert set(Event.objects.filter(workspace=personas.acme).values_list("message_id", flat=True)) == {
        "b-1", "b-2", "b-3", "i-1"}


def test_a_retried_batch_inserts_nothing_twice(send, personas):
    batch = {"batch": [{"type": "track", **track(f"r-{n}")} for n in range(5)]}

    first, second = send("/v1/batch", batch), send("/v1/batch", batch)

    assert (first.status_code, second.status_code) == (200, 200)
    assert Event.objects.filter(workspace=personas.acme).count() == 5


def test_the_same_message_id_in_two_workspaces_is_two_events(send, personas, mallory_write_key):
    send("/v1/track", track("shared"))
    send("/v1/track", track("shared"), key=mallory_write_key)

    assert Event.objects.filter(message_id="shared").count() == 2


def test_timestamp_is_corrected_by_the_gap_between_sent_at_and_received_at(send, personas):
    # The client's clock is 1 hour behind: it says it sent at 09:00 what it did at 08:59.
    from kith.core import clock

    received = dt.datetime(2026, 11, 20, 10, 0, tzinfo=dt.UTC)
    with clock.frozen(received):
        send("/v1/batch", {"sentAt": "2026-11-20T09:00:00Z",
                           "batch": [{"type": "track", **track("skew", timestamp="2026-11-20T08:59:00Z")}]})
        send("/v1/track", track("no-sent-at", timestamp="2026-11-20T08:59:00Z"))
        send("/v1/track", {"userId": "u-1", "event": "No Time", "messageId": "no-time"})

    events = {e.message_id: e for e in Event.objects.filter(workspace=personas.acme)}
    assert events["skew"].timestamp == dt.datetime(2026, 11, 20, 9, 59, tzinfo=dt.UTC)
    assert events["skew"].received_at == received
    assert events["no-sent-at"].timestamp == dt.datetime(2026, 11, 20, 8, 59, tzinfo=dt.UTC)
    assert events["no-time"].timestamp == received


def test_offsets_postgresql_cannot_store_are_converted_to_utc(send, personas):
    send("/v1/track", track("offset", timestamp="2026-01-01T12:00:00+20:00"))

    assert Event.objects.get(message_id="offset").timestamp == dt.datetime(2025, 12, 31, 16, 0, tzinfo=dt.UTC)


def test_late_and_out_of_order_events_are_accepted_as_they_happened(send, personas):
    send("/v1/track", track("late", timestamp="2020-01-01T00:00:00Z"))
    send("/v1/track", track("earlier", timestamp="2019-06-01T00:00:00+02:00"))

    stored = dict(Event.objects.filter(workspace=personas.acme).values_list("message_id", "timestamp"))
    assert stored["earlier"] < stored["late"]


def test_unknown_event_names_are_stored_not_rejected(send, personas):
    response = send("/v1/track", track("odd", event="Some Never Seen Event ✨"))

    assert response.status_code == 200
    assert Event.objects.get(message_id="odd").name == "Some Never Seen Event ✨"


def test_gzip_bodies_are_accepted_like_the_python_client_sends_them(send, personas):
    response = send("/v1/batch", {"batch": [{"type": "track", **track("gz")}]}, gzip=True)

    assert response.status_code == 200, response.content
    assert Event.objects.filter(message_id="gz").exists()


def test_write_key_in_the_body_authenticates_without_a_header(send, personas, acme_write_key):
    response = send("/v1/batch", {"writeKey": acme_write_key, "batch": [{"type": "track", **track("wk")}]}, auth="")

    assert response.status_code == 200, response.content
    assert Event.objects.filter(workspace=personas.acme, message_id="wk").exists()


def test_bearer_authorization_works_too(send, acme_write_key):
    assert send("/v1/track", track("bearer"), auth=f"Bearer {acme_write_key}").status_code == 200


@pytest.mark.parametrize("auth", ["", "Basic !!!", basic("kith_nope_nope"), "Bearer kith_abc_def", basic("")])
def test_a_missing_or_wrong_key_answers_401_and_stores_nothing(send, auth):
    response = send("/v1/track", track("nokey"), auth=auth)

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "authentication_failed"
    assert response["WWW-Authenticate"].startswith("Basic")
    assert not Event.objects.exists()


def test_a_revoked_key_answers_401(send, personas, acme_write_key):
    api_key_revoke(api_key=ApiKey.objects.get(prefix=acme_write_key.split("_")[1]), actor=personas.alice)

    assert send("/v1/track", track("revoked")).status_code == 401


def test_a_read_only_key_may_not_send_events(send, personas):
    _, read_key = api_key_create(workspace=personas.acme, actor=personas.alice, name="reader", scopes=["read"])

    response = send("/v1/track", track("ro"), key=read_key)

    assert response.status_code == 403
    assert not Event.objects.exists()


def test_invalid_json_answers_400(send):
    for raw in (b"{not json", b"[1, 2]", b"\xff\xfe"):
        response = send("/v1/track", None, raw=raw)
        assert response.status_code == 400
        assert response.json()["error"]["code"] == "invalid_json"


def test_corrupt_gzip_answers_400_and_unknown_encodings_415(send):
    bad = send("/v1/track", None, raw=b"not gzip at all", HTTP_CONTENT_ENCODING="gzip")
    brotli = send("/v1/track", track(), HTTP_CONTENT_ENCODING="br")

    assert bad.status_code == 400
    assert brotli.status_code == 415


def test_a_single_message_over_32_kb_answers_413(send):
    response = send("/v1/track", track("big", properties={"blob": "x" * MAX_EVENT_BYTES}))

    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"
    assert not Event.objects.exists()


def test_a_batch_over_500_kb_answers_413_even_when_gzip_makes_it_small(send):
    batch = {"batch": [{"type": "track", **track(f"big-{n}", properties={"blob": "y" * 30_000})}
                       for n in range(MAX_BATCH_BYTES // 30_000 + 2)]}

    plain, zipped = send("/v1/batch", batch), send("/v1/batch", batch, gzip=True)

    assert (plain.status_code, zipped.status_code) == (413, 413)
    assert "500 KB" in zipped.json()["error"]["message"]
    assert not Event.objects.exists()


def test_an_oversized_or_invalid_message_in_a_batch_is_named_and_the_valid_ones_are_kept(send, personas):
    batch = {"batch": [{"type": "track", **track("ok-1")},
                       {"type": "track", **track("too-big", properties={"blob": "z" * MAX_EVENT_BYTES})},
                       {"type": "track", "event": "No Ids", "messageId": "no-ids"},
                       {"type": "explode", "userId": "u", "messageId": "bad-type"},
                       "not an object",
                       {"type": "track", **track("ok-2")}]}

    response = send("/v1/batch", batch)

    assert response.status_code == 400
    body = response.json()
    assert body["accepted"] == 2
    assert set(body["error"]["fields"]) == {"batch[1]", "batch[2]", "batch[3]", "batch[4]"}
    assert "32 KB" in body["error"]["fields"]["batch[1]"][0]
    assert set(Event.objects.values_list("message_id", flat=True)) == {"ok-1", "ok-2"}


def test_a_batch_whose_only_problem_is_size_answers_413(send):
    batch = {"batch": [{"type": "track", **track("big", properties={"blob": "z" * MAX_EVENT_BYTES})}]}

    assert send("/v1/batch", batch).status_code == 413


@pytest.mark.parametrize("message", [
    {"event": "Nobody"},
    {"userId": "u", "event": ""},
    {"userId": {"nested": 1}, "event": "X"},
    {"userId": "u", "event": "X", "timestamp": "yesterday"},
    {"userId": "u", "event": "X", "properties": ["not", "an", "object"]},
    {"userId": "u", "event": "X" * 300},
    {"userId": "u", "event": "X", "properties": {"nul": "a\u0000b"}},
    {"userId": "u", "event": "X", "properties": {"surrogate": "\ud800"}},
    {"userId": "u\ud800", "event": "X"},
    {"userId": "u", "event": "X", "timestamp": "0001-01-01T00:00:00+14:00"},
])
def test_malformed_messages_answer_400_with_a_reason(send, message):
    response = send("/v1/track", message)

    assert response.status_code == 400
    assert response.json()["error"]["message"]
    assert not Event.objects.exists()


def test_alias_needs_both_ids_and_group_needs_a_group_id(send):
    assert send("/v1/alias", {"userId": "u-1"}).status_code == 400
    assert send("/v1/group", {"userId": "u-1"}).status_code == 400


def test_get_answers_405_in_the_api_error_format(acme_write_key):
    response = Client().get("/v1/track", HTTP_AUTHORIZATION=basic(acme_write_key))

    assert response.status_code == 405
    assert response.json()["error"]["code"] == "method_not_allowed"


def test_numeric_user_ids_are_stored_as_text(send):
    send("/v1/track", {"userId": 42, "event": "X", "messageId": "num"})

    assert Event.objects.get(message_id="num").user_id == "42"


@override_settings(KITH_JOBS_RUNNER="embedded")
def test_accepting_never_waits_for_processing_it_leaves_one_job_per_request(send, personas):
    response = send("/v1/batch", {"batch": [{"type": "track", **track(f"q-{n}")} for n in range(3)]})

    assert response.status_code == 200
    assert Event.objects.filter(processed_at__isnull=True).count() == 3
    jobs = Job.objects.filter(name="kith.events.services.processing.events_process_task")
    assert [j.kwargs for j in jobs] == [
        {"workspace_id": personas.acme.pk}]


def test_another_workspaces_key_writes_only_to_its_own_workspace(send, personas, mallory_write_key):
    send("/v1/identify", {"userId": "u-1", "traits": {"email": "dana@example.com"}, "messageId": "m"},
         key=mallory_write_key)

    assert not Event.objects.filter(workspace=personas.acme).exists()
    assert Event.objects.get(message_id="m").workspace == personas.mallory_inc
