"""The host project's Celery app, as a host using DELIVERY="celery" would have it."""

import os

from celery import Celery

app = Celery("crmify_tests")
app.conf.broker_url = os.environ.get("CRMIFY_TEST_BROKER_URL", "memory://")
app.conf.task_ignore_result = True
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks(["crmify"])
app.set_default()
