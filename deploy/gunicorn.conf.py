"""gunicorn settings for the Docker image and the Procfile: ``gunicorn kith.wsgi --config deploy/gunicorn.conf.py``.

gunicorn reads this file in its master process before it forks the workers, which is what makes the metrics
set-up below work. Override any value on the command line or with ``GUNICORN_CMD_ARGS``.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from gunicorn.arbiter import Arbiter
    from gunicorn.workers.base import Worker

_port = os.environ.get("PORT", "8000")  # PORT: the convention of Procfile platforms (Heroku, Dokku)

bind = [f"0.0.0.0:{_port}"]
# Threads serve the many requests that wait on the database; processes use the cores. WEB_CONCURRENCY is gunicorn's
# own variable for the worker count.
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
threads = 4
worker_class = "gthread"
# Longer than any request we expect (exports are background jobs), shorter than a proxy's typical 60 s timeout.
timeout = 50
graceful_timeout = 25
# No gunicorn access log: kith.core.observability.MetricsMiddleware writes one JSON line per request, with the
# request id, user and workspace.
accesslog = None
# No control socket (gunicornc): nothing here uses it, and its default path under $HOME is not writable for the
# image's service user.
control_socket_disable = True

# Several worker processes each count their own requests; with a shared directory prometheus_client keeps the
# counters in files there and /metrics sums them (kith.core.metrics). The variable must be in the environment
# before prometheus_client is first imported, so it is set here, above that import, and the workers inherit it.
os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", os.path.join(tempfile.gettempdir(), f"kith-prometheus-{_port}"))

# Deliberately below the environment set-up above (see there).
from prometheus_client import multiprocess


def on_starting(server: Arbiter) -> None:
    """Start from an empty metrics directory: files of a previous run would be summed into the new counters."""
    path = os.environ["PROMETHEUS_MULTIPROC_DIR"]
    shutil.rmtree(path, ignore_errors=True)
    os.makedirs(path)


def child_exit(server: Arbiter, worker: Worker) -> None:
    """Drop a dead worker's live gauges (prometheus_client's multiprocess rule); its counters stay summed."""
    multiprocess.mark_process_dead(worker.pid)
