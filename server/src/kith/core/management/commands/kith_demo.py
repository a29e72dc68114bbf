"""``manage.py kith_demo``: fill the database with a demo workspace; safe to run any number of times."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from kith.accounts import demo as accounts_demo
from kith.campaigns import demo as campaigns_demo
from kith.contacts import demo as contacts_demo
from kith.core.demo import DemoStep, demo_run
from kith.deals import demo as deals_demo
from kith.drips import demo as drips_demo
from kith.tasks import demo as tasks_demo

# Each app appends its steps after the ones it depends on; accounts comes first (it makes the owner and workspace).
# Contacts before deals: the deals step links its deals to the demo contacts.
# Tasks after deals: demo tasks link to demo contacts and deals.
DEMO_STEPS: tuple[DemoStep, ...] = (*accounts_demo.DEMO_STEPS, *contacts_demo.DEMO_STEPS, *deals_demo.DEMO_STEPS,
                                    *tasks_demo.DEMO_STEPS)
# Drips after contacts: the demo sequence enrolls some demo contacts.
DEMO_STEPS = (*DEMO_STEPS, *drips_demo.DEMO_STEPS)
# Campaigns after contacts: the demo newsletter's audience is the demo contacts.
DEMO_STEPS = (*DEMO_STEPS, *campaigns_demo.DEMO_STEPS)


class Command(BaseCommand):
    help = "Create (or complete) the demo workspace 'Demo Co' and print the demo login. Idempotent."

    def handle(self, *args: Any, **options: Any) -> None:
        self.verbosity = options["verbosity"]
        context = demo_run(steps=DEMO_STEPS, say=self._say)
        if self.verbosity >= 1:
            self.stdout.write(self.style.SUCCESS("Demo data is ready."))
            for line in context.summary:
                self.stdout.write(f"  {line}")

    def _say(self, line: str) -> None:
        if self.verbosity >= 1:
            self.stdout.write(f"  {line}")
