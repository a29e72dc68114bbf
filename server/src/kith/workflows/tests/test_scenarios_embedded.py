"""The seed scenarios of ``test_scenarios`` again, on the **embedded runner**: every ``enqueue_on_commit`` leaves a
job row, and the embedded worker's loop (``EmbeddedWorker.drain``, the tick ``manage.py kith_worker`` runs) claims
and runs them with their JSON arguments read back from the row — no immediate runner. Periodic jobs are enqueued as
job rows too, as the worker's schedule would; plain functions of the schedule (the trigger scan with a zero settle
window) are called and whatever they ring is then run by the worker. SQLite or PostgreSQL, real commits."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from django.db import transaction
from django.test import Client

from kith.core import clock
from kith.core.jobs import enqueue_on_commit
from kith.core.jobs.models import Job
from kith.core.jobs.registry import JobFunction
from kith.core.jobs.runner import jobs_due_ids
from kith.core.jobs.worker import EmbeddedWorker
from kith.workflows.tests import test_scenarios as scenarios
from kith.workflows.tests.conftest import basic

pytestmark = pytest.mark.django_db(transaction=True)

store = scenarios.store


@pytest.fixture
def worker(settings: Any) -> EmbeddedWorker:
    settings.KITH_JOBS_RUNNER = "embedded"
    return EmbeddedWorker(worker_id="scenario-worker", poll_interval=0.1, schedule=())


def _drain(worker: EmbeddedWorker) -> None:
    """Run every due job row, as the worker loop would, and check none failed; rows due later (a wait's
    doorbell) stay queued."""
    worker.drain()
    assert jobs_due_ids(limit=10, now=clock.now()) == []
    assert not Job.objects.exclude(last_error="").exists(), list(Job.objects.values_list("name", "last_error"))


@pytest.fixture
def send(acme_write_key: str, worker: EmbeddedWorker) -> Callable[[str, Any], Any]:
    def _send(path: str, body: Any) -> Any:
        response = Client().post(path, json.dumps(body).encode(), content_type="application/json",
                                 HTTP_AUTHORIZATION=basic(acme_write_key))
        assert response.status_code == 200, response.content
        assert Job.objects.filter(status=Job.Status.QUEUED).exists()  # the request only left job rows
        _drain(worker)
        return response

    return _send


@pytest.fixture
def run_jobs(worker: EmbeddedWorker) -> Callable[..., Any]:
    def _run(fn: Any, **kwargs: Any) -> Any:
        if isinstance(fn, JobFunction):
            with transaction.atomic():
                enqueue_on_commit(fn, **kwargs)
            result = None
        else:
            result = fn(**kwargs)
        _drain(worker)
        return result

    return _run


test_a_sign_up_gets_the_welcome_mail_once_and_becomes_not_contacted = (
    scenarios.test_a_sign_up_gets_the_welcome_mail_once_and_becomes_not_contacted)
test_an_abandoned_purchase_gets_the_sms_thirty_minutes_later = (
    scenarios.test_an_abandoned_purchase_gets_the_sms_thirty_minutes_later)
test_a_purchase_completed_within_thirty_minutes_cancels_the_sms_and_thanks_the_buyer = (
    scenarios.test_a_purchase_completed_within_thirty_minutes_cancels_the_sms_and_thanks_the_buyer)
test_abandoned_and_completed_in_one_batch_sends_no_sms = scenarios.test_abandoned_and_completed_in_one_batch_sends_no_sms
test_clicking_the_welcome_link_makes_the_lead_contacted = (
    scenarios.test_clicking_the_welcome_link_makes_the_lead_contacted)
