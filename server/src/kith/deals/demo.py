"""Demo data for deals: two pipelines with about forty deals spread over their stages, written through the services
(so stage history, timeline and audit rows exist as in real use). Deals link to demo contacts when there are any."""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal

from kith.accounts.models import Membership
from kith.contacts.models import Contact
from kith.core import clock
from kith.core.demo import DemoContext
from kith.deals.models import Pipeline, StageKind
from kith.deals.services import (
    StageSpec,
    deal_create,
    deal_move_to_stage,
    pipeline_create,
)

DEMO_PIPELINES = ("Sales", "Partnerships")
PARTNER_STAGES = (StageSpec("Intro", 10), StageSpec("Pilot", 40), StageSpec("Contract", 75),
                  StageSpec("Signed", 100, StageKind.WON), StageSpec("Dropped", 0, StageKind.LOST))
DEAL_WORDS = ("Renewal", "Expansion", "Pilot", "Rollout", "Upgrade", "Onboarding", "Licence", "Support plan")
ACCOUNTS = ("Globex", "Initech", "Umbrella", "Hooli", "Stark Industries", "Wayne Enterprises", "Wonka", "Soylent",
            "Tyrell", "Cyberdyne", "Aperture", "Vandelay")
DEALS_PER_PIPELINE = (26, 14)


def deals_demo(context: DemoContext) -> None:
    owner, workspace = context.require_workspace()
    if Pipeline.objects.for_workspace(workspace).filter(name=DEMO_PIPELINES[0]).exists():
        context.say("Deals: already there.")
        return
    rng = random.Random(4217)  # fixed seed: the same demo board every time
    members = [m.user for m in Membership.objects.filter(workspace=workspace).select_related("user")]
    contacts = list(Contact.objects.for_workspace(workspace).select_related("company").order_by("id")[:40])
    today = clock.now().date()
    pipelines = [pipeline_create(workspace=workspace, actor=owner, name=DEMO_PIPELINES[0], is_default=True),
                 pipeline_create(workspace=workspace, actor=owner, name=DEMO_PIPELINES[1], stages=PARTNER_STAGES)]
    total = 0
    for pipeline, count in zip(pipelines, DEALS_PER_PIPELINE, strict=True):
        stages = list(pipeline.stages.order_by("position"))
        for number in range(count):
            contact = contacts[(total + number) % len(contacts)] if contacts else None
            deal = deal_create(
                workspace=workspace, actor=owner, pipeline=pipeline,
                name=f"{rng.choice(ACCOUNTS)} {rng.choice(DEAL_WORDS).lower()}",
                value=Decimal(rng.randrange(10, 400) * 250), currency=rng.choice(("USD", "USD", "EUR")),
                expected_close_date=today + dt.timedelta(days=rng.randrange(-20, 120)),
                owner=rng.choice(members), contact=contact, company=contact.company if contact else None)
            target = stages[min(int(rng.random() ** 1.3 * len(stages)), len(stages) - 1)]
            if target.pk != deal.stage_id:
                deal_move_to_stage(deal=deal, stage=target, actor=owner,
                                   lost_reason="Chose a competitor" if target.kind == StageKind.LOST else None)
        total += count
    context.say(f"Deals: {len(pipelines)} pipelines, {total} deals.")
    context.summary.append(f"Deals board: /deals/ ({total} demo deals)")


DEMO_STEPS = (deals_demo,)
