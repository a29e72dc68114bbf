"""``kith_demo``'s CRM data: ~500 contacts, companies, ~500 deals across two pipelines, notes and tasks — written in
a fixed, small number of statements (so ``make run`` starts fast), and not again on a second run."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.models import Count
from django.test.utils import CaptureQueriesContext

from kith.accounts import demo as accounts_demo
from kith.accounts.demo import DEMO_WORKSPACE_NAME
from kith.contacts import demo as contacts_demo
from kith.contacts.models import Company, Contact
from kith.core.demo import demo_run
from kith.deals import demo as deals_demo
from kith.deals.models import Deal, DealStageChange, DealStatus, Pipeline
from kith.tasks import demo as tasks_demo
from kith.tasks.models import Task
from kith.timeline.models import Activity, ActivityKind

pytestmark = pytest.mark.django_db


def test_the_crm_steps_are_set_based():
    """About a thousand CRM rows (with their audit, history and timeline rows) in a bounded number of statements,
    not one or more per row."""
    context = demo_run(steps=accounts_demo.DEMO_STEPS, say=lambda line: None)
    with CaptureQueriesContext(connection) as queries:
        for step in (*contacts_demo.DEMO_STEPS, *deals_demo.DEMO_STEPS, *tasks_demo.DEMO_STEPS):
            step(context)
    assert Deal.objects.count() == 500 and Contact.objects.count() == 500
    assert len(queries) < 250, len(queries)


def test_the_demo_fills_the_crm_with_contacts_companies_deals_notes_and_tasks():
    call_command("kith_demo", stdout=io.StringIO())

    contacts = Contact.objects.filter(workspace__name=DEMO_WORKSPACE_NAME)
    assert contacts.count() == 500
    assert contacts.filter(company__isnull=False).count() == 500 and contacts.filter(tags__isnull=False).exists()
    assert Company.objects.filter(workspace__name=DEMO_WORKSPACE_NAME).count() == 60
    per_pipeline = dict(Deal.objects.filter(workspace__name=DEMO_WORKSPACE_NAME).values_list("pipeline__name")
                        .annotate(n=Count("id")))
    assert per_pipeline == {"Sales": 300, "Partnerships": 200}
    assert Pipeline.objects.filter(workspace__name=DEMO_WORKSPACE_NAME).count() == 2
    deals = Deal.objects.filter(workspace__name=DEMO_WORKSPACE_NAME)
    assert {DealStatus.OPEN, DealStatus.WON, DealStatus.LOST} <= set(deals.values_list("status", flat=True))
    assert not deals.filter(status=DealStatus.LOST, lost_reason="").exists()
    assert deals.filter(contact__isnull=False).count() == 500
    # Every demo deal has its history and "created in" entry, as the services write them.
    assert DealStageChange.objects.filter(deal__in=deals).count() == 500
    assert Activity.objects.filter(deal__in=deals, kind=ActivityKind.STAGE_CHANGED).count() == 500
    logged = Activity.objects.filter(workspace__name=DEMO_WORKSPACE_NAME,
                                     kind__in=[ActivityKind.NOTE, ActivityKind.CALL, ActivityKind.MEETING])
    assert logged.count() == 110 and logged.filter(kind=ActivityKind.NOTE).exists()
    assert logged.filter(deal__isnull=False).count() == 10
    tasks = Task.objects.filter(workspace__name=DEMO_WORKSPACE_NAME)
    assert tasks.count() == 150 and tasks.filter(status="done").exists() and tasks.filter(deal__isnull=False).exists()

    call_command("kith_demo", stdout=io.StringIO())
    assert Deal.objects.filter(workspace__name=DEMO_WORKSPACE_NAME).count() == 500
    assert Contact.objects.filter(workspace__name=DEMO_WORKSPACE_NAME).count() == 500
    assert Task.objects.filter(workspace__name=DEMO_WORKSPACE_NAME).count() == 150
