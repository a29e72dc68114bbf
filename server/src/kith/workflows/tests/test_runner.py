"""The runner and every step kind: effects, branches, waits, retries, leases, goals and pinned versions."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from kith.contacts.models import Contact
from kith.contacts.services import (
    contact_add_tags,
    contact_create,
    custom_field_definition_create,
)
from kith.deals.models import Deal
from kith.deals.services import pipeline_create
from kith.messaging.models import Message, Template
from kith.messaging.services import template_create
from kith.tasks.models import Notification, Task
from kith.webhooks.models import WebhookDelivery
from kith.webhooks.services import webhook_endpoint_create
from kith.workflows import runner
from kith.workflows.models import Run, RunState, RunStep
from kith.workflows.runner import LeaseLost, run_claim, workflow_runs_due
from kith.workflows.services import workflow_create, workflow_enroll, workflow_update
from kith.workflows.steps import next_weekday_time

pytestmark = pytest.mark.django_db


def flow(personas: Any, steps: list[dict[str, Any]], name: str = "Flow", **data: Any) -> Any:
    return workflow_create(workspace=personas.acme, actor=personas.alice,
                           data={"name": name, "definition": {"steps": steps}, **data})


def enroll(run_jobs: Any, personas: Any, workflow: Any, contact: Contact) -> Run:
    run_jobs(workflow_enroll, workflow=workflow, actor=personas.alice, contact_ids=[contact.pk])
    return Run.objects.filter(workflow=workflow, contact=contact).latest("id")


@pytest.fixture
def dana(personas):
    return contact_create(workspace=personas.acme, actor=None,
                          data={"email": "dana@example.com", "first_name": "Dana", "timezone": "America/New_York"})


@pytest.fixture
def mail(personas):
    return template_create(workspace=personas.acme, actor=None, name="Mail",
                           content={"subject": "Hi", "html": "<p>Hello</p>"})


def test_contact_steps_change_the_contact_in_order(personas, dana, run_jobs, frozen_clock):
    custom_field_definition_create(workspace=personas.acme, actor=None, object_type="contact", key="plan",
                                   label="Plan", field_type="text")
    contact_add_tags(contact=dana, actor=None, names=["trial"])
    workflow = flow(personas, [
        {"id": "tag", "kind": "add_tag", "tag": "vip", "next": "untag"},
        {"id": "untag", "kind": "remove_tag", "tag": "trial", "next": "plan"},
        {"id": "plan", "kind": "set_field", "field": "attributes.plan", "value": "pro", "next": "stage"},
        {"id": "stage", "kind": "set_lifecycle_stage", "value": "customer", "next": "score"},
        {"id": "score", "kind": "adjust_score", "delta": 7, "next": "owner"},
        {"id": "owner", "kind": "assign_owner", "user": personas.bob.pk, "next": "task"},
        {"id": "task", "kind": "create_task", "title": "Call Dana", "due_in_days": 2, "next": "ping"},
        {"id": "ping", "kind": "notify", "text": "Dana became a customer", "next": "bye"},
        {"id": "bye", "kind": "exit", },
    ])
    run = enroll(run_jobs, personas, workflow, dana)

    dana.refresh_from_db()
    assert set(dana.tags.values_list("name", flat=True)) == {"vip"}
    assert dana.attributes["plan"] == "pro" and dana.lifecycle_stage == "customer"
    assert dana.engagement_score == 7 and dana.owner_id == personas.bob.pk
    task = Task.objects.get(contact=dana)
    assert (task.title, task.assignee_id) == ("Call Dana", personas.bob.pk)
    assert task.due_at == frozen_clock.now + dt.timedelta(days=2)
    note = Notification.objects.get(recipient=personas.bob, kind="workflow")
    assert "Dana became a customer" in note.text and note.url == f"/contacts/{dana.pk}/"
    run.refresh_from_db()
    assert run.state == RunState.EXITED
    assert [s.step_id for s in run.steps.order_by("seq")] == [
        "tag", "untag", "plan", "stage", "score", "owner", "task", "ping", "bye"]


def test_round_robin_assignment_takes_turns(personas, run_jobs):
    workflow = flow(personas, [{"id": "rr", "kind": "assign_owner", "mode": "round_robin",
                                "users": [personas.alice.pk, personas.bob.pk]}])
    people = [contact_create(workspace=personas.acme, actor=None, data={"email": f"p{n}@example.com"})
              for n in range(4)]
    for person in people:
        enroll(run_jobs, personas, workflow, person)
    owners = [Contact.objects.get(pk=p.pk).owner_id for p in people]
    assert owners == [personas.alice.pk, personas.bob.pk, personas.alice.pk, personas.bob.pk]


def test_if_else_follows_the_segment_condition(personas, dana, run_jobs):
    workflow = flow(personas, [
        {"id": "vip", "kind": "if_else", "condition": {"tag": "vip"}, "then": "yes", "else": "no"},
        {"id": "yes", "kind": "add_tag", "tag": "was-vip"},
        {"id": "no", "kind": "add_tag", "tag": "was-not-vip"},
    ], reentry="always")
    enroll(run_jobs, personas, workflow, dana)
    contact_add_tags(contact=dana, actor=None, names=["vip"])
    enroll(run_jobs, personas, workflow, dana)
    assert set(dana.tags.values_list("name", flat=True)) == {"vip", "was-vip", "was-not-vip"}
    results = [s.result["matched"] for s in RunStep.objects.filter(step_id="vip").order_by("id")]
    assert results == [False, True]


def test_split_sends_about_the_given_share_down_each_branch(personas, run_jobs):
    workflow = flow(personas, [
        {"id": "ab", "kind": "split", "branches": [{"percent": 20, "next": "a"}, {"percent": 80, "next": "b"}]},
        {"id": "a", "kind": "add_tag", "tag": "a"},
        {"id": "b", "kind": "add_tag", "tag": "b"},
    ])
    people = [contact_create(workspace=personas.acme, actor=None, data={"email": f"s{n}@example.com"})
              for n in range(100)]
    run_jobs(workflow_enroll, workflow=workflow, actor=personas.alice, contact_ids=[p.pk for p in people])
    a = RunStep.objects.filter(step_id="a").count()
    assert RunStep.objects.filter(step_id="b").count() == 100 - a
    assert 8 <= a <= 35


def test_a_send_webhook_step_queues_one_persisted_delivery(personas, dana, run_jobs, monkeypatch):
    endpoint = webhook_endpoint_create(workspace=personas.acme, actor=personas.alice,
                                       url="https://93.184.215.14/hook", event_types=["contact.created"])
    attempted: list[int] = []
    monkeypatch.setattr("kith.webhooks.services.webhook_delivery_attempt",
                        lambda *, delivery_id: attempted.append(delivery_id))
    workflow = flow(personas, [{"id": "hook", "kind": "send_webhook", "endpoint": endpoint.pk}])
    run = enroll(run_jobs, personas, workflow, dana)
    [delivery] = WebhookDelivery.objects.filter(endpoint=endpoint)
    assert delivery.event_type == "workflow.step"
    assert delivery.payload["data"]["contact"] == dana.pk and delivery.payload["data"]["run"] == run.pk
    assert attempted == [delivery.pk]
    assert run.steps.get().result == {"delivery": delivery.pk}


def test_a_contact_without_an_address_skips_the_send_and_goes_on(personas, run_jobs, mail):
    nobody = contact_create(workspace=personas.acme, actor=None, data={"first_name": "No mail"})
    workflow = flow(personas, [{"id": "mail", "kind": "send_email", "template": mail.pk, "next": "tag"},
                               {"id": "tag", "kind": "add_tag", "tag": "reached"}])
    run = enroll(run_jobs, personas, workflow, nobody)
    assert not Message.objects.exists()
    assert [(s.step_id, s.state) for s in run.steps.order_by("seq")] == [("mail", "skipped"), ("tag", "done")]


def test_a_wait_is_a_row_that_wakes_on_time(personas, dana, run_jobs, frozen_clock, mail):
    workflow = flow(personas, [{"id": "wait", "kind": "wait", "duration": {"days": 3}, "next": "mail"},
                               {"id": "mail", "kind": "send_email", "template": mail.pk}])
    run = enroll(run_jobs, personas, workflow, dana)
    assert (run.state, run.current_step) == (RunState.WAITING, "mail")
    assert run.wake_at == frozen_clock.now + dt.timedelta(days=3)
    frozen_clock.advance(days=2, hours=23)
    run_jobs(workflow_runs_due)
    assert not Message.objects.exists()
    frozen_clock.advance(hours=1)
    run_jobs(workflow_runs_due)
    assert Message.objects.filter(contact=dana).count() == 1
    # The sweep running again sends nothing more.
    run_jobs(workflow_runs_due)
    assert Message.objects.filter(contact=dana).count() == 1


def test_wait_until_a_weekday_and_time_uses_the_contact_s_timezone(personas, dana, run_jobs, frozen_clock):
    workflow = flow(personas, [{"id": "tue", "kind": "wait_until", "weekdays": ["tue"], "time": "09:00"}])
    run = enroll(run_jobs, personas, workflow, dana)
    # Monday 09:00 UTC; Tuesday 09:00 in New York (EST, UTC-5) is Tuesday 14:00 UTC.
    assert run.wake_at == dt.datetime(2026, 3, 3, 14, 0, tzinfo=dt.UTC)
    assert run.steps.get().result["timezone"] == "America/New_York"


def test_next_weekday_time_crosses_a_dst_change():
    import zoneinfo

    berlin = zoneinfo.ZoneInfo("Europe/Berlin")
    # Saturday 28 March 2026 12:00 UTC; clocks go forward on Sunday 29 March.
    now = dt.datetime(2026, 3, 28, 12, 0, tzinfo=dt.UTC)
    assert next_weekday_time(now=now, zone=berlin, weekdays=["mon"], time="08:00") == \
        dt.datetime(2026, 3, 30, 6, 0, tzinfo=dt.UTC)  # CEST, UTC+2
    assert next_weekday_time(now=now, zone=berlin, weekdays=["sat"], time="08:00") == \
        dt.datetime(2026, 4, 4, 6, 0, tzinfo=dt.UTC)  # 08:00 today has passed: next Saturday


def test_a_failing_step_is_retried_with_backoff_then_parked_as_failed(personas, dana, run_jobs, frozen_clock,
                                                                      mail):
    workflow = flow(personas, [{"id": "mail", "kind": "send_email", "template": mail.pk}])
    Template.objects.filter(pk=mail.pk).update(current_version=None)  # content gone after the save
    run = enroll(run_jobs, personas, workflow, dana)
    waits = []
    for attempt in range(1, runner.MAX_ATTEMPTS):
        run.refresh_from_db()
        assert (run.state, run.attempts) == (RunState.WAITING, attempt)
        assert "no longer exists or has no content" in run.last_error
        waits.append(run.wake_at - frozen_clock.now)
        frozen_clock.advance(seconds=(run.wake_at - frozen_clock.now).total_seconds())
        run_jobs(workflow_runs_due)
    assert waits == list(runner.BACKOFF)
    run.refresh_from_db()
    assert run.state == RunState.FAILED and run.finished_at == frozen_clock.now
    [step] = run.steps.all()
    assert step.state == "failed" and "no content" in step.result["error"]
    assert not Message.objects.exists()


def test_a_worker_that_lost_its_lease_cannot_advance_the_run(personas, dana, run_jobs, frozen_clock):
    workflow = flow(personas, [{"id": "tag", "kind": "add_tag", "tag": "x"}])
    run = Run.objects.create(workspace=personas.acme, workflow=workflow, version=workflow.current_version,
                             contact=dana, state=RunState.WAITING, wake_at=frozen_clock.now, current_step="tag",
                             trigger_key="t", started_at=frozen_clock.now)
    old = run_claim(run_id=run.pk, now=frozen_clock.now)
    assert old is not None
    assert run_claim(run_id=run.pk, now=frozen_clock.now) is None  # held
    frozen_clock.advance(seconds=runner.LEASE.total_seconds() + 1)
    new = run_claim(run_id=run.pk, now=frozen_clock.now)
    assert new == old + 1
    with pytest.raises(LeaseLost):
        runner._step_execute(run.pk, old)
    assert not RunStep.objects.exists()
    assert runner._step_execute(run.pk, new) is False
    assert RunStep.objects.count() == 1


def test_the_goal_ends_a_waiting_run_early(personas, dana, run_jobs, frozen_clock, mail, send):
    dana = Contact.objects.get(pk=dana.pk)
    Contact.objects.filter(pk=dana.pk).update(external_id="dana-1")
    workflow = flow(personas, [{"id": "wait", "kind": "wait", "duration": {"days": 2}, "next": "mail"},
                               {"id": "mail", "kind": "send_email", "template": mail.pk}],
                    goal_event="Purchase Completed")
    run = enroll(run_jobs, personas, workflow, dana)
    send("/v1/track", {"userId": "dana-1", "event": "Purchase Completed", "messageId": "goal-1"})
    run.refresh_from_db()
    assert run.state == RunState.GOAL_REACHED and run.finished_at is not None
    frozen_clock.advance(days=3)
    run_jobs(workflow_runs_due)
    assert not Message.objects.exists()


def test_a_running_workflow_keeps_the_version_it_started_on(personas, dana, run_jobs, frozen_clock):
    workflow = flow(personas, [{"id": "wait", "kind": "wait", "duration": {"hours": 1}, "next": "tag"},
                               {"id": "tag", "kind": "add_tag", "tag": "v1"}])
    run = enroll(run_jobs, personas, workflow, dana)
    workflow = workflow_update(workflow=workflow, actor=personas.alice, data={"definition": {"steps": [
        {"id": "wait", "kind": "wait", "duration": {"hours": 1}, "next": "tag"},
        {"id": "tag", "kind": "add_tag", "tag": "v2"}]}})
    assert workflow.current_version.number == 2
    frozen_clock.advance(hours=1)
    run_jobs(workflow_runs_due)
    assert list(dana.tags.values_list("name", flat=True)) == ["v1"]
    run.refresh_from_db()
    assert run.version.number == 1 and run.state == RunState.COMPLETED


def test_saving_the_same_definition_adds_no_version(personas):
    steps = [{"id": "tag", "kind": "add_tag", "tag": "x"}]
    workflow = flow(personas, steps)
    workflow = workflow_update(workflow=workflow, actor=personas.alice, data={"definition": {"steps": steps}})
    assert workflow.current_version.number == 1 and workflow.versions.count() == 1


def test_the_deal_step_creates_a_deal_then_moves_the_open_one(personas, dana, run_jobs):
    pipeline = pipeline_create(workspace=personas.acme, actor=None, name="Cars")
    first, second = list(pipeline.stages.order_by("position"))[:2]
    workflow = flow(personas, [{"id": "deal", "kind": "deal", "pipeline": pipeline.pk, "stage": first.pk,
                                "name": "Volvo XC60", "value": 24990, "next": "won"},
                               {"id": "won", "kind": "deal", "pipeline": pipeline.pk, "stage": second.pk}])
    run = enroll(run_jobs, personas, workflow, dana)
    [deal] = Deal.objects.filter(contact=dana)
    assert (deal.name, deal.stage_id, int(deal.value)) == ("Volvo XC60", second.pk, 24990)
    assert [s.result for s in run.steps.order_by("seq")] == [{"deal": deal.pk, "created": True},
                                                             {"deal": deal.pk, "updated": True}]
