"""Demo data for deals: two pipelines with about five hundred deals spread over their stages (most in the early
ones, some won and lost), written through ``deal_bulk_write`` — the API's bulk path, so stage history, timeline and
audit rows exist as in real use, in a handful of statements. Deals link to the demo contacts when there are any."""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal

from kith.accounts.models import Membership
from kith.contacts.models import Contact
from kith.core import clock
from kith.core.demo import DemoContext
from kith.deals.models import Pipeline, StageKind
from kith.deals.services import StageSpec, deal_bulk_write, pipeline_create

DEMO_PIPELINES = ("Sales", "Partnerships")
PARTNER_STAGES = (StageSpec("Intro", 10), StageSpec("Pilot", 40), StageSpec("Contract", 75),
                  StageSpec("Signed", 100, StageKind.WON), StageSpec("Dropped", 0, StageKind.LOST))
DEAL_WORDS = ("Renewal", "Expansion", "Pilot", "Rollout", "Upgrade", "Onboarding", "Licence", "Support plan")
ACCOUNTS = ("Globex", "Initech", "Umbrella", "Hooli", "Stark Industries", "Wayne Enterprises", "Wonka", "Soylent",
            "Tyrell", "Cyberdyne", "Aperture", "Vandelay")
DEALS_PER_PIPELINE = (300, 200)
LOST_REASONS = ("Chose a competitor", "No budget this year", "Went silent")


def deals_demo(context: DemoContext) -> None:
    owner, workspace = context.require_workspace()
    if Pipeline.objects.for_workspace(workspace).filter(name=DEMO_PIPELINES[0]).exists():
        context.say("Deals: already there.")
        return
    rng = random.Random(4217)  # fixed seed: the same demo board every time
    members = [m.user for m in Membership.objects.filter(workspace=workspace).select_related("user")]
    contacts = list(Contact.objects.for_workspace(workspace).order_by("id").values_list("id", "company_id"))
    today = clock.now().date()
    pipelines = [pipeline_create(workspace=workspace, actor=owner, name=DEMO_PIPELINES[0], is_default=True),
                 pipeline_create(workspace=workspace, actor=owner, name=DEMO_PIPELINES[1], stages=PARTNER_STAGES)]
    items = []
    for pipeline, count in zip(pipelines, DEALS_PER_PIPELINE, strict=True):
        stages = list(pipeline.stages.order_by("position"))
        for _ in range(count):
            contact_id, company_id = contacts[len(items) % len(contacts)] if contacts else (None, None)
            target = stages[min(int(rng.random() ** 1.3 * len(stages)), len(stages) - 1)]
            items.append({
                "name": f"{rng.choice(ACCOUNTS)} {rng.choice(DEAL_WORDS).lower()}", "pipeline": pipeline.pk,
                "stage": target.pk, "value": Decimal(rng.randrange(10, 400) * 250),
                "currency": rng.choice(("USD", "USD", "EUR")),
                "expected_close_date": today + dt.timedelta(days=rng.randrange(-20, 120)),
                "owner": rng.choice(members).pk, "contact": contact_id, "company": company_id,
                **({"lost_reason": rng.choice(LOST_REASONS)} if target.kind == StageKind.LOST else {}),
            })
    results = deal_bulk_write(workspace=workspace, actor=owner, items=items)
    failed = [r.errors for r in results if r.errors]
    if failed:
        raise ValueError(f"demo deals refused: {failed[:3]}")
    total = len(results)
    context.say(f"Deals: {len(pipelines)} pipelines, {total} deals.")
    context.summary.append(f"Deals board: /deals/ ({total} demo deals)")


DEMO_STEPS = (deals_demo,)
