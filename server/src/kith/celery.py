"""The Celery application used when a broker is configured (production).

Our own code never calls ``.delay()``: it enqueues through ``kith.core.jobs.enqueue_on_commit`` and the Celery
message is only a doorbell carrying a job row id. Beat's schedule comes from ``kith/core/jobs/schedule.toml``,
the same file the embedded runner reads.
"""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kith.settings")

app = Celery("kith")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks(["kith.core.jobs"], related_name="celery_runner")
