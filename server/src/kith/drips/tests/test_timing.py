"""Drip timing with a controllable clock across timezones and DST changes: every step is queued exactly at its
local send time (asserted in UTC), never a second early, and stays at 09:00 local across a DST switch."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from kith.drips import engine, timing
from kith.drips.models import Enrollment, EnrollmentState
from kith.drips.tests.helpers import (
    at,
    contact_make,
    drip_messages,
    enroll_at,
    run_at,
    sequence_make,
)

pytestmark = pytest.mark.django_db

# Enrolled the day before each zone's DST switch (2027: EU 28 March, US 14 March, Sydney back on 4 April), steps on
# days 0, 1 and 2 at 09:00 local. Kolkata has no DST and is enrolled after 09:00, so its day 0 is the next day.
CASES = {
    "Europe/Berlin": (at(2027, 3, 27, 6, 0), [at(2027, 3, 27, 8, 0), at(2027, 3, 28, 7, 0), at(2027, 3, 29, 7, 0)]),
    "America/New_York": (at(2027, 3, 13, 12, 0),
                         [at(2027, 3, 13, 14, 0), at(2027, 3, 14, 13, 0), at(2027, 3, 15, 13, 0)]),
    "Asia/Kolkata": (at(2027, 3, 27, 6, 0), [at(2027, 3, 28, 3, 30), at(2027, 3, 29, 3, 30), at(2027, 3, 30, 3, 30)]),
    # Enrolled at exactly 09:00 AEDT: day 0 is that very slot (nothing is ever due before enrollment).
    "Australia/Sydney": (at(2027, 4, 2, 22, 0), [at(2027, 4, 2, 22, 0), at(2027, 4, 3, 23, 0), at(2027, 4, 4, 23, 0)]),
}


@pytest.mark.parametrize("zone", sorted(CASES))
def test_each_step_goes_out_at_nine_local_across_the_dst_switch(personas, zone):
    enrolled_at, expected = CASES[zone]
    sequence = sequence_make(personas, days=(0, 1, 2))
    contact = contact_make(personas, "dst@example.test", timezone=zone)
    enrollment = enroll_at(sequence, contact, enrolled_at)
    assert enrollment.wake_at == expected[0]

    for index, due in enumerate(expected):
        run_at(due - dt.timedelta(seconds=1))
        assert len(drip_messages(contact)) == index, f"step {index} went out early"
        run_at(due)
        messages = drip_messages(contact)
        assert len(messages) == index + 1
        assert messages[-1].queued_at == due
        assert messages[-1].source_id == str(sequence.steps.all()[index].pk)
        assert messages[-1].queued_at.astimezone(ZoneInfo(zone)).time() == dt.time(9, 0)
    enrollment.refresh_from_db()
    assert enrollment.state == EnrollmentState.COMPLETED and enrollment.wake_at is None


def test_a_contact_without_a_timezone_uses_the_workspaces(personas):
    personas.acme.timezone = "America/New_York"
    personas.acme.save(update_fields=["timezone"])
    sequence = sequence_make(personas, days=(0,))
    unknown = contact_make(personas, "none@example.test")
    bogus = contact_make(personas, "bogus@example.test", timezone="Mars/Olympus_Mons")
    assert enroll_at(sequence, unknown, at(2027, 1, 5, 12, 0)).wake_at == at(2027, 1, 5, 14, 0)
    assert enroll_at(sequence, bogus, at(2027, 1, 5, 12, 0)).wake_at == at(2027, 1, 5, 14, 0)


def test_a_send_time_in_the_spring_gap_goes_out_after_the_gap(personas):
    # 02:30 does not exist in Berlin on 28 March 2027: read with the pre-jump offset, it is 03:30 CEST (01:30 UTC).
    sequence = sequence_make(personas, days=(0, 1), send_time="02:30")
    contact = contact_make(personas, "gap@example.test", timezone="Europe/Berlin")
    enroll_at(sequence, contact, at(2027, 3, 26, 12, 0))  # after 02:30 local, so day 0 is 27 March
    assert run_at(at(2027, 3, 27, 1, 30)) == 1   # 02:30 CET
    assert run_at(at(2027, 3, 28, 1, 29, 59)) == 0
    assert run_at(at(2027, 3, 28, 1, 30)) == 1
    assert [m.queued_at for m in drip_messages(contact)] == [at(2027, 3, 27, 1, 30), at(2027, 3, 28, 1, 30)]


def test_a_send_time_in_the_autumn_overlap_goes_out_at_its_first_occurrence(personas):
    # 02:30 happens twice in Berlin on 31 October 2027; the first (CEST, 00:30 UTC) is used.
    zone = ZoneInfo("Europe/Berlin")
    assert timing.local_to_utc(dt.date(2027, 10, 31), dt.time(2, 30), zone) == at(2027, 10, 31, 0, 30)
    sequence = sequence_make(personas, days=(0, 1), send_time="02:30")
    contact = contact_make(personas, "overlap@example.test", timezone="Europe/Berlin")
    enrollment = enroll_at(sequence, contact, at(2027, 10, 29, 12, 0))  # day 0 is 30 October
    assert enrollment.wake_at == at(2027, 10, 30, 0, 30)  # 02:30 CEST
    run_at(at(2027, 10, 30, 0, 30))
    enrollment.refresh_from_db()
    assert enrollment.wake_at == at(2027, 10, 31, 0, 30)


def test_the_scheduler_down_for_three_days_sends_every_due_step_once_in_order_and_none_early(personas):
    sequence = sequence_make(personas, days=(0, 1, 2, 6))
    contact = contact_make(personas, "outage@example.test", timezone="Europe/Berlin")
    enroll_at(sequence, contact, at(2027, 1, 4, 6, 0))  # day 0 = 4 Jan 09:00 CET = 08:00 UTC
    back = at(2027, 1, 7, 8, 0, 30)  # the scheduler comes back 3 days later
    assert run_at(back) == 3
    messages = drip_messages(contact)
    steps = list(sequence.steps.order_by("position"))
    assert [m.source_id for m in messages] == [str(s.pk) for s in steps[:3]]
    assert all(m.queued_at == back for m in messages)
    # The day-6 step is not due yet and does not go out early; running again sends nothing twice.
    assert run_at(back) == 0
    assert run_at(at(2027, 1, 10, 7, 59, 59)) == 0
    assert len(drip_messages(contact)) == 3
    assert run_at(at(2027, 1, 10, 8, 0)) == 1
    assert len(drip_messages(contact)) == 4
    assert Enrollment.objects.get(contact=contact).state == EnrollmentState.COMPLETED


def test_a_runner_that_died_after_its_claim_delays_the_step_and_loses_nothing(personas):
    sequence = sequence_make(personas, days=(0,))
    contact = contact_make(personas, "crash@example.test", timezone="UTC")
    enrollment = enroll_at(sequence, contact, at(2027, 2, 1, 6, 0))
    due = enrollment.wake_at
    # A runner claimed it and died before sending: wake_at is now its lease end.
    assert engine._claim(enrollment.pk, due, due) == due + engine.CLAIM_LEASE
    assert run_at(due + dt.timedelta(minutes=1)) == 0
    assert run_at(due + engine.CLAIM_LEASE) == 1
    assert len(drip_messages(contact)) == 1
