"""Processing: identity resolution, anonymous → identified merges, alias, the trait mapping, timeline and hooks."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import override_settings

from kith.contacts.models import Contact
from kith.core import clock
from kith.contacts.services import contact_create, custom_field_definition_create
from kith.events.hooks import events_processed_subscribe, events_processed_unsubscribe
from kith.events.models import Event, Identity
from kith.events.services import events_process, trait_mapping_update
from kith.events.services.processing import events_process_stale
from kith.timeline.models import Activity, ActivityKind

pytestmark = pytest.mark.django_db


def contact_of(message_id):
    return Event.objects.get(message_id=message_id).contact


def test_an_anonymous_history_joins_the_contact_when_the_visitor_identifies(send, personas):
    send("/v1/page", {"anonymousId": "anon-1", "name": "Pricing", "messageId": "p1"})
    send("/v1/track", {"anonymousId": "anon-1", "event": "Checkout Started", "messageId": "t1"})
    assert contact_of("t1") is None

    send("/v1/identify", {"anonymousId": "anon-1", "userId": "user-7", "messageId": "i1",
                          "traits": {"email": "Dana@Example.com", "firstName": "Dana", "lastName": "Lee"}})

    contact = Contact.objects.get(workspace=personas.acme, external_id="user-7")
    assert (contact.email, contact.first_name, contact.last_name) == ("dana@example.com", "Dana", "Lee")
    assert contact_of("p1") == contact_of("t1") == contact_of("i1") == contact
    assert list(Activity.objects.filter(contact=contact, kind=ActivityKind.EVENT).values_list("title", flat=True)) \
        == ["Checkout Started"]
    # Later events with the anonymous id alone are attributed to the contact too.
    send("/v1/track", {"anonymousId": "anon-1", "event": "Purchase Completed", "messageId": "t2"})
    assert contact_of("t2") == contact


def test_identify_without_user_id_matches_an_existing_contact_by_email(send, personas):
    existing = contact_create(workspace=personas.acme, actor=personas.alice, data={"email": "dana@example.com"})

    send("/v1/identify", {"anonymousId": "anon-2", "traits": {"email": "DANA@example.com", "phone": "+14155550123"},
                          "messageId": "i2"})

    existing.refresh_from_db()
    assert existing.phone == "+14155550123"
    assert contact_of("i2") == existing
    assert Identity.objects.get(value="anon-2").contact == existing


def test_alias_links_an_anonymous_id_and_repoints_its_events(send, personas):
    send("/v1/track", {"anonymousId": "anon-3", "event": "Viewed Car", "messageId": "t3"})

    send("/v1/alias", {"previousId": "anon-3", "userId": "user-3", "messageId": "a3"})

    contact = Contact.objects.get(workspace=personas.acme, external_id="user-3")
    assert contact_of("t3") == contact
    assert Activity.objects.filter(contact=contact, title="Viewed Car").count() == 1


def test_alias_of_an_old_user_id_makes_both_ids_mean_one_contact(send, personas):
    send("/v1/alias", {"previousId": "old-id", "userId": "new-id", "messageId": "a4"})
    send("/v1/track", {"userId": "old-id", "event": "Logged In", "messageId": "t4"})

    assert contact_of("t4").external_id == "new-id"
    assert Contact.objects.filter(workspace=personas.acme).count() == 1


def test_alias_between_two_existing_contacts_is_reported_not_merged(send, personas):
    send("/v1/track", {"userId": "first", "event": "X", "messageId": "t5"})
    send("/v1/track", {"userId": "second", "event": "X", "messageId": "t6"})

    send("/v1/alias", {"previousId": "first", "userId": "second", "messageId": "a5"})

    assert "does not merge" in Event.objects.get(message_id="a5").processing_error
    assert Contact.objects.filter(workspace=personas.acme).count() == 2


def test_a_track_with_an_unknown_user_id_creates_the_contact(send, personas):
    send("/v1/track", {"userId": "fresh", "event": "Signed Up", "messageId": "t7"})

    assert contact_of("t7").external_id == "fresh"


def test_traits_follow_the_mapping_and_an_invalid_custom_attribute_is_reported_not_fatal(send, personas):
    custom_field_definition_create(workspace=personas.acme, actor=personas.alice, object_type="contact",
                                   key="seats", label="Seats", field_type="number")
    custom_field_definition_create(workspace=personas.acme, actor=personas.alice, object_type="contact",
                                   key="plan", label="Plan", field_type="single_choice", choices=["Free", "Pro"])
    trait_mapping_update(workspace=personas.acme, actor=personas.alice,
                         mapping={"planName": "attributes.plan", "lastName": "", "mobile": "phone"})

    send("/v1/identify", {"userId": "u-8", "messageId": "i8", "traits": {
        "email": "ana@example.com", "firstName": "Ana", "lastName": "Ignored", "mobile": "+14155550100",
        "planName": "pro", "seats": "many", "favouriteColour": "green"}})

    contact = Contact.objects.get(workspace=personas.acme, external_id="u-8")
    assert (contact.first_name, contact.last_name, contact.phone) == ("Ana", "", "+14155550100")
    assert contact.attributes == {"plan": "Pro"}
    error = Event.objects.get(message_id="i8").processing_error
    assert "attributes.seats" in error and "Expected a number" in error
    assert "favouriteColour" not in error  # undefined traits stay on the event, silently


def test_an_invalid_standard_trait_is_left_out_and_the_rest_applied(send, personas):
    send("/v1/identify", {"userId": "u-9", "messageId": "i9", "traits": {"email": "not-an-address",
                                                                          "firstName": "Bo"}})

    contact = Contact.objects.get(workspace=personas.acme, external_id="u-9")
    assert (contact.email, contact.first_name) == ("", "Bo")
    assert "email" in Event.objects.get(message_id="i9").processing_error


def test_an_email_of_another_contact_is_reported_and_the_user_id_still_gets_its_contact(send, personas):
    contact_create(workspace=personas.acme, actor=personas.alice,
                   data={"email": "taken@example.com", "external_id": "someone-else"})

    send("/v1/identify", {"userId": "u-10", "messageId": "i10", "traits": {"email": "taken@example.com"}})

    contact = Contact.objects.get(workspace=personas.acme, external_id="u-10")
    assert contact.email == ""
    assert Event.objects.get(message_id="i10").processing_error


def test_last_seen_moves_forward_only(send, personas):
    send("/v1/track", {"userId": "u-11", "event": "A", "messageId": "t11", "timestamp": "2026-01-02T00:00:00Z"})
    send("/v1/track", {"userId": "u-11", "event": "B", "messageId": "t12", "timestamp": "2025-01-01T00:00:00Z"})

    assert Contact.objects.get(external_id="u-11").last_seen_at == dt.datetime(2026, 1, 2, tzinfo=dt.UTC)


def test_track_events_become_escaped_timeline_entries(send, personas):
    send("/v1/track", {"userId": "u-12", "event": "<b>Bought</b>", "messageId": "t13",
                       "properties": {"item": "<script>alert(1)</script>", "total": 9.5}})

    activity = Activity.objects.get(contact__external_id="u-12")
    assert activity.title == "<b>Bought</b>"  # the template escapes titles
    assert "<script>" not in activity.body and "&lt;script&gt;" in activity.body
    assert activity.data["event_id"] == Event.objects.get(message_id="t13").pk


def test_subscribers_hear_about_processed_events_with_a_contact(send, personas):
    heard = []

    def subscriber(*, workspace, event_ids):
        heard.append((workspace.pk, sorted(event_ids)))

    events_processed_subscribe(subscriber)
    try:
        send("/v1/track", {"userId": "u-13", "event": "A", "messageId": "t14"})
        send("/v1/page", {"anonymousId": "nobody", "messageId": "p14"})
    finally:
        events_processed_unsubscribe(subscriber)

    assert heard == [(personas.acme.pk, [Event.objects.get(message_id="t14").pk])]


@override_settings(KITH_JOBS_RUNNER="embedded")
def test_processing_twice_changes_nothing(send, personas):
    send("/v1/track", {"userId": "u-14", "event": "A", "messageId": "t15"})
    assert Event.objects.get(message_id="t15").processed_at is None

    assert events_process(workspace=personas.acme) == 1
    assert events_process(workspace=personas.acme) == 0
    assert Activity.objects.filter(contact__external_id="u-14").count() == 1
    assert Contact.objects.filter(external_id="u-14").count() == 1


def test_the_sweeper_rings_again_for_events_left_pending(send, personas, settings,
                                                         django_capture_on_commit_callbacks):
    settings.KITH_JOBS_RUNNER = "embedded"
    send("/v1/track", {"userId": "u-15", "event": "A", "messageId": "t16"})
    settings.KITH_JOBS_RUNNER = "immediate"

    assert events_process_stale() == 0  # just received: its own job is still due
    with clock.frozen(clock.now() + dt.timedelta(minutes=2)), django_capture_on_commit_callbacks(execute=True):
        assert events_process_stale() == 1

    assert Event.objects.get(message_id="t16").processed_at is not None


@override_settings(KITH_JOBS_RUNNER="embedded")
def test_one_event_that_breaks_processing_does_not_block_the_others(send, personas, caplog):
    def subscriber(*, workspace, event_ids):
        if Event.objects.filter(pk__in=event_ids, name="Poison").exists():
            raise RuntimeError("a subscriber bug")

    send("/v1/batch", {"batch": [{"type": "track", "userId": "u-16", "event": name, "messageId": name}
                                 for name in ("Before", "Poison", "After")]})
    events_processed_subscribe(subscriber)
    try:
        assert events_process(workspace=personas.acme) == 3
    finally:
        events_processed_unsubscribe(subscriber)

    events = {e.message_id: e for e in Event.objects.all()}
    assert all(e.processed_at for e in events.values())
    assert "could not process" in events["Poison"].processing_error
    assert events["Before"].contact_id and events["After"].contact_id and not events["After"].processing_error
    assert "a subscriber bug" in caplog.text
