"""The Celery application used when a broker is configured (production).

Our own code never calls ``.delay()``: it enqueues through ``kith.core.jobs.enqueue_on_commit`` and the Celery
message is only a doorbell carrying a job row id (tasks in ``kith/core/jobs/celery_runner.py``). Beat's schedule
comes from ``kith/core/jobs/schedule.toml``, the same file the embedded runner reads. Run one beat process per
installation (``celery -A kith beat``): beat is the single clock for periodic jobs under Celery.
"""

import os

from celery import Celery

from kith.core.jobs.schedule import beat_schedule, schedule_load

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kith.settings")

app = Celery("kith")
app.config_from_object("django.conf:settings", namespace="CELERY")
# Set before the configuration is loaded, so it stays lazy; values set this way take precedence over settings.
app.conf.beat_schedule = beat_schedule(entries=schedule_load())
app.autodiscover_tasks(["kith.core.jobs"], related_name="celery_runner")
