"""Wake-up in batches: due runs are claimed a batch at a time (disjoint between concurrent wake jobs), a full batch
rings the next wake job before working (fan-out), and a batch executes a step of every run per transaction — with
a failing run redone alone so it cannot hold the others back."""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any

import pytest
from django.db import connection, connections, transaction

from kith.contacts.models import Contact
from kith.contacts.services import contact_create
from kith.core.jobs.models import Job
from kith.messaging.models import Template
from kith.messaging.services import template_create
from kith.workflows import runner
from kith.workflows.models import Run, RunState, RunStep
from kith.workflows.runner import runs_advance_due, runs_claim_due
from kith.workflows.services import workflow_create

pytestmark = pytest.mark.django_db


def _waiting_runs(personas: Any, steps: list[dict[str, Any]], count: int, *, at: dt.datetime,
                  name: str = "Wake") -> tuple[Any, list[Run]]:
    workflow = workflow_create(workspace=personas.acme, actor=personas.alice,
                               data={"name": name, "definition": {"steps": steps}})
    contacts = Contact.objects.bulk_create([Contact(workspace=personas.acme, email=f"w{n}-{name.lower()}@example.com")
                                            for n in range(count)])
    runs = Run.objects.bulk_create([
        Run(workspace=personas.acme, workflow=workflow, version=workflow.current_version, contact=contact,
            state=RunState.WAITING, wake_at=at, current_step=steps[0]["id"], trigger_key=f"t{contact.pk}",
            started_at=at)
        for contact in contacts])
    return workflow, runs


def test_claims_of_one_batch_after_another_are_disjoint_and_take_every_due_run(personas, frozen_clock):
    _, runs = _waiting_runs(personas, [{"id": "score", "kind": "adjust_score", "delta": 1}], 25,
                            at=frozen_clock.now)
    Run.objects.filter(pk=runs[-1].pk).update(wake_at=frozen_clock.now + dt.timedelta(minutes=1))  # not due

    first = runs_claim_due(now=frozen_clock.now, limit=10)
    second = runs_claim_due(now=frozen_clock.now, limit=10)
    third = runs_claim_due(now=frozen_clock.now, limit=10)
    ids = [run_id for run_id, _ in first + second + third]
    assert (len(first), len(second), len(third)) == (10, 10, 4)
    assert len(set(ids)) == 24 and runs[-1].pk not in ids
    assert all(token == 1 for _, token in first + second + third)
    assert set(Run.objects.filter(pk__in=ids).values_list("state", flat=True)) == {RunState.RUNNING}
    # A claimed run whose lease expired (its worker died) is claimed again, with a new token.
    frozen_clock.advance(seconds=runner.LEASE.total_seconds() + 1)
    again = runs_claim_due(now=frozen_clock.now, limit=100)
    assert {run_id for run_id, _ in again} == {r.pk for r in runs} and runs[-1].pk in dict(again)
    assert {token for run_id, token in again if run_id != runs[-1].pk} == {2}


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif("connection.vendor != 'postgresql'", reason="row locks (SKIP LOCKED) are PostgreSQL's; on "
                    "SQLite a writer holds the whole database, so claims cannot overlap there")
def test_a_concurrent_claim_skips_the_rows_another_wake_job_is_claiming(personas):
    import datetime as _dt

    from kith.core import clock

    now = clock.now()
    _waiting_runs(personas, [{"id": "score", "kind": "adjust_score", "delta": 1}], 20, at=now)
    holding, release, other = threading.Event(), threading.Event(), []

    def hold() -> None:
        try:
            with transaction.atomic():
                other.extend(runs_claim_due(now=now, limit=10))  # rows stay locked until this commits
                holding.set()
                release.wait(10)
        finally:
            connections.close_all()

    thread = threading.Thread(target=hold)
    thread.start()
    assert holding.wait(10)
    started = _dt.datetime.now()
    mine = runs_claim_due(now=now, limit=20)  # neither blocks on the held rows nor takes them
    waited = (_dt.datetime.now() - started).total_seconds()
    release.set()
    thread.join(10)
    assert waited < 5
    assert len(other) == 10 and len(mine) == 10
    assert not {run_id for run_id, _ in other} & {run_id for run_id, _ in mine}
    assert connection.vendor == "postgresql"


def test_a_full_batch_rings_the_next_wake_job_before_working(personas, frozen_clock, settings):
    settings.KITH_JOBS_RUNNER = "embedded"  # job rows, so the test sees the doorbell
    _waiting_runs(personas, [{"id": "score", "kind": "adjust_score", "delta": 1}], 7, at=frozen_clock.now)

    assert runs_advance_due(batch=5) == 5
    rung = Job.objects.filter(name="kith.workflows.runner.workflow_runs_wake")
    assert rung.count() == 1 and rung.get().kwargs == {"workspace_id": 0}
    assert runs_advance_due(batch=5) == 2  # the rest; a partial batch rings nothing more
    assert rung.count() == 1
    assert set(Run.objects.values_list("state", flat=True)) == {RunState.COMPLETED}
    assert RunStep.objects.count() == 7
    assert set(Contact.objects.values_list("engagement_score", flat=True)) == {1}


def test_a_batch_runs_a_chain_of_steps_and_one_short_wait_rings_once_per_workspace(personas, frozen_clock,
                                                                                   settings):
    settings.KITH_JOBS_RUNNER = "embedded"
    steps = [{"id": "score", "kind": "adjust_score", "delta": 2, "next": "tag"},
             {"id": "tag", "kind": "add_tag", "tag": "woken", "next": "wait"},
             {"id": "wait", "kind": "wait", "duration": {"minutes": 10}, "next": "done"},
             {"id": "done", "kind": "adjust_score", "delta": 1}]
    _waiting_runs(personas, steps, 6, at=frozen_clock.now)

    assert runs_advance_due() == 6
    assert set(Run.objects.values_list("state", "current_step")) == {(RunState.WAITING, "done")}
    assert all(set(run.contact.tags.values_list("name", flat=True)) == {"woken"}
               for run in Run.objects.select_related("contact"))
    # Six runs entered the same 10-minute wait in one batch: one wake-up job, not six.
    [wake] = Job.objects.filter(name="kith.workflows.runner.workflow_runs_wake")
    assert wake.run_at == frozen_clock.now + dt.timedelta(minutes=10, seconds=1)
    assert not Job.objects.filter(name="kith.workflows.runner.workflow_run_task").exists()

    frozen_clock.advance(minutes=10, seconds=1)
    assert runs_advance_due() == 6
    assert set(Contact.objects.values_list("engagement_score", flat=True)) == {3}
    assert set(Run.objects.values_list("state", flat=True)) == {RunState.COMPLETED}
    rows = list(RunStep.objects.values_list("run_id", "step_id"))
    assert len(rows) == len(set(rows)) == 6 * 4


def test_a_failing_run_in_a_batch_is_redone_alone_and_the_others_complete(personas, frozen_clock):
    mail = template_create(workspace=personas.acme, actor=None, name="Mail",
                           content={"subject": "Hi", "html": "<p>Hello</p>"})
    good, _ = _waiting_runs(personas, [{"id": "score", "kind": "adjust_score", "delta": 1}], 4,
                                    at=frozen_clock.now, name="Good")
    _, [bad_run] = _waiting_runs(personas, [{"id": "mail", "kind": "send_email", "template": mail.pk}], 1,
                                   at=frozen_clock.now, name="Bad")
    Template.objects.filter(pk=mail.pk).update(current_version=None)  # the step raises

    assert runs_advance_due() == 5
    assert set(Run.objects.filter(workflow=good).values_list("state", flat=True)) == {RunState.COMPLETED}
    bad_run.refresh_from_db()
    assert (bad_run.state, bad_run.attempts) == (RunState.WAITING, 1) and "no content" in bad_run.last_error
    assert RunStep.objects.filter(run__workflow=good).count() == 4
    assert not RunStep.objects.filter(run=bad_run).exists()


def test_two_runs_of_one_contact_in_a_batch_both_see_each_other_s_writes(personas, frozen_clock):
    contact = contact_create(workspace=personas.acme, actor=None, data={"email": "twice@example.com"})
    runs = []
    for name in ("One", "Two"):
        workflow = workflow_create(workspace=personas.acme, actor=personas.alice, data={
            "name": name, "definition": {"steps": [{"id": "score", "kind": "adjust_score", "delta": 5}]}})
        runs.append(Run.objects.create(workspace=personas.acme, workflow=workflow, version=workflow.current_version,
                                       contact=contact, state=RunState.WAITING, wake_at=frozen_clock.now,
                                       current_step="score", trigger_key="t", started_at=frozen_clock.now))
    assert runs_advance_due() == 2
    contact.refresh_from_db()
    assert contact.engagement_score == 10
