"""Builders for drip tests: a sequence with steps on given days, contacts in given timezones."""

from __future__ import annotations

import datetime as dt
from typing import Any

from kith.contacts.models import Contact
from kith.core import clock
from kith.drips import engine, services
from kith.drips.models import Enrollment, Sequence
from kith.messaging.models import Message, SourceType
from kith.messaging.tests.factories import template_make

UTC = dt.UTC


def at(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=UTC)


def sequence_make(personas: Any, *, days: tuple[int, ...] = (0, 2, 5), send_time: str = "09:00",
                  name: str = "Welcome drip", active: bool = True, **data: Any) -> Sequence:
    sequence = services.sequence_create(workspace=personas.acme, actor=personas.alice,
                                        data={"name": name, "send_time": send_time,
                                              "enroll_event": data.pop("enroll_event", "Signed Up"), **data})
    for index, day in enumerate(days):
        template = template_make(workspace=personas.acme, name=f"{name} {index}",
                                 subject=f"Step {index}")
        services.step_create(sequence=sequence, actor=personas.alice, data={"template": template.pk, "day_offset": day})
    if active:
        services.sequence_activate(sequence=sequence, actor=personas.alice)
    sequence.refresh_from_db()
    return sequence


def contact_make(personas: Any, email: str, timezone: str = "", **fields: Any) -> Contact:
    return Contact.objects.create(workspace=personas.acme, email=email, timezone=timezone, **fields)


def enroll_at(sequence: Sequence, contact: Contact, moment: dt.datetime) -> Enrollment:
    with clock.frozen(moment):
        assert engine.drip_enroll(sequence=sequence, contact_ids=[contact.pk]) == [contact.pk]
    return Enrollment.objects.get(sequence=sequence, contact=contact)


def run_at(moment: dt.datetime) -> int:
    with clock.frozen(moment):
        return engine.drips_due_process()


def drip_messages(contact: Contact) -> list[Message]:
    return list(Message.objects.filter(contact=contact, source_type=SourceType.DRIP_STEP).order_by("id"))
