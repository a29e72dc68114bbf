"""Triggers from outside the event API and the remaining trigger and step kinds: a Stripe payment starts a run,
e-mail opened, contact updated, date triggers on deal dates, and assigning the owner by rule."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from kith.accounts.models import Membership, Role
from kith.accounts.tests.factories import UserFactory
from kith.contacts.errors import InvalidFields
from kith.contacts.services import contact_add_tags, contact_create, contact_update
from kith.deals.models import DealStatus
from kith.deals.services import deal_create, pipeline_create
from kith.inbound.tests.conftest import (  # noqa: F401 — fixtures
    payment_intent,
    post_raw,
    post_stripe,
    stripe_endpoint,
    stripe_event,
)
from kith.tracking.aggregation import tracking_aggregate
from kith.tracking.models import HitKind
from kith.tracking.recording import hit_record
from kith.tracking.tests.helpers import sent_message
from kith.workflows.models import Run, RunState
from kith.workflows.services import workflow_activate, workflow_create, workflow_enroll
from kith.workflows.triggers import date_triggers_run, triggers_scan

pytestmark = pytest.mark.django_db
CHROME = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36"
TAG = {"steps": [{"id": "tag", "kind": "add_tag", "tag": "entered"}]}


def active(personas: Any, name: str, kind: str, config: dict[str, Any], definition: Any = None) -> Any:
    workflow = workflow_create(workspace=personas.acme, actor=personas.alice, data={
        "name": name, "trigger_kind": kind, "trigger_config": config, "definition": definition or TAG})
    return workflow_activate(workflow=workflow, actor=personas.alice)


def test_a_stripe_payment_starts_a_workflow_run_for_the_paying_contact(personas, post_stripe):  # noqa: F811
    dana = contact_create(workspace=personas.acme, actor=None, data={"email": "dana@acme-customer.test"})
    workflow = active(personas, "Paid", "event", {"event": "Payment Succeeded",
                                                  "filters": [{"property": "amount", "op": "gte", "value": 10}]})

    response = post_stripe(stripe_event("payment_intent.succeeded", payment_intent()))

    assert response.status_code == 200
    [run] = Run.objects.filter(workflow=workflow)
    assert run.contact_id == dana.pk and run.state == RunState.COMPLETED
    assert run.trigger_event.name == "Payment Succeeded"
    assert set(dana.tags.values_list("name", flat=True)) == {"entered"}


def test_email_opened_enrolls_the_reader_of_that_template_only(personas, run_jobs):
    first = sent_message(workspace=personas.acme, email="reader@example.com")
    other = sent_message(workspace=personas.acme, email="other@example.com")
    template_id = first.template_version.template_id
    workflow = active(personas, "Opened", "email_opened", {"template": template_id})
    any_open = active(personas, "Any open", "email_opened", {})
    now = dt.datetime.now(dt.UTC)
    for message in (first, other):
        hit_record(message_id=message.pk, kind=HitKind.OPEN, user_agent=CHROME, ip="203.0.113.7", link_index=None)
    from kith.core import clock

    with clock.frozen(now + dt.timedelta(minutes=5)):
        run_jobs(tracking_aggregate)
    run_jobs(triggers_scan, settle=dt.timedelta(0))

    assert list(Run.objects.filter(workflow=workflow).values_list("contact_id", flat=True)) == [first.contact_id]
    assert sorted(Run.objects.filter(workflow=any_open).values_list("contact_id", flat=True)) == sorted(
        [first.contact_id, other.contact_id])
    run_jobs(triggers_scan, settle=dt.timedelta(0))  # scanning again enrolls nobody twice
    assert Run.objects.filter(workflow__in=[workflow, any_open]).count() == 3


def test_contact_updated_enrolls_on_a_real_change_only(personas, run_jobs):
    contact = contact_create(workspace=personas.acme, actor=None, data={"email": "u@example.com",
                                                                        "first_name": "Una"})
    workflow = active(personas, "Updated", "contact_updated", {})
    run_jobs(triggers_scan, settle=dt.timedelta(0))
    assert not Run.objects.filter(workflow=workflow).exists()  # a creation is no update

    contact_update(contact=contact, actor=personas.alice, data={"first_name": "Una"})  # unchanged: no audit row
    run_jobs(triggers_scan, settle=dt.timedelta(0))
    assert not Run.objects.filter(workflow=workflow).exists()

    contact_update(contact=contact, actor=personas.alice, data={"first_name": "Uma"})
    run_jobs(triggers_scan, settle=dt.timedelta(0))
    [run] = Run.objects.filter(workflow=workflow)
    assert run.contact_id == contact.pk and run.state == RunState.COMPLETED


def test_a_date_trigger_on_a_deal_s_expected_close_date_enrolls_its_contact(personas, run_jobs, frozen_clock):
    # The clock says Monday 2026-03-02 09:00 (UTC, the workspace's zone); two days before the expected close, 10:00.
    pipeline = pipeline_create(workspace=personas.acme, actor=personas.alice, name="Sales")
    buyer = contact_create(workspace=personas.acme, actor=None, data={"email": "buyer@example.com"})
    late = contact_create(workspace=personas.acme, actor=None, data={"email": "late@example.com"})
    won = contact_create(workspace=personas.acme, actor=None, data={"email": "won@example.com"})
    deal = deal_create(workspace=personas.acme, actor=None, pipeline=pipeline, name="Car", contact=buyer,
                       expected_close_date=dt.date(2026, 3, 4))
    deal_create(workspace=personas.acme, actor=None, pipeline=pipeline, name="Later", contact=late,
                expected_close_date=dt.date(2026, 3, 5))
    closed = deal_create(workspace=personas.acme, actor=None, pipeline=pipeline, name="Done", contact=won,
                         expected_close_date=dt.date(2026, 3, 4))
    type(closed).objects.filter(pk=closed.pk).update(status=DealStatus.WON, closed_at=frozen_clock.now)
    workflow = active(personas, "Close soon", "date", {"field": "deal.expected_close_date", "offset_days": -2,
                                                       "time": "10:00"})

    assert run_jobs(date_triggers_run) == 0  # 09:00: not yet
    frozen_clock.advance(hours=1)
    assert run_jobs(date_triggers_run) == 1
    assert run_jobs(date_triggers_run) == 0  # the same day again: nobody twice
    [run] = Run.objects.filter(workflow=workflow)
    assert run.contact_id == buyer.pk and run.context == {"date": "2026-03-04", "deal": deal.pk}


def test_a_date_trigger_on_when_a_deal_closed(personas, run_jobs, frozen_clock):
    pipeline = pipeline_create(workspace=personas.acme, actor=personas.alice, name="Sales")
    buyer = contact_create(workspace=personas.acme, actor=None, data={"email": "buyer@example.com"})
    deal = deal_create(workspace=personas.acme, actor=None, pipeline=pipeline, name="Car", contact=buyer)
    type(deal).objects.filter(pk=deal.pk).update(status=DealStatus.WON,
                                                  closed_at=frozen_clock.now - dt.timedelta(days=30))
    workflow = active(personas, "A month after", "date", {"field": "deal.closed_at", "offset_days": 30,
                                                          "time": "08:00"})
    assert run_jobs(date_triggers_run) == 1
    assert Run.objects.get(workflow=workflow).contact_id == buyer.pk


def test_deal_date_fields_are_the_only_deal_fields_a_date_trigger_takes(personas):
    with pytest.raises(InvalidFields) as caught:
        workflow_create(workspace=personas.acme, actor=personas.alice, data={
            "name": "Bad", "trigger_kind": "date", "trigger_config": {"field": "deal.name"}})
    assert "trigger_config.field" in caught.value.errors


def test_assign_owner_by_rule_takes_the_first_matching_rule_then_the_default(personas, run_jobs):
    carol = UserFactory(email="carol@acme.example")
    Membership.objects.create(workspace=personas.acme, user=carol, role=Role.REP)
    step = {"id": "owner", "kind": "assign_owner", "mode": "rule", "rules": [
        {"condition": {"field": "email", "op": "contains", "value": "@bigcorp.test"}, "user": personas.bob.pk},
        {"condition": {"tag": "vip"}, "user": carol.pk}], "default": personas.alice.pk}
    workflow = workflow_create(workspace=personas.acme, actor=personas.alice,
                               data={"name": "Route", "definition": {"steps": [step]}})
    corp = contact_create(workspace=personas.acme, actor=None, data={"email": "cio@bigcorp.test"})
    vip = contact_create(workspace=personas.acme, actor=None, data={"email": "star@example.com"})
    for contact in (corp, vip):
        contact_add_tags(contact=contact, actor=None, names=["vip"])
    plain = contact_create(workspace=personas.acme, actor=None, data={"email": "joe@example.com"})

    run_jobs(workflow_enroll, workflow=workflow, actor=personas.alice, contact_ids=[corp.pk, vip.pk, plain.pk])

    owners = {c.pk: c.owner_id for c in type(corp).objects.filter(pk__in=[corp.pk, vip.pk, plain.pk])}
    assert owners == {corp.pk: personas.bob.pk, vip.pk: carol.pk, plain.pk: personas.alice.pk}
    results = {run.contact_id: run.steps.get().result["rule"] for run in Run.objects.filter(workflow=workflow)}
    assert results == {corp.pk: 0, vip.pk: 1, plain.pk: None}


def test_assign_owner_rules_are_validated(personas):
    with pytest.raises(InvalidFields) as caught:
        workflow_create(workspace=personas.acme, actor=personas.alice, data={"name": "Bad route", "definition": {
            "steps": [{"id": "owner", "kind": "assign_owner", "mode": "rule", "rules": [
                {"condition": {"field": "nope", "op": "eq", "value": 1}, "user": personas.mallory.pk},
                {"user": personas.bob.pk}]}]}})
    assert {"definition.steps.owner.rules.0.condition", "definition.steps.owner.rules.0.user",
            "definition.steps.owner.rules.1"} <= set(caught.value.errors)
