"""Demo data for contacts: about sixty companies and five hundred contacts with tags, lifecycle stages and a few
notes. Everything goes through the bulk services (``company_bulk_write``, ``contact_bulk_upsert``,
``activity_log_many``: a handful of statements, so ``make run`` starts fast); it runs before the deals step, which
links deals to these contacts."""

from __future__ import annotations

import datetime as dt
import random

from kith.accounts.models import Membership
from kith.contacts.models import (
    Company,
    CompanySize,
    Contact,
    LeadStatus,
    LifecycleStage,
)
from kith.contacts.services import (
    MAX_BULK_ITEMS,
    company_bulk_write,
    contact_bulk_upsert,
)
from kith.core import clock
from kith.core.demo import DemoContext, DemoStep
from kith.timeline.models import ActivityKind
from kith.timeline.services import ManualEntry, activity_log_many

COMPANY_COUNT = 60
CONTACT_COUNT = 500
NOTE_COUNT = 40
FIRST_NAMES = ("Ada", "Grace", "Alan", "Linus", "Margaret", "Ken", "Barbara", "Dennis", "Frances", "Edsger",
               "Radia", "John", "Katherine", "Tim", "Hedy", "Guido", "Sophie", "Niklaus", "Joan", "Bjarne",
               "Carla", "Diego", "Amara", "Yuki", "Priya", "Omar", "Lena", "Mateo", "Ines", "Kwame")
LAST_NAMES = ("Lovelace", "Hopper", "Turing", "Torvalds", "Hamilton", "Thompson", "Liskov", "Ritchie", "Allen",
              "Dijkstra", "Perlman", "McCarthy", "Johnson", "Berners-Lee", "Lamarr", "van Rossum", "Wilson", "Wirth",
              "Clarke", "Stroustrup", "Mendes", "Okafor", "Tanaka", "Sharma", "Haddad", "Novak", "Rossi", "Silva")
NAME_PARTS = ("Acme", "Globex", "Initech", "Umbrella", "Hooli", "Stark", "Wayne", "Wonka", "Soylent", "Tyrell",
              "Cyberdyne", "Aperture", "Vandelay", "Pied Piper", "Dunder", "Massive", "Oscorp", "Nakatomi", "Gringotts",
              "Monarch")
NAME_SUFFIXES = ("Labs", "Systems", "Logistics")
INDUSTRIES = ("Software", "Retail", "Logistics", "Manufacturing", "Healthcare", "Finance", "Media", "Energy")
TAGS = ("newsletter", "vip", "webinar-2025", "trial", "partner", "churn-risk", "event-lead", "referral")
NOTES = ("Intro call went well; wants pricing for the team plan.",
         "Asked about SSO and data residency in the EU.",
         "Met at the trade fair — follow up after the holidays.",
         "Evaluating two competitors; decision expected next month.")


def contacts_demo(context: DemoContext) -> None:
    owner, workspace = context.require_workspace()
    if Company.objects.for_workspace(workspace).filter(name=f"{NAME_PARTS[0]} {NAME_SUFFIXES[0]}").exists():
        context.say("Contacts: already there.")
        return
    rng = random.Random(9134)  # fixed seed: the same demo address book every time
    member_ids = list(Membership.objects.filter(workspace=workspace).values_list("user_id", flat=True))
    company_items = []
    for number in range(COMPANY_COUNT):
        part, suffix = NAME_PARTS[number % len(NAME_PARTS)], NAME_SUFFIXES[number // len(NAME_PARTS)]
        company_items.append({
            "name": f"{part} {suffix}", "domain": f"{part.lower().replace(' ', '')}-{suffix.lower()}.example",
            "industry": rng.choice(INDUSTRIES), "size": rng.choice(CompanySize.values), "owner": rng.choice(member_ids)})
    company_ids = [r.id for r in company_bulk_write(workspace=workspace, actor=owner, items=company_items)]
    companies = list(Company.objects.filter(pk__in=company_ids).order_by("pk"))
    now = clock.now()
    items = []
    for number in range(CONTACT_COUNT):
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        company = companies[number % len(companies)]
        items.append({
            "first_name": first, "last_name": last,
            "email": f"{first.lower()}.{last.lower().replace(' ', '')}{number}@{company.domain}",
            "company": company.pk, "owner": rng.choice(member_ids),
            "lifecycle_stage": rng.choice(LifecycleStage.values), "lead_status": rng.choice(LeadStatus.values),
            "tags": rng.sample(TAGS, k=rng.choice((0, 1, 1, 2, 3))),
        })
    created = []
    for start in range(0, len(items), MAX_BULK_ITEMS):
        results = contact_bulk_upsert(workspace=workspace, actor=owner, items=items[start: start + MAX_BULK_ITEMS])
        created += [result.id for result in results if result.id is not None]
    contacts = list(Contact.objects.filter(pk__in=created[:NOTE_COUNT]).select_related("company").order_by("pk"))
    activity_log_many(workspace=workspace, actor=owner, entries=[
        ManualEntry(kind=rng.choice((ActivityKind.NOTE, ActivityKind.CALL)),
                    body=f"<p>{NOTES[number % len(NOTES)]}</p>", contact=contact, company=contact.company,
                    occurred_at=now - dt.timedelta(hours=rng.randrange(1, 24 * 60)))
        for number, contact in enumerate(contacts)])
    context.say(f"Contacts: {len(companies)} companies, {len(created)} contacts, {len(contacts)} notes.")
    context.summary.append(f"Contacts: /contacts/ ({len(created)} demo contacts)")


DEMO_STEPS: tuple[DemoStep, ...] = (contacts_demo,)
