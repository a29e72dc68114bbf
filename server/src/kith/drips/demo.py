"""Demo data for drips: an active "Welcome series" (day 0, 2 and 5 at 09:00 local) enrolling on ``Signed Up``, with
a few demo contacts enrolled across timezones so the enrollments and the per-step table have something to show.
Written through the services; safe to run again (an existing sequence of that name is left alone)."""

from __future__ import annotations

from kith.contacts.models import Contact
from kith.core.demo import DemoContext, DemoStep
from kith.drips import engine, services
from kith.drips.models import Sequence
from kith.messaging.models import Template
from kith.messaging.services import template_create

NAME = "Welcome series"
STEPS = (
    (0, "Welcome to Demo Co", "Welcome aboard, {{ contact.first_name | default('friend') }}!"),
    (2, "Three tips for your first week", "Here are three things our best customers do in week one."),
    (5, "Your onboarding call", "Book a 20-minute call and we'll set things up with you."),
)
ZONES = ("Europe/Berlin", "America/New_York", "Asia/Kolkata", "Australia/Sydney", "")


def drips_demo(context: DemoContext) -> None:
    owner, workspace = context.require_workspace()
    if Sequence.objects.for_workspace(workspace).filter(name=NAME).exists():
        context.say("Drips: already there.")
        return
    sequence = services.sequence_create(workspace=workspace, actor=owner, data={
        "name": NAME, "enroll_event": "Signed Up", "send_time": "09:00", "exit_events": ["Subscription Started"]})
    for day, subject, line in STEPS:
        template = Template.objects.for_workspace(workspace).filter(name=f"Drip: {subject}").first() or template_create(
            workspace=workspace, actor=owner, name=f"Drip: {subject}",
            content={"subject": subject, "html": f"<p>{line}</p><p><a href=\"{{{{ unsubscribe_url }}}}\">Unsubscribe</a></p>"})
        services.step_create(sequence=sequence, actor=owner, data={"template": template.pk, "day_offset": day})
    services.sequence_activate(sequence=sequence, actor=owner)
    contacts = list(Contact.objects.for_workspace(workspace).exclude(email="").order_by("id")[:len(ZONES) * 2])
    for index, contact in enumerate(contacts):
        zone = ZONES[index % len(ZONES)]
        if zone and not contact.timezone:
            Contact.objects.filter(pk=contact.pk).update(timezone=zone)
    enrolled = engine.drip_enroll(sequence=sequence, contact_ids=[c.pk for c in contacts])
    context.say(f"Drips: “{NAME}” is active with {len(STEPS)} steps and {len(enrolled)} enrolled contacts.")


DEMO_STEPS: tuple[DemoStep, ...] = (drips_demo,)
