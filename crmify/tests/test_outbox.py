"""The save path writes only to the host's database, in the host's transaction; delivery happens later."""

import pytest
from django.contrib.auth.models import User
from django.db import connection, transaction
from django.db.models.signals import post_save
from django.test import override_settings
from django.test.utils import CaptureQueriesContext

import crmify
from crmify import delivery
from crmify.backends.base import PermanentError
from crmify.models import Lead, OutboxEntry
from tests.hostapp.models import Unrelated

pytestmark = pytest.mark.django_db(transaction=True)


def make_user(username="ana", **fields):
    return User.objects.create(username=username, **fields)


def test_saving_a_user_writes_lead_and_outbox_but_calls_no_crm(test_crm):
    user = make_user(first_name="Ana", last_name="Lima", email="ana@example.com")
    lead = user.crm_lead
    assert (lead.first_name, lead.last_name, lead.email, lead.external_status) == (
        "Ana", "Lima", "ana@example.com", "NotContacted")
    assert OutboxEntry.objects.filter(lead=lead, kind="sync", status="pending").count() == 1
    assert test_crm.calls == []  # nothing talked to the CRM during the save

    delivery.drain()
    lead.refresh_from_db()
    assert test_crm.leads[lead.external_id]["email"] == "ana@example.com"
    assert lead.synced_version == lead.version and lead.last_synced is not None


def test_rolled_back_host_transaction_leaves_nothing():
    with pytest.raises(RuntimeError), transaction.atomic():
        make_user(email="gone@example.com")
        raise RuntimeError("host view failed")
    assert not Lead.objects.exists() and not OutboxEntry.objects.exists()


def test_fallback_fills_missing_email_from_username():
    user = make_user(username="bo@example.com")
    assert user.crm_lead.email == "bo@example.com"


def test_non_ascii_names_round_trip(test_crm):
    user = make_user(first_name="Zoë", last_name="Ødegård-Łukasz 李", email="zoe@example.com")
    delivery.drain()
    synced = test_crm.leads[Lead.objects.get(anchor=user).external_id]
    assert (synced["first_name"], synced["last_name"]) == ("Zoë", "Ødegård-Łukasz 李")


def test_repeated_updates_coalesce_into_one_pending_sync(test_crm):
    user = make_user(email="c@example.com")
    for n in range(10):
        user.first_name = f"Name{n}"
        user.save()
    assert OutboxEntry.objects.filter(status="pending").count() == 1
    delivery.drain()
    assert test_crm.leads[user.crm_lead.external_id]["first_name"] == "Name9"
    assert [c for c in test_crm.calls if c[0] == "sync"] == [("sync", user.crm_lead.external_id)]


def test_save_that_changes_nothing_mapped_queues_nothing():
    user = make_user(email="same@example.com")
    delivery.drain()
    user.last_login = user.date_joined
    user.save()
    assert not OutboxEntry.objects.filter(status="pending").exists()


def test_delete_is_delivered_after_the_sync_in_order(test_crm):
    user = make_user(email="del@example.com")
    user.delete()
    delivery.drain()
    assert [kind for kind, _ in test_crm.calls] == ["sync", "delete"]
    assert test_crm.leads == {}
    assert Lead.objects.get().deleted_at is not None


def test_update_racing_an_in_flight_sync_is_not_lost(test_crm):
    user = make_user(email="race@example.com")

    original = test_crm.sync_lead

    def sync_then_host_saves(self, lead):
        external_id = original(self, lead)
        if lead.first_name != "Later":
            fresh = User.objects.get(pk=user.pk)
            fresh.first_name = "Later"
            fresh.save()  # lands while the first sync is claimed: the coalescing check sees no free entry
        return external_id

    try:
        test_crm.sync_lead = sync_then_host_saves
        delivery.drain()
    finally:
        test_crm.sync_lead = original
    assert test_crm.leads[Lead.objects.get().external_id]["first_name"] == "Later"


def test_outage_retries_then_delivers(test_crm):
    test_crm.outage = True
    user = make_user(email="out@example.com")
    result = delivery.drain()
    entry = OutboxEntry.objects.get()
    assert result.retried == 1 and entry.status == "pending" and entry.attempts == 1
    assert "down" in entry.last_error
    test_crm.outage = False
    delivery.drain()
    assert test_crm.leads[Lead.objects.get(anchor=user).external_id]["email"] == "out@example.com"


@override_settings(CRMIFY={"BACKEND": "crmify.backends.test.TestBackend", "DELIVERY": "manual",
                           "MAX_ATTEMPTS": 2, "RETRY_BASE_SECONDS": 0.0})
def test_dead_letter_after_max_attempts_and_retry(test_crm):
    test_crm.outage = True
    make_user(email="dead@example.com")
    delivery.drain()
    delivery.drain()
    entry = OutboxEntry.objects.get()
    assert entry.status == "dead" and entry.attempts == 2
    test_crm.outage = False
    assert delivery.retry_dead([entry.pk]) == 1
    delivery.drain()
    assert OutboxEntry.objects.get().status == "done" and len(test_crm.leads) == 1


def test_permanent_error_dead_letters_at_once():
    class Refusing:
        def sync_lead(self, lead):
            raise PermanentError("CRM refused the data")

        def delete_lead(self, lead_id):
            return True

    make_user(email="refused@example.com")
    result = delivery.drain(backend=Refusing())
    assert result.dead == 1 and OutboxEntry.objects.get().status == "dead"


def test_track_goes_through_the_outbox_with_an_idempotent_message_id(test_crm):
    user = make_user(email="t@example.com")
    crmify.track(user, "Purchase Completed", {"total": 1200})
    assert test_crm.events == []
    delivery.drain()
    (event,) = test_crm.events
    assert event["event"] == "Purchase Completed" and event["properties"] == {"total": 1200}
    assert event["message_id"].startswith("crmify-")


def test_convert_sets_the_converted_status(test_crm):
    user = make_user(email="conv@example.com")
    crmify.convert(user)
    delivery.drain()
    assert test_crm.leads[user.crm_lead.external_id]["external_status"] == "Converted"


def test_receivers_only_for_the_configured_models():
    assert post_save.has_listeners(User)
    assert not post_save.has_listeners(Unrelated)
    Unrelated.objects.create(name="x")
    assert not OutboxEntry.objects.exists()


def test_changing_settings_in_a_test_takes_effect(test_crm):
    with override_settings(CRMIFY={"BACKEND": "crmify.backends.test.TestBackend", "DELIVERY": "manual",
                                   "LEAD_NEW_STATUS": "Fresh"}):
        user = make_user(email="lazy@example.com")
        assert user.crm_lead.external_status == "Fresh"


def test_save_path_query_budget():
    user = make_user(email="q@example.com")
    delivery.drain()
    user.first_name = "Changed"
    with CaptureQueriesContext(connection) as queries:
        user.save()
    statements = [q["sql"] for q in queries if not q["sql"].startswith(("BEGIN", "COMMIT"))]
    # the host's UPDATE, then crmify's conditional lead UPDATE and outbox INSERT-unless-pending
    assert len(statements) == 3, statements


def test_save_that_changes_nothing_queues_nothing_in_two_statements():
    user = make_user(email="q2@example.com")
    with CaptureQueriesContext(connection) as queries:
        user.save()
    statements = [q["sql"] for q in queries if not q["sql"].startswith(("BEGIN", "COMMIT"))]
    assert len(statements) == 3, statements  # the host's UPDATE, a lead UPDATE matching nothing, an existence check


def test_thread_delivery_runs_after_commit(test_crm):
    with override_settings(CRMIFY={"BACKEND": "crmify.backends.test.TestBackend", "DELIVERY": "thread",
                                   "RETRY_BASE_SECONDS": 0.0}):
        user = make_user(email="thread@example.com")
        import time

        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not test_crm.leads:
            time.sleep(0.05)
        assert [v["email"] for v in test_crm.leads.values()] == ["thread@example.com"]
        assert user.pk
