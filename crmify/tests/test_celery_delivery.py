"""DELIVERY="celery": a host commit enqueues crmify's task on a real broker and a real worker process delivers it."""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.test import override_settings

from crmify.models import OutboxEntry
from tests.standins import InsightlyStandIn

pytestmark = [pytest.mark.celery, pytest.mark.django_db(transaction=True)]
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def broker_url():
    url = os.environ.get("CRMIFY_TEST_BROKER_URL")
    if not url:
        pytest.fail("CRMIFY_TEST_BROKER_URL is not set: the celery tests need a real broker (make test-crmify sets it)")
    return url


def test_commit_enqueues_and_a_worker_delivers(broker_url, tmp_path):
    from tests.celery_app import app

    app.conf.broker_url = broker_url
    with InsightlyStandIn() as crm:
        crmify = {"BACKEND": "crmify.backends.insightly.InsightlyBackend",
                  "BACKEND_AUTH": {"api_key": InsightlyStandIn.API_KEY, "base_url": f"{crm.url}/v3.1"},
                  "DELIVERY": "celery"}
        env = {**os.environ, "CRMIFY_TEST_WORKER": "1", "PYTHONPATH": str(ROOT),
               "DJANGO_SETTINGS_MODULE": "tests.settings_celery_worker", "CRMIFY_WORKER_BACKEND_URL": f"{crm.url}/v3.1"}
        log = tmp_path / "worker.log"
        with open(log, "wb") as fh:
            worker = subprocess.Popen([sys.executable, "-m", "celery", "-A", "tests.celery_app", "worker",
                                       "--pool=solo", "--concurrency=1", "--without-heartbeat", "--without-gossip",
                                       "--without-mingle", "-l", "warning"], cwd=ROOT, env=env, stdout=fh,
                                      stderr=subprocess.STDOUT)
        try:
            with override_settings(CRMIFY=crmify):
                User.objects.create(username="celery", first_name="Cé", email="celery@example.com")
                deadline = time.monotonic() + 60
                while time.monotonic() < deadline and not crm.records:
                    time.sleep(0.2)
            assert [r["EMAIL"] for r in crm.records.values()] == ["celery@example.com"], log.read_text()
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and OutboxEntry.objects.filter(status="pending").exists():
                time.sleep(0.1)
            assert OutboxEntry.objects.get().status == "done"
        finally:
            worker.terminate()
            worker.wait(timeout=30)
