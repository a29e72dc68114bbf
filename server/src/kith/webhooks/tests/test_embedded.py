"""Under the embedded runner (job rows, as in production without Redis): one job row per delivery, and a failed
attempt leaves a job row for the retry, due when the delivery's backoff ends."""

import pytest
from django.db import transaction

from kith.core import clock
from kith.core.jobs.models import Job
from kith.core.jobs.runner import run_job
from kith.webhooks.models import DeliveryStatus, WebhookDelivery
from kith.webhooks.services import webhook_emit, webhook_endpoint_create

pytestmark = pytest.mark.django_db(transaction=True)


def test_each_delivery_is_its_own_job_row_and_a_retry_is_queued_for_its_backoff(personas, receiver, settings):
    settings.KITH_JOBS_RUNNER = "embedded"
    for path in ("/ok", "/fail"):
        webhook_endpoint_create(workspace=personas.acme, actor=personas.alice, url=receiver.url(path),
                                event_types=["*"])
    with transaction.atomic():
        webhook_emit(workspace=personas.acme, event_type="contact.created", data={"id": 1})
    first_jobs = list(Job.objects.filter(name="kith.webhooks.services.webhook_delivery_task"))
    assert len(first_jobs) == 2 and receiver.requests == []  # nothing sent inside the request

    for row in first_jobs:
        run_job(job_id=row.pk, worker_id="test")
    failing = WebhookDelivery.objects.get(status=DeliveryStatus.FAILED)
    assert WebhookDelivery.objects.get(status=DeliveryStatus.SUCCEEDED).endpoint.url.endswith("/ok")
    [retry] = Job.objects.filter(name="kith.webhooks.services.webhook_delivery_task").exclude(
        pk__in=[row.pk for row in first_jobs])
    assert retry.run_at == failing.next_attempt_at and retry.kwargs == {"delivery_id": failing.pk}

    with clock.frozen(failing.next_attempt_at):
        run_job(job_id=retry.pk, worker_id="test")
    failing.refresh_from_db()
    assert failing.attempts == 2 and len(receiver.to("/fail")) == 2
