"""Settings of the Celery worker process a test starts: the test database, the stand-in CRM the test runs."""

import os

from tests.settings import *  # noqa: F403

CRMIFY = {
    "BACKEND": "crmify.backends.insightly.InsightlyBackend",
    "BACKEND_AUTH": {"api_key": "insightly-test-key", "base_url": os.environ.get("CRMIFY_WORKER_BACKEND_URL", "")},
    "DELIVERY": "celery",
}
