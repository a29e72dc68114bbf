"""Workflows on real worker processes (``make test-celery``: PostgreSQL and a Redis broker).

- The seed scenario through a Celery worker: the test process only accepts Segment requests; processing,
  enrollment, steps and sending happen in the worker.
- Crash: a worker is SIGKILLed while it is inside a step's transaction (blocked on a row lock this test holds),
  a new worker takes the run over once its lease has expired, and no step has executed twice — one ledger row
  per sending step, one ``RunStep`` per visit — and the run completes.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.db import connection, transaction
from django.test import Client

from kith.contacts.models import Contact
from kith.contacts.services import contact_create
from kith.core import clock
from kith.core.jobs import enqueue_on_commit
from kith.core.tests.conftest import broker_url, celery_broker  # noqa: F401 — fixtures
from kith.core.tests.jobs_processes import Workers, wait_for
from kith.events.services import event_write_key_create
from kith.messaging.models import Channel, Message, SourceType
from kith.messaging.services import template_create
from kith.workflows.models import Run, RunState, RunStep
from kith.workflows.runner import workflow_runs_wake
from kith.workflows.services import workflow_activate, workflow_create, workflow_enroll

pytestmark = [pytest.mark.celery, pytest.mark.django_db(transaction=True)]


class SinkWorkers(Workers):
    """Workers that send e-mail to the development sink (files under the data directory), never to a server."""

    def _env(self, **extra: str) -> dict[str, str]:
        return super()._env(KITH_MESSAGING_EMAIL_BACKEND="sink", **extra)


@pytest.fixture
def workers(tmp_path: Path) -> Iterator[Workers]:
    group = SinkWorkers(tmp_path=tmp_path)
    try:
        yield group
    finally:
        group.stop_all()


def _post(key: str, path: str, body: dict[str, Any]) -> None:
    auth = "Basic " + base64.b64encode(f"{key}:".encode()).decode()
    response = Client().post(path, json.dumps(body), content_type="application/json", HTTP_AUTHORIZATION=auth)
    assert response.status_code == 200, response.content


def _flow(personas: Any, name: str, **data: Any) -> Any:
    created = workflow_create(workspace=personas.acme, actor=personas.alice, data={"name": name, **data})
    return workflow_activate(workflow=created, actor=personas.alice)


def test_the_seed_scenario_runs_on_a_celery_worker(personas, celery_broker, workers: Workers):  # noqa: F811
    welcome = template_create(workspace=personas.acme, actor=personas.alice, name="Welcome",
                              content={"subject": "Welcome", "html": "<p>Welcome!</p>"})
    nudge = template_create(workspace=personas.acme, actor=personas.alice, name="Nudge", channel=Channel.SMS,
                            content={"text": "Your car is waiting."})
    _flow(personas, "Welcome", trigger_kind="event", trigger_config={"event": "Signed Up"},
          definition={"steps": [{"id": "mail", "kind": "send_email", "template": welcome.pk}]})
    chase = _flow(personas, "Chase", trigger_kind="event", trigger_config={"event": "Purchase Abandoned"},
                  definition={"steps": [
                      {"id": "wait", "kind": "wait_event", "event": "Purchase Completed", "timeout": {"minutes": 30},
                       "timeout_next": "sms"},
                      {"id": "sms", "kind": "send_sms", "template": nudge.pk}]})
    key = event_write_key_create(workspace=personas.acme, actor=personas.alice)[1]
    _, log = workers.start_celery(broker_url=celery_broker)

    # given a sign-up and an abandoned purchase sent to the event API
    _post(key, "/v1/identify", {"userId": "u-9", "messageId": "i-9",
                                "traits": {"email": "dana@example.com", "phone": "+14155550123"}})
    _post(key, "/v1/track", {"userId": "u-9", "event": "Signed Up", "messageId": "s-9"})
    _post(key, "/v1/track", {"userId": "u-9", "event": "Purchase Abandoned", "messageId": "p-9"})

    # then the worker sends the welcome mail and the chase waits for the purchase
    wait_for(lambda: Message.objects.filter(source_type=SourceType.WORKFLOW_STEP, channel=Channel.EMAIL,
                                            status="sent").count() == 1, timeout=60,
             what="the welcome mail", log=log)
    wait_for(lambda: Run.objects.filter(workflow=chase, state=RunState.WAITING, current_step="wait").exists(),
             timeout=60, what="the chase to wait", log=log)
    assert not Message.objects.filter(channel=Channel.SMS).exists()

    # when thirty minutes pass (the wait row's wake_at is moved, as time would) and the sweep rings
    Run.objects.filter(workflow=chase).update(wake_at=clock.now() - dt.timedelta(seconds=1))
    with transaction.atomic():
        enqueue_on_commit(workflow_runs_wake, workspace_id=personas.acme.pk)

    # then the worker queues the SMS once and completes the run
    wait_for(lambda: Run.objects.filter(workflow=chase, state=RunState.COMPLETED).exists(), timeout=60,
             what="the chase to complete", log=log)
    contact = Contact.objects.get(external_id="u-9")
    assert Message.objects.filter(contact=contact, channel=Channel.SMS).count() == 1


def _crash_flow(personas: Any, contacts: int) -> tuple[Any, list[Contact]]:
    first = template_create(workspace=personas.acme, actor=personas.alice, name="First",
                            content={"subject": "First", "html": "<p>1</p>"})
    second = template_create(workspace=personas.acme, actor=personas.alice, name="Second",
                             content={"subject": "Second", "html": "<p>2</p>"})
    # The middle step locks the contact row (contact_update): where the test makes the worker hang.
    flow = workflow_create(workspace=personas.acme, actor=personas.alice, data={
        "name": "Crash", "definition": {"steps": [
            {"id": "mail1", "kind": "send_email", "template": first.pk, "next": "status"},
            {"id": "status", "kind": "set_lead_status", "value": "contacted", "next": "mail2"},
            {"id": "mail2", "kind": "send_email", "template": second.pk}]}})
    people = [contact_create(workspace=personas.acme, actor=None, data={"email": f"c{n}@example.com"})
              for n in range(contacts)]
    return flow, people


def _assert_each_step_once(flow: Any, people: list[Contact]) -> None:
    for contact in people:
        sent = list(Message.objects.filter(contact=contact, source_type=SourceType.WORKFLOW_STEP)
                    .values_list("template_version__template__name", flat=True))
        assert sorted(sent) == ["First", "Second"], (contact.email, sent)
    steps = list(RunStep.objects.filter(run__workflow=flow).values_list("run_id", "step_id"))
    assert len(steps) == len(set(steps)) == 3 * len(people)
    assert set(Run.objects.filter(workflow=flow).values_list("state", flat=True)) == {RunState.COMPLETED}


def _kill_inside_a_step(workers: Workers, start: Any, flow: Any, victim: Contact) -> None:
    """Hold the victim's contact row locked, let a worker block on it inside the "status" step, SIGKILL it."""
    with transaction.atomic():
        # FOR NO KEY UPDATE: rows that merely reference the contact (the ledger row of "mail1") still go in; the
        # FOR UPDATE of contact_update in the "status" step waits.
        Contact.objects.select_for_update(no_key=True).get(pk=victim.pk)
        process, log = start()
        wait_for(lambda: RunStep.objects.filter(run__contact=victim, step_id="mail1").exists(), timeout=60,
                 what="the first step to commit", log=log)
        with connection.cursor() as cursor:
            wait_for(lambda: _lock_waiters(cursor) > 0, timeout=30, what="the worker to block inside a step",
                     log=log)
        workers.kill(process)
    # The killed worker's transaction died with its connection: the step it was in left nothing behind.
    assert not RunStep.objects.filter(run__contact=victim, step_id="status").exists()
    run = Run.objects.get(workflow=flow, contact=victim)
    assert run.state == RunState.RUNNING and run.current_step == "status"
    # Time passes: the dead worker's lease expires.
    Run.objects.filter(state=RunState.RUNNING).update(lease_until=clock.now() - dt.timedelta(seconds=1))


def _lock_waiters(cursor: Any) -> int:
    cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = "
                   "current_database()")
    return int(cursor.fetchone()[0])


def test_a_celery_worker_killed_inside_a_step_executes_no_step_twice(personas, celery_broker,  # noqa: F811
                                                                      workers: Workers):
    flow, people = _crash_flow(personas, contacts=3)
    workflow_enroll(workflow=flow, actor=personas.alice, contact_ids=[c.pk for c in people])

    _kill_inside_a_step(workers, lambda: workers.start_celery(broker_url=celery_broker), flow, people[0])

    _, log = workers.start_celery(broker_url=celery_broker)
    with transaction.atomic():
        enqueue_on_commit(workflow_runs_wake, workspace_id=personas.acme.pk)
    wait_for(lambda: not Run.objects.filter(workflow=flow).exclude(state=RunState.COMPLETED).exists(), timeout=90,
             what="every run to complete", log=log)
    _assert_each_step_once(flow, people)


def test_an_embedded_worker_killed_inside_a_step_executes_no_step_twice(personas, workers: Workers, settings):
    settings.KITH_JOBS_RUNNER = "embedded"
    flow, people = _crash_flow(personas, contacts=3)
    workflow_enroll(workflow=flow, actor=personas.alice, contact_ids=[c.pk for c in people])

    _kill_inside_a_step(workers, workers.start_embedded, flow, people[0])

    # The new worker's periodic sweep (workflow_runs_due) finds the run whose lease expired.
    _, log = workers.start_embedded()
    wait_for(lambda: not Run.objects.filter(workflow=flow).exclude(state=RunState.COMPLETED).exists(), timeout=90,
             what="every run to complete", log=log)
    _assert_each_step_once(flow, people)
