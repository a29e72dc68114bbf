"""Incremental segment membership: rows follow contact writes and processed events, not only the periodic refresh,
and subscribers hear who entered and who left after commit. Every test here fails if membership goes stale."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.db import transaction

from kith.contacts import services as contact_services
from kith.contacts.models import Contact
from kith.core import clock
from kith.events.models import Event, EventType
from kith.events.services.processing import events_process
from kith.segments import membership
from kith.segments.hooks import (
    segment_membership_changed_subscribe,
    segment_membership_changed_unsubscribe,
)
from kith.segments.models import Segment, SegmentMembership, SegmentMembershipDirty
from kith.segments.services import segment_create, segment_update

pytestmark = pytest.mark.django_db

CUSTOMERS = {"field": "lifecycle_stage", "op": "eq", "value": "customer"}


@pytest.fixture
def heard() -> Any:
    """Every call of the membership hook, as (segment_id, entered, left)."""
    calls: list[tuple[int, list[int], list[int]]] = []

    def listener(*, workspace: Any, segment_id: int, entered: list[int], left: list[int]) -> None:
        calls.append((segment_id, list(entered), list(left)))

    segment_membership_changed_subscribe(listener)
    yield calls
    segment_membership_changed_unsubscribe(listener)


def _members(segment: Segment) -> set[int]:
    return set(SegmentMembership.objects.filter(segment=segment).values_list("contact_id", flat=True))


def _segment(personas: Any, definition: Any, run: Any, name: str = "Customers") -> Segment:
    with run(execute=True):
        return segment_create(workspace=personas.acme, actor=personas.alice, name=name, definition=definition)


def test_a_new_segment_gets_its_members_and_announces_them(personas, django_capture_on_commit_callbacks, heard):
    customer = Contact.objects.create(workspace=personas.acme, email="c@example.test", lifecycle_stage="customer")
    Contact.objects.create(workspace=personas.acme, email="lead@example.test")
    segment = _segment(personas, CUSTOMERS, django_capture_on_commit_callbacks)
    assert _members(segment) == {customer.pk}
    assert heard == [(segment.pk, [customer.pk], [])]


def test_a_contact_update_moves_the_contact_in_and_out_without_a_rebuild(
        personas, django_capture_on_commit_callbacks, heard):
    segment = _segment(personas, CUSTOMERS, django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        contact = contact_services.contact_create(workspace=personas.acme, actor=personas.alice,
                                                  data={"email": "dana@example.test"})
    assert _members(segment) == set()

    with django_capture_on_commit_callbacks(execute=True):
        contact_services.contact_update(contact=contact, actor=personas.alice, data={"lifecycle_stage": "customer"})
    assert _members(segment) == {contact.pk}
    assert heard[-1] == (segment.pk, [contact.pk], [])

    with django_capture_on_commit_callbacks(execute=True):
        contact_services.contact_update(contact=contact, actor=personas.alice, data={"lifecycle_stage": "lead"})
    assert _members(segment) == set()
    assert heard[-1] == (segment.pk, [], [contact.pk])
    assert not SegmentMembershipDirty.objects.exists()


def test_tags_added_and_removed_move_the_contact(personas, django_capture_on_commit_callbacks):
    segment = _segment(personas, {"tag": "vip"}, django_capture_on_commit_callbacks, name="VIPs")
    contact = Contact.objects.create(workspace=personas.acme, email="v@example.test")
    with django_capture_on_commit_callbacks(execute=True):
        contact_services.contact_add_tags(contact=contact, actor=personas.alice, names=["VIP"])
    assert _members(segment) == {contact.pk}
    with django_capture_on_commit_callbacks(execute=True):
        contact_services.contact_remove_tags(contact=contact, actor=personas.alice, names=["vip"])
    assert _members(segment) == set()


def test_bulk_upsert_moves_every_written_contact(personas, django_capture_on_commit_callbacks):
    segment = _segment(personas, CUSTOMERS, django_capture_on_commit_callbacks)
    items = [{"email": f"b{i}@example.test", "lifecycle_stage": "customer" if i % 2 else "lead"} for i in range(6)]
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        contact_services.contact_bulk_upsert(workspace=personas.acme, actor=personas.alice, items=items)
    expected = set(Contact.objects.filter(lifecycle_stage="customer").values_list("pk", flat=True))
    assert len(expected) == 3 and _members(segment) == expected
    # One doorbell for the whole request, not one per contact.
    assert sum(1 for c in callbacks if getattr(c, "func", None) is not None
               and getattr(c.func, "__name__", "") == "_run_immediately") == 1


def _event(personas: Any, contact: Contact, name: str, n: int) -> Event:
    now = clock.now()
    return Event.objects.create(workspace=personas.acme, message_id=f"m-{contact.pk}-{name}-{n}",
                                type=EventType.TRACK, name=name, user_id=contact.external_id, timestamp=now,
                                received_at=now)


def test_processed_events_move_contacts_into_event_history_segments(personas, django_capture_on_commit_callbacks,
                                                                    heard):
    definition = {"event": "Purchase Completed", "op": "at_least", "count": 2}
    segment = _segment(personas, definition, django_capture_on_commit_callbacks, name="Repeat buyers")
    contact = Contact.objects.create(workspace=personas.acme, email="e@example.test", external_id="u-1")
    _event(personas, contact, "Purchase Completed", 1)
    with django_capture_on_commit_callbacks(execute=True):
        events_process(workspace=personas.acme)
    assert _members(segment) == set()
    _event(personas, contact, "Purchase Completed", 2)
    with django_capture_on_commit_callbacks(execute=True):
        events_process(workspace=personas.acme)
    assert _members(segment) == {contact.pk}
    assert heard[-1] == (segment.pk, [contact.pk], [])


def test_time_based_conditions_are_caught_by_the_periodic_refresh(personas, django_capture_on_commit_callbacks):
    definition = {"field": "created_at", "op": "within_last", "days": 30}
    contact = Contact.objects.create(workspace=personas.acme, email="new@example.test")
    segment = _segment(personas, definition, django_capture_on_commit_callbacks, name="New")
    assert _members(segment) == {contact.pk}
    with clock.frozen(clock.now() + dt.timedelta(days=31)), django_capture_on_commit_callbacks(execute=True):
        membership.segments_membership_refresh()
    assert _members(segment) == set()


def test_a_definition_change_rebuilds_the_members(personas, django_capture_on_commit_callbacks):
    lead = Contact.objects.create(workspace=personas.acme, email="l@example.test")
    segment = _segment(personas, CUSTOMERS, django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        segment_update(segment=segment, actor=personas.alice,
                       data={"definition": {"field": "lifecycle_stage", "op": "eq", "value": "lead"}})
    assert _members(segment) == {lead.pk}


def test_a_rolled_back_write_changes_nothing_and_announces_nothing(personas, django_capture_on_commit_callbacks,
                                                                    heard):
    segment = _segment(personas, CUSTOMERS, django_capture_on_commit_callbacks)
    contact = Contact.objects.create(workspace=personas.acme, email="r@example.test")
    heard.clear()
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(RuntimeError), transaction.atomic():
        contact_services.contact_update(contact=contact, actor=personas.alice, data={"lifecycle_stage": "customer"})
        raise RuntimeError("roll back")
    assert _members(segment) == set() and heard == []
    assert not SegmentMembershipDirty.objects.exists()


def test_a_lost_doorbell_is_rung_again_by_the_sweep(personas, django_capture_on_commit_callbacks):
    segment = _segment(personas, CUSTOMERS, django_capture_on_commit_callbacks)
    contact = Contact.objects.create(workspace=personas.acme, email="s@example.test", lifecycle_stage="customer")
    # The write committed and left its dirty row, but the job never ran (its doorbell was lost).
    SegmentMembershipDirty.objects.create(workspace=personas.acme, contact_id=contact.pk,
                                          marked_at=clock.now() - dt.timedelta(minutes=5))
    with django_capture_on_commit_callbacks(execute=True):
        assert membership.segments_membership_sweep() == 1
    assert _members(segment) == {contact.pk}
    assert not SegmentMembershipDirty.objects.exists()


def test_refreshing_twice_reports_each_entry_once(personas, django_capture_on_commit_callbacks):
    contact = Contact.objects.create(workspace=personas.acme, email="t@example.test", lifecycle_stage="customer")
    segment = _segment(personas, CUSTOMERS, django_capture_on_commit_callbacks)
    SegmentMembership.objects.filter(segment=segment).delete()
    first = membership.segment_membership_update(workspace=personas.acme, contact_ids=[contact.pk])
    second = membership.segment_membership_update(workspace=personas.acme, contact_ids=[contact.pk])
    assert [c.entered for c in first] == [[contact.pk]]
    assert [c.entered for c in second] == [[]]


def test_another_workspace_is_never_touched(personas, django_capture_on_commit_callbacks):
    _segment(personas, CUSTOMERS, django_capture_on_commit_callbacks)
    theirs = Contact.objects.create(workspace=personas.mallory_inc, email="m@example.test", lifecycle_stage="customer")
    with django_capture_on_commit_callbacks(execute=True):
        membership.segment_membership_update(workspace=personas.acme, contact_ids=[theirs.pk])
        membership.segments_membership_refresh()
    assert not SegmentMembership.objects.filter(contact=theirs).exists()


def test_a_failing_subscriber_does_not_silence_the_others(personas, django_capture_on_commit_callbacks, heard):
    def broken(**kwargs: Any) -> None:
        raise RuntimeError("subscriber bug")

    segment_membership_changed_subscribe(broken)
    try:
        Contact.objects.create(workspace=personas.acme, email="x@example.test", lifecycle_stage="customer")
        with pytest.raises(RuntimeError, match="subscriber bug"), django_capture_on_commit_callbacks(execute=True):
            segment_create(workspace=personas.acme, actor=personas.alice, name="Customers", definition=CUSTOMERS)
    finally:
        segment_membership_changed_unsubscribe(broken)
    assert len(heard) == 1 and heard[0][1] != []
    assert SegmentMembership.objects.count() == 1
