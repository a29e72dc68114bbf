"""The dashboard's CRM overview counts what the member may see, with a bounded number of queries."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from kith.accounts.models import Membership
from kith.contacts.tests.factories import ContactFactory
from kith.core import clock
from kith.deals.models import Deal, StageKind
from kith.deals.services import deal_create, deal_move_to_stage, pipeline_create
from kith.tasks.services import task_create
from kith.tracking.models import MessageEngagement
from kith.tracking.tests.helpers import sent_message
from kith.web.overview import dashboard_overview

pytestmark = pytest.mark.django_db


def stat(html: str, name: str) -> str:
    match = re.search(rf'data-stat="{name}">([^<]*)<', html)
    assert match, f"no {name} figure on the page"
    return match.group(1)


@pytest.fixture
def acme_crm(personas: Any) -> dict[str, Any]:
    acme, alice, bob = personas.acme, personas.alice, personas.bob
    mine = [ContactFactory(workspace=acme, owner=bob) for _ in range(2)]
    others = [ContactFactory(workspace=acme, owner=alice) for _ in range(3)]
    pipeline = pipeline_create(workspace=acme, actor=alice, name="Sales")
    deal_create(workspace=acme, actor=alice, pipeline=pipeline, name="Bob's", owner=bob, value=1000, currency="EUR")
    deal_create(workspace=acme, actor=alice, pipeline=pipeline, name="Alice's", owner=alice, value=500)
    message = sent_message(workspace=acme, contact=others[0], sent_ago=dt.timedelta(hours=2))
    MessageEngagement.objects.create(message=message, workspace=acme, contact=others[0], opens=1,
                                     first_open_at=clock.now(), last_open_at=clock.now())
    sent_message(workspace=acme, contact=mine[0], sent_ago=dt.timedelta(hours=3))
    sent_message(workspace=acme, contact=others[1], sent_ago=dt.timedelta(days=20))  # outside the 14 days
    task_create(workspace=acme, actor=bob, data={"title": "Call back", "assignee": bob.pk,
                                                 "due_at": clock.now() - dt.timedelta(days=1), "contact": mine[0].pk})
    ContactFactory(workspace=personas.mallory_inc)  # another workspace's contact never counts
    return {"pipeline": pipeline}


def test_alice_sees_the_whole_workspace_in_figures_and_charts(personas, acme_crm, client_for):
    html = client_for(personas.alice).get("/").content.decode()

    assert stat(html, "contacts") == "5"
    assert stat(html, "open-deals") == "2"
    assert stat(html, "messages") == "2"
    assert "50% opened" in html
    assert "Open deals by stage" in html and "1,000 EUR + 500 USD" in html


def test_a_restricted_rep_counts_only_their_own_records(personas, acme_crm, client_for):
    membership = Membership.objects.get(workspace=personas.acme, user=personas.bob)
    membership.restrict_to_own = True
    membership.save(update_fields=["restrict_to_own"])

    html = client_for(personas.bob).get("/").content.decode()

    assert stat(html, "contacts") == "2"
    assert stat(html, "open-deals") == "1"
    assert stat(html, "messages") == "1"
    assert stat(html, "tasks-overdue") == "1"
    assert "500 USD" not in html


def test_the_overview_is_a_fixed_number_of_queries_whatever_the_data(personas, acme_crm):
    membership = Membership.objects.get(workspace=personas.acme, user=personas.alice)
    with CaptureQueriesContext(connection) as few:
        dashboard_overview(workspace=personas.acme, membership=membership)
    for index in range(20):
        ContactFactory(workspace=personas.acme)
        sent_message(workspace=personas.acme, email=f"more{index}@example.com")
    with CaptureQueriesContext(connection) as many:
        overview = dashboard_overview(workspace=personas.acme, membership=membership)

    assert len(many) == len(few) <= 10
    assert overview.messages_sent == 22 and len(overview.days) == 14


def test_an_empty_workspace_shows_empty_states(personas, client_for):
    html = client_for(personas.mallory).get("/").content.decode()

    assert stat(html, "contacts") == "0"
    assert "No e-mail sent lately" in html and "No pipeline" in html


def test_the_pipeline_shows_its_weighted_forecast_win_rate_and_cycle(personas, acme_crm, client_for):
    acme, alice, pipeline = personas.acme, personas.alice, acme_crm["pipeline"]
    won_stage = pipeline.stages.get(kind=StageKind.WON)
    lost_stage = pipeline.stages.get(kind=StageKind.LOST)
    for name, stage in (("Won 1", won_stage), ("Won 2", won_stage), ("Lost", lost_stage)):
        deal = deal_create(workspace=acme, actor=alice, pipeline=pipeline, name=name, value=100)
        Deal.objects.filter(pk=deal.pk).update(created_at=clock.now() - dt.timedelta(days=10))
        deal_move_to_stage(deal=Deal.objects.get(pk=deal.pk), stage=stage, actor=alice, lost_reason="Budget")
    membership = Membership.objects.get(workspace=acme, user=alice)

    health = dashboard_overview(workspace=acme, membership=membership).health

    # the open deals sit in the first stage (10 %): 1,000 EUR and 500 USD weigh 100 EUR and 50 USD
    assert health is not None and health.forecast == "100 EUR + 50 USD"
    assert (health.won, health.lost, health.win_rate, health.cycle_days) == (2, 1, 67, 10)
    html = client_for(alice).get("/").content.decode()
    assert stat(html, "win-rate").startswith("67%")
