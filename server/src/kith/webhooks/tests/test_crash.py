"""Crash tests (``make test-celery``: PostgreSQL, Redis): a worker is SIGKILLed in the middle of a webhook POST —
the receiver has the request and is stalling its answer — and the delivery is neither lost nor sent under another
webhook-id. Its row keeps the attempt's lease; once the lease has run out, the next worker (a Celery worker rung by
the sweeper, or the embedded worker reclaiming the dead job row) delivers it again with the same ``webhook-id``, so
a receiver that deduplicates takes it once."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from django.db import transaction

from kith.core import clock
from kith.core.jobs import enqueue_on_commit
from kith.core.jobs.models import Job
from kith.core.tests.conftest import broker_url, celery_broker, workers  # noqa: F401 — fixtures
from kith.core.tests.jobs_processes import Workers, wait_for
from kith.webhooks import services
from kith.webhooks.models import DeliveryStatus, WebhookDelivery
from kith.webhooks.services import (
    webhook_emit,
    webhook_endpoint_create,
    webhook_settings_update,
)

pytestmark = [pytest.mark.celery, pytest.mark.django_db(transaction=True)]


@dataclass
class StallingReceiver:
    """Answers nothing to the first POST (until the test ends), 204 at once to every later one."""

    port: int = 0
    ids: list[str] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)

    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"


@pytest.fixture
def receiver() -> Iterator[StallingReceiver]:
    rec = StallingReceiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", "0")))
            rec.ids.append(self.headers["webhook-id"])
            if len(rec.ids) == 1:
                rec.release.wait(60)  # the stall: the worker is killed while it waits for this answer
                return
            self.send_response(204)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    rec.port = server.server_address[1]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield rec
    finally:
        rec.release.set()
        server.shutdown()
        server.server_close()


def _delivery_in_flight(personas: Any, receiver: StallingReceiver, start: Any, workers: Workers) -> WebhookDelivery:  # noqa: F811
    # The receiver is on loopback: this workspace allows private addresses (the worker reads the setting).
    webhook_settings_update(workspace=personas.acme, actor=personas.alice, allow_private_addresses=True)
    webhook_endpoint_create(workspace=personas.acme, actor=personas.alice, url=receiver.url(), event_types=["*"])
    with transaction.atomic():
        [delivery] = webhook_emit(workspace=personas.acme, event_type="contact.created", data={"id": 1})
    process, log = start()
    wait_for(lambda: len(receiver.ids) == 1, timeout=60, what="the POST to reach the receiver", log=log)
    workers.kill(process)

    # Not lost: the row holds the dead attempt's lease, and nothing says it was delivered.
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.PENDING, 1)
    assert delivery.next_attempt_at > clock.now() + services.ATTEMPT_LEASE - dt.timedelta(seconds=30)
    assert receiver.ids == [delivery.message_id]
    # Time passes: the attempt's lease (and the dead worker's job lease) runs out.
    past = clock.now() - dt.timedelta(seconds=1)
    WebhookDelivery.objects.filter(pk=delivery.pk).update(next_attempt_at=past)
    Job.objects.filter(status=Job.Status.RUNNING).update(lease_until=past)
    return delivery


def _delivered_once_more_with_the_same_id(delivery: WebhookDelivery, receiver: StallingReceiver, log: Any) -> None:
    wait_for(lambda: WebhookDelivery.objects.filter(pk=delivery.pk, status=DeliveryStatus.SUCCEEDED).exists(),
             timeout=60, what="the delivery to succeed", log=log)
    delivery.refresh_from_db()
    assert delivery.attempts == 2 and delivery.response_code == 204
    assert receiver.ids == [delivery.message_id, delivery.message_id]


def test_a_celery_worker_killed_mid_post_is_retried_after_the_lease_with_the_same_webhook_id(
    personas, receiver, celery_broker, workers  # noqa: F811
):
    delivery = _delivery_in_flight(personas, receiver, lambda: workers.start_celery(broker_url=celery_broker),
                                   workers)
    # The killed worker's broker message is gone (acknowledged on receipt); the periodic sweep rings the row.
    _, log = workers.start_celery(broker_url=celery_broker)
    with transaction.atomic():
        enqueue_on_commit(services.webhook_deliveries_sweep)
    _delivered_once_more_with_the_same_id(delivery, receiver, log)


def test_an_embedded_worker_killed_mid_post_is_retried_after_the_lease_with_the_same_webhook_id(
    personas, receiver, workers, settings  # noqa: F811
):
    settings.KITH_JOBS_RUNNER = "embedded"
    delivery = _delivery_in_flight(personas, receiver, workers.start_embedded, workers)
    # The new worker's claim query takes the dead worker's job row (expired lease) and attempts again.
    _, log = workers.start_embedded()
    _delivered_once_more_with_the_same_id(delivery, receiver, log)
