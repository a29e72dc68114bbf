"""Enrollment (by event, by entering a segment), exits (unsubscribe, suppression, exit event, goal) and sending
each step once even with two runners at the same time."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from django.db import connection, connections

from kith.contacts import services as contact_services
from kith.core import clock
from kith.drips import engine, services
from kith.drips.models import Enrollment, EnrollmentState, ExitReason
from kith.drips.tests.helpers import (
    at,
    contact_make,
    drip_messages,
    enroll_at,
    run_at,
    sequence_make,
)
from kith.events.models import Event, EventType
from kith.events.services.processing import events_process
from kith.messaging.models import Message, SourceType
from kith.messaging.services import suppression_add
from kith.segments.models import SegmentMembership
from kith.segments.services import segment_create

pytestmark = pytest.mark.django_db


def _event(personas: Any, contact: Any, name: str) -> None:
    now = clock.now()
    Event.objects.create(workspace=personas.acme, message_id=f"{contact.pk}-{name}-{now.timestamp()}",
                         type=EventType.TRACK, name=name, user_id=contact.external_id, timestamp=now, received_at=now)


def test_the_enrolling_event_enrolls_and_an_exit_event_stops_the_sequence(personas, django_capture_on_commit_callbacks):
    sequence = sequence_make(personas, days=(0, 2), exit_events=["Subscription Started"])
    contact = contact_make(personas, "e@example.test", timezone="UTC", external_id="u-1")
    with clock.frozen(at(2027, 5, 3, 6, 0)):
        _event(personas, contact, "Signed Up")
        events_process(workspace=personas.acme)
    enrollment = Enrollment.objects.get(sequence=sequence, contact=contact)
    assert enrollment.wake_at == at(2027, 5, 3, 9, 0)
    run_at(at(2027, 5, 3, 9, 0))
    assert len(drip_messages(contact)) == 1

    with clock.frozen(at(2027, 5, 4, 10, 0)):
        _event(personas, contact, "Subscription Started")
        events_process(workspace=personas.acme)
    enrollment.refresh_from_db()
    assert (enrollment.state, enrollment.exit_reason) == (EnrollmentState.EXITED, ExitReason.EXIT_EVENT)
    run_at(at(2027, 5, 10, 9, 0))
    assert len(drip_messages(contact)) == 1


def test_doing_the_enrolling_event_twice_enrolls_once(personas):
    sequence = sequence_make(personas, days=(0,))
    contact = contact_make(personas, "twice@example.test", external_id="u-2")
    for _ in range(2):
        _event(personas, contact, "Signed Up")
        events_process(workspace=personas.acme)
    assert Enrollment.objects.filter(sequence=sequence, contact=contact).count() == 1


def test_unsubscribing_mid_sequence_stops_it(personas, django_capture_on_commit_callbacks):
    sequence = sequence_make(personas, days=(0, 2, 5))
    contact = contact_make(personas, "u@example.test", timezone="UTC")
    enroll_at(sequence, contact, at(2027, 5, 3, 6, 0))
    run_at(at(2027, 5, 3, 9, 0))
    assert len(drip_messages(contact)) == 1
    with django_capture_on_commit_callbacks(execute=True):
        contact_services.contact_update(contact=contact, actor=None, data={"email_consent": "opted_out"})
    enrollment = Enrollment.objects.get(contact=contact)
    assert (enrollment.state, enrollment.exit_reason) == (EnrollmentState.EXITED, ExitReason.UNSUBSCRIBED)
    run_at(at(2027, 5, 20, 9, 0))
    assert len(drip_messages(contact)) == 1


def test_a_suppressed_address_gets_no_further_step(personas):
    sequence = sequence_make(personas, days=(0, 2))
    contact = contact_make(personas, "s@example.test", timezone="UTC")
    enroll_at(sequence, contact, at(2027, 5, 3, 6, 0))
    run_at(at(2027, 5, 3, 9, 0))
    suppression_add(workspace=personas.acme, address="S@example.test", reason="hard_bounce")
    run_at(at(2027, 5, 5, 9, 0))
    assert len(drip_messages(contact)) == 1
    assert Enrollment.objects.get(contact=contact).exit_reason == ExitReason.UNSUBSCRIBED


def test_an_unsubscribed_contact_is_never_enrolled(personas):
    sequence = sequence_make(personas, days=(0,))
    contact = contact_make(personas, "no@example.test", email_consent="opted_out")
    assert engine.drip_enroll(sequence=sequence, contact_ids=[contact.pk]) == []


def test_entering_the_audience_segment_enrolls_and_entering_the_goal_exits(personas, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        audience = segment_create(workspace=personas.acme, actor=personas.alice, name="Trials",
                                  definition={"field": "lifecycle_stage", "op": "eq", "value": "lead"})
        goal = segment_create(workspace=personas.acme, actor=personas.alice, name="Customers",
                              definition={"field": "lifecycle_stage", "op": "eq", "value": "customer"})
        already = contact_make(personas, "old@example.test", lifecycle_stage="lead")
    with django_capture_on_commit_callbacks(execute=True):
        contact_services.contact_add_tags(contact=already, actor=None, names=["x"])  # membership rows exist now
    sequence = sequence_make(personas, days=(0, 3), enroll_event="", segment=audience.pk, goal_segment=goal.pk)
    with django_capture_on_commit_callbacks(execute=True):
        contact = contact_services.contact_create(workspace=personas.acme, actor=None,
                                                  data={"email": "new@example.test", "lifecycle_stage": "lead"})
    assert Enrollment.objects.filter(sequence=sequence, contact=contact, state=EnrollmentState.ACTIVE).exists()
    # Members from before the switch-on are not enrolled (unless asked for at activation).
    assert not Enrollment.objects.filter(contact=already).exists()

    with django_capture_on_commit_callbacks(execute=True):
        contact_services.contact_update(contact=contact, actor=None, data={"lifecycle_stage": "customer"})
    enrollment = Enrollment.objects.get(sequence=sequence, contact=contact)
    assert (enrollment.state, enrollment.exit_reason) == (EnrollmentState.EXITED, ExitReason.GOAL)


def test_activation_can_enroll_the_current_members(personas, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        audience = segment_create(workspace=personas.acme, actor=personas.alice, name="Leads",
                                  definition={"field": "lifecycle_stage", "op": "eq", "value": "lead"})
    members = [contact_make(personas, f"m{i}@example.test") for i in range(3)]
    sequence = sequence_make(personas, days=(0,), enroll_event="", segment=audience.pk, active=False)
    with django_capture_on_commit_callbacks(execute=True):
        services.sequence_activate(sequence=sequence, actor=personas.alice, enroll_current_members=True)
    assert set(Enrollment.objects.values_list("contact_id", flat=True)) == {m.pk for m in members}


def test_the_reconcile_job_enrolls_members_the_hook_missed(personas, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        audience = segment_create(workspace=personas.acme, actor=personas.alice, name="Leads",
                                  definition={"field": "lifecycle_stage", "op": "eq", "value": "lead"})
    sequence = sequence_make(personas, days=(0,), enroll_event="", segment=audience.pk)
    contact = contact_make(personas, "missed@example.test")
    # The membership row committed but the process died before the after-commit hook ran.
    SegmentMembership.objects.create(workspace=personas.acme, segment=audience, contact=contact,
                                     entered_at=clock.now())
    assert engine.drips_enroll_reconcile() == 1
    assert Enrollment.objects.filter(sequence=sequence, contact=contact).exists()


def test_an_inactive_sequence_sends_nothing_until_switched_on_again(personas):
    sequence = sequence_make(personas, days=(0,))
    contact = contact_make(personas, "p@example.test", timezone="UTC")
    enroll_at(sequence, contact, at(2027, 5, 3, 6, 0))
    services.sequence_deactivate(sequence=sequence, actor=personas.alice)
    assert run_at(at(2027, 5, 3, 9, 0)) == 0
    services.sequence_activate(sequence=sequence, actor=personas.alice)
    assert run_at(at(2027, 5, 3, 9, 5)) == 1


def test_the_ledger_refuses_a_second_message_for_the_same_step(personas):
    sequence = sequence_make(personas, days=(0,))
    contact = contact_make(personas, "dup@example.test", timezone="UTC")
    enrollment = enroll_at(sequence, contact, at(2027, 5, 3, 6, 0))
    run_at(at(2027, 5, 3, 9, 0))
    # Even if the enrollment were put back on its step (a restore, a bug), the step is not sent again.
    Enrollment.objects.filter(pk=enrollment.pk).update(state="active", next_step=sequence.steps.first(),
                                                       wake_at=at(2027, 5, 3, 9, 0))
    run_at(at(2027, 5, 3, 9, 1))
    assert len(drip_messages(contact)) == 1


@pytest.mark.skipif(connection.vendor != "postgresql", reason="concurrent writers need PostgreSQL's row locks")
@pytest.mark.django_db(transaction=True)
def test_two_concurrent_runners_never_send_a_step_twice(personas):
    sequence = sequence_make(personas, days=(0, 0, 1))
    contacts = [contact_make(personas, f"c{i}@example.test", timezone="Europe/Berlin") for i in range(40)]
    for contact in contacts:
        enroll_at(sequence, contact, at(2027, 3, 27, 6, 0))
    barrier = threading.Barrier(2)
    errors: list[Exception] = []

    def runner() -> None:
        try:
            barrier.wait()
            run_at(at(2027, 3, 29, 12, 0))
        except Exception as exc:  # noqa: BLE001 — collected and asserted below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=runner) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    sent = Message.objects.filter(source_type=SourceType.DRIP_STEP)
    assert sent.count() == 40 * 3
    assert sent.values("source_id", "contact_id").distinct().count() == 40 * 3
    assert not Enrollment.objects.exclude(state=EnrollmentState.COMPLETED).exists()


def test_editing_a_live_sequence_re_times_the_contacts_waiting(personas):
    sequence = sequence_make(personas, days=(0, 2, 5))
    contact = contact_make(personas, "edit@example.test", timezone="America/New_York")
    enrollment = enroll_at(sequence, contact, at(2027, 1, 4, 12, 0))  # day 0 = 4 Jan 09:00 EST = 14:00 UTC
    run_at(at(2027, 1, 4, 14, 0))
    enrollment.refresh_from_db()
    first, second, third = sequence.steps.order_by("position")
    assert (enrollment.next_step_id, enrollment.wake_at) == (second.pk, at(2027, 1, 6, 14, 0))

    services.step_update(step=second, actor=personas.alice, data={"day_offset": 3})
    enrollment.refresh_from_db()
    assert enrollment.wake_at == at(2027, 1, 7, 14, 0)

    services.sequence_update(sequence=sequence, actor=personas.alice, data={"send_time": "07:15"})
    enrollment.refresh_from_db()
    assert enrollment.wake_at == at(2027, 1, 7, 12, 15)

    services.step_delete(step=second, actor=personas.alice)
    enrollment.refresh_from_db()
    assert (enrollment.next_step_id, enrollment.wake_at) == (third.pk, at(2027, 1, 9, 12, 15))
    run_at(at(2027, 1, 9, 12, 15))
    assert [m.source_id for m in drip_messages(contact)] == [str(first.pk), str(third.pk)]


def test_with_a_segment_and_an_event_the_event_enrolls_only_segment_members(personas,
                                                                          django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        english = segment_create(workspace=personas.acme, actor=personas.alice, name="English",
                                 definition="language=en")
    sequence = sequence_make(personas, days=(0,), segment=english.pk)
    member = contact_make(personas, "en@example.test", locale="en", external_id="u-en")
    outsider = contact_make(personas, "de@example.test", locale="de", external_id="u-de")
    for contact in (member, outsider):
        _event(personas, contact, "Signed Up")
    events_process(workspace=personas.acme)
    assert list(Enrollment.objects.filter(sequence=sequence).values_list("contact_id", flat=True)) == [member.pk]
