"""Triggers, entry conditions and re-entry rules."""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

import pytest

from kith.contacts.errors import InvalidFields
from kith.contacts.services import (
    contact_add_tags,
    contact_create,
    contact_remove_tags,
    contact_update,
    custom_field_definition_create,
)
from kith.deals.services import deal_create, deal_move_to_stage, pipeline_create
from kith.segments.hooks import segment_membership_changed
from kith.segments.models import Segment
from kith.workflows.models import Run
from kith.workflows.services import (
    workflow_activate,
    workflow_create,
    workflow_enroll,
    workflow_pause,
)
from kith.workflows.triggers import date_triggers_run, property_matches, triggers_scan

pytestmark = pytest.mark.django_db
STEPS = {"steps": [{"id": "tag", "kind": "add_tag", "tag": "entered"}]}
NOW = dt.timedelta(0)
_names = itertools.count()


def active(personas: Any, kind: str, config: dict[str, Any] | None = None, **data: Any) -> Any:
    workflow = workflow_create(workspace=personas.acme, actor=personas.alice, data={
        "name": f"On {kind} {next(_names)}", "trigger_kind": kind, "trigger_config": config or {}, "definition": STEPS,
        **data})
    return workflow_activate(workflow=workflow, actor=personas.alice)


def entered(workflow: Any) -> list[int]:
    return sorted(Run.objects.filter(workflow=workflow).values_list("contact_id", flat=True))


def test_contact_created_enrolls_new_contacts_only(personas, run_jobs):
    before = contact_create(workspace=personas.acme, actor=None, data={"email": "old@example.com"})
    run_jobs(triggers_scan, settle=NOW)
    workflow = active(personas, "contact_created")
    new = contact_create(workspace=personas.acme, actor=None, data={"email": "new@example.com"})
    run_jobs(triggers_scan, settle=NOW)
    assert entered(workflow) == [new.pk] and before.pk != new.pk
    assert new.tags.filter(name="entered").exists()


def test_tag_added_and_removed_name_their_tag(personas, run_jobs):
    added = active(personas, "tag_added", {"tag": "VIP"})
    removed = active(personas, "tag_removed", {"tag": "vip"})
    dana = contact_create(workspace=personas.acme, actor=None, data={"email": "dana@example.com"})
    contact_add_tags(contact=dana, actor=None, names=["other"])
    run_jobs(triggers_scan, settle=NOW)
    assert entered(added) == [] and entered(removed) == []
    contact_add_tags(contact=dana, actor=None, names=["vip"])
    run_jobs(triggers_scan, settle=NOW)
    assert entered(added) == [dana.pk] and entered(removed) == []
    contact_remove_tags(contact=dana, actor=None, names=["vip"])
    run_jobs(triggers_scan, settle=NOW)
    assert entered(removed) == [dana.pk]


def test_field_changed_can_require_the_new_value(personas, run_jobs):
    any_change = active(personas, "field_changed", {"field": "lead_status"})
    to_qualified = active(personas, "field_changed", {"field": "lead_status", "to": "qualified"}, reentry="always")
    dana = contact_create(workspace=personas.acme, actor=None, data={"email": "dana@example.com"})
    contact_update(contact=dana, actor=None, data={"first_name": "Dana"})
    run_jobs(triggers_scan, settle=NOW)
    assert entered(any_change) == [] and entered(to_qualified) == []
    contact_update(contact=dana, actor=None, data={"lead_status": "contacted"})
    run_jobs(triggers_scan, settle=NOW)
    assert entered(any_change) == [dana.pk] and entered(to_qualified) == []
    contact_update(contact=dana, actor=None, data={"lead_status": "qualified"})
    run_jobs(triggers_scan, settle=NOW)
    assert entered(to_qualified) == [dana.pk]


def test_deal_stage_changed_enrolls_the_deal_s_contact(personas, run_jobs):
    pipeline = pipeline_create(workspace=personas.acme, actor=None, name="Sales")
    stages = list(pipeline.stages.order_by("position"))
    workflow = active(personas, "deal_stage_changed", {"stage": stages[1].pk})
    dana = contact_create(workspace=personas.acme, actor=None, data={"email": "dana@example.com"})
    deal = deal_create(workspace=personas.acme, actor=None, pipeline=pipeline, name="Volvo", contact=dana)
    run_jobs(triggers_scan, settle=NOW)
    assert entered(workflow) == []
    deal_move_to_stage(deal=deal, stage=stages[1], actor=None)
    run_jobs(triggers_scan, settle=NOW)
    assert entered(workflow) == [dana.pk]


def test_segment_entered_and_left(personas, run_jobs):
    segment = Segment.objects.create(workspace=personas.acme, name="VIPs", definition={"tag": "vip"})
    on_enter = active(personas, "segment_entered", {"segment": segment.pk})
    on_leave = active(personas, "segment_left", {"segment": segment.pk})
    dana = contact_create(workspace=personas.acme, actor=None, data={"email": "dana@example.com"})
    erin = contact_create(workspace=personas.acme, actor=None, data={"email": "erin@example.com"})
    run_jobs(segment_membership_changed, workspace=personas.acme, segment_id=segment.pk, entered=[dana.pk],
             left=[erin.pk])
    assert entered(on_enter) == [dana.pk] and entered(on_leave) == [erin.pk]


def test_entry_condition_and_the_once_rule(personas, run_jobs):
    workflow = active(personas, "manual", entry_condition={"field": "lifecycle_stage", "op": "eq",
                                                           "value": "customer"})
    lead = contact_create(workspace=personas.acme, actor=None, data={"email": "lead@example.com"})
    customer = contact_create(workspace=personas.acme, actor=None,
                              data={"email": "c@example.com", "lifecycle_stage": "customer"})
    count = run_jobs(workflow_enroll, workflow=workflow, actor=personas.alice, contact_ids=[lead.pk, customer.pk])
    assert count == 1 and entered(workflow) == [customer.pk]
    assert run_jobs(workflow_enroll, workflow=workflow, actor=personas.alice, contact_ids=[customer.pk]) == 0


def test_once_per_n_days_and_always(personas, run_jobs, frozen_clock):
    weekly = active(personas, "manual", reentry="interval", reentry_days=7)
    always = active(personas, "manual", reentry="always", goal_event="x")
    dana = contact_create(workspace=personas.acme, actor=None, data={"email": "dana@example.com"})
    for _ in range(2):
        run_jobs(workflow_enroll, workflow=weekly, actor=personas.alice, contact_ids=[dana.pk])
        run_jobs(workflow_enroll, workflow=always, actor=personas.alice, contact_ids=[dana.pk])
    assert len(entered(weekly)) == 1 and len(entered(always)) == 2
    frozen_clock.advance(days=7, seconds=1)
    run_jobs(workflow_enroll, workflow=weekly, actor=personas.alice, contact_ids=[dana.pk])
    assert len(entered(weekly)) == 2


def test_a_paused_workflow_enrolls_nobody_from_events(personas, send):
    workflow = active(personas, "event", {"event": "Signed Up"})
    workflow_pause(workflow=workflow, actor=personas.alice)
    send("/v1/track", {"userId": "u-1", "event": "Signed Up", "messageId": "m-1"})
    assert entered(workflow) == []


def test_another_workspace_s_events_never_enroll(personas, send):
    theirs = workflow_create(workspace=personas.mallory_inc, actor=personas.mallory, data={
        "name": "Theirs", "trigger_kind": "event", "trigger_config": {"event": "Signed Up"}, "definition": STEPS})
    workflow_activate(workflow=theirs, actor=personas.mallory)
    send("/v1/track", {"userId": "u-1", "event": "Signed Up", "messageId": "m-1"})
    assert entered(theirs) == []


@pytest.mark.parametrize(("rule", "expected"), [
    ({"property": "total", "op": "gt", "value": 1000}, True),
    ({"property": "total", "op": "gt", "value": "1500.5"}, False),
    ({"property": "total", "op": "lte", "value": 1500.5}, True),
    ({"property": "car.brand", "op": "eq", "value": "Volvo"}, True),
    ({"property": "car.brand", "op": "contains", "value": "olv"}, True),
    ({"property": "coupon", "op": "exists"}, False),
    ({"property": "coupon", "op": "not_exists"}, True),
    ({"property": "car", "op": "gt", "value": 3}, False),
    ({"property": "total", "op": "neq", "value": "1500.50"}, False),
])
def test_property_filters(rule, expected):
    assert property_matches({"total": 1500.5, "car": {"brand": "Volvo"}}, rule) is expected


def test_a_date_trigger_fires_once_on_the_day_after_its_time(personas, run_jobs, frozen_clock):
    custom_field_definition_create(workspace=personas.acme, actor=None, object_type="contact", key="renewal",
                                   label="Renewal", field_type="date")
    # Three days before the renewal, at 10:00 in the workspace's timezone (UTC here); the clock says Monday 09:00.
    workflow = active(personas, "date", {"field": "attributes.renewal", "offset_days": -3, "time": "10:00"})
    due = contact_create(workspace=personas.acme, actor=None,
                         data={"email": "due@example.com", "attributes": {"renewal": "2026-03-05"}})
    contact_create(workspace=personas.acme, actor=None,
                   data={"email": "later@example.com", "attributes": {"renewal": "2026-03-06"}})
    assert run_jobs(date_triggers_run) == 0  # 09:00: not yet
    frozen_clock.advance(hours=1)
    assert run_jobs(date_triggers_run) == 1
    assert run_jobs(date_triggers_run) == 0  # the same day again: nobody twice
    assert entered(workflow) == [due.pk]


def test_date_trigger_settings_are_checked(personas):
    with pytest.raises(InvalidFields) as caught:
        workflow_create(workspace=personas.acme, actor=personas.alice, data={
            "name": "Bad date", "trigger_kind": "date",
            "trigger_config": {"field": "first_name", "offset_days": "3", "time": "9am"}})
    assert set(caught.value.errors) == {"trigger_config.field", "trigger_config.offset_days", "trigger_config.time"}
