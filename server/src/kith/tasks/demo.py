"""Demo data for tasks and the timeline: about 150 tasks (some overdue, some due today, some done, a few with a
reminder already due) across the team, and notes, calls and meetings on contacts and deals. Written through the
services, so audit rows, timeline entries and notifications exist as in real use. Runs after contacts and deals."""

from __future__ import annotations

import datetime as dt
import random

from kith.accounts.models import Membership, Role
from kith.contacts.models import Contact
from kith.core import clock
from kith.core.demo import DemoContext, DemoStep
from kith.deals.models import Deal
from kith.tasks.models import Task
from kith.tasks.reminders import reminders_send_due
from kith.tasks.selectors import day_bounds
from kith.tasks.services import task_write_many
from kith.timeline.models import ActivityKind
from kith.timeline.services import ManualEntry, activity_log_many

TASK_COUNT = 150
LOG_COUNT = 60
ACTIONS = ("Call", "E-mail", "Send the quote to", "Book a demo with", "Follow up with", "Check in with",
           "Send the contract to", "Ask for a referral from")
LOG_TEXTS = {
    ActivityKind.CALL: ("Discussed the rollout timeline; they need SSO first.", "Left a voicemail about renewal.",
                        "Walked through pricing; they will compare with their current tool."),
    ActivityKind.MEETING: ("Quarterly review: usage up 30%, two new teams interested.",
                           "On-site demo for the operations team; good questions on reporting."),
    ActivityKind.NOTE: ("Prefers e-mail over calls; reachable mornings.", "Budget approved for next quarter."),
}


def tasks_demo(context: DemoContext) -> None:
    owner, workspace = context.require_workspace()
    if Task.objects.for_workspace(workspace).exists():
        context.say("Tasks: already there.")
        return
    rng = random.Random(7301)  # fixed seed: the same demo to-do list every time
    writers = list(Membership.objects.filter(workspace=workspace).exclude(role=Role.VIEWER)
                   .values_list("user_id", flat=True).order_by("user_id"))
    contacts = list(Contact.objects.for_workspace(workspace).select_related("company").order_by("id")[:300])
    deals = list(Deal.objects.for_workspace(workspace).select_related("contact", "company").order_by("id"))
    now = clock.now()
    today, _ = day_bounds(workspace=workspace, now=now)
    items = [_task_item(number, rng, owner.pk, writers, contacts, deals, now, today) for number in range(TASK_COUNT)]
    results = task_write_many(workspace=workspace, actor=owner, items=items)
    logged = _log_activities(rng, owner, workspace, contacts, deals, now)
    reminded = reminders_send_due(now=now)
    context.say(f"Tasks: {sum(r.id is not None for r in results)} tasks, {reminded} reminders sent, "
                f"{logged} notes/calls/meetings.")
    context.summary.append("My tasks: /tasks/ (overdue, today, upcoming and done demo tasks)")


def _task_item(number: int, rng: random.Random, owner_id: int, writers: list[int], contacts: list[Contact],
               deals: list[Deal], now: dt.datetime, today: dt.datetime) -> dict:
    contact = contacts[number % len(contacts)] if contacts and number % 3 else None
    deal = deals[number % len(deals)] if deals and number % 5 == 0 else None
    bucket = number % 10  # 2 in 10 overdue, 2 due today, 4 upcoming, 2 done
    if bucket < 2:
        due = now - dt.timedelta(hours=rng.randrange(2, 24 * 10))
    elif bucket < 4:
        due = today + dt.timedelta(hours=rng.randrange(8, 19), minutes=rng.choice((0, 15, 30, 45)))
    else:
        due = now + dt.timedelta(days=rng.randrange(1, 30), hours=rng.randrange(0, 9))
    name = (contact.full_name or contact.email) if contact else (deal.name if deal else "the team")
    item: dict = {
        "title": f"{rng.choice(ACTIONS)} {name}"[:255],
        "due_at": due,
        # Most go to the demo login, so its My tasks page is full; the rest spread over the team.
        "assignee": owner_id if rng.random() < 0.6 or not writers else rng.choice(writers),
        "contact": contact.pk if contact else None,
        "company": contact.company_id if contact and contact.company_id else None,
        "deal": deal.pk if deal else None,
    }
    if bucket >= 8:
        item["status"] = "done"
    elif rng.random() < 0.3:
        item["reminder_at"] = due - dt.timedelta(hours=1)
    return item


def _log_activities(rng: random.Random, owner: object, workspace: object, contacts: list[Contact],
                    deals: list[Deal], now: dt.datetime) -> int:
    entries = []
    for number, contact in enumerate(contacts[40: 40 + LOG_COUNT]):
        kind = (ActivityKind.CALL, ActivityKind.MEETING, ActivityKind.NOTE)[number % 3]
        entries.append(ManualEntry(kind=kind, body=f"<p>{rng.choice(LOG_TEXTS[kind])}</p>", contact=contact,
                                   company=contact.company,
                                   occurred_at=now - dt.timedelta(hours=rng.randrange(1, 24 * 45))))
    for deal in deals[:10]:
        entries.append(ManualEntry(kind=ActivityKind.MEETING, title="Deal review",
                                   body=f"<p>{rng.choice(LOG_TEXTS[ActivityKind.MEETING])}</p>", deal=deal,
                                   contact=deal.contact, company=deal.company,
                                   occurred_at=now - dt.timedelta(hours=rng.randrange(1, 24 * 20))))
    return len(activity_log_many(workspace=workspace, actor=owner, entries=entries))


DEMO_STEPS: tuple[DemoStep, ...] = (tasks_demo,)
