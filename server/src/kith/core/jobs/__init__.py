"""Background jobs: one decorator, one way to enqueue, three runners. See ``docs/jobs.md``.

``kith/__init__`` imports ``kith.celery``, which reads ``schedule.toml`` through this package before Django's app
registry exists. ``job`` needs no models and is imported eagerly; the names below that need the ``Job`` model are
loaded on first access (PEP 562), by which time Django is set up.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from kith.core.jobs.registry import job

if TYPE_CHECKING:
    from kith.core.jobs.enqueue import enqueue_on_commit
    from kith.core.jobs.runner import JobLeaseLost, job_lease_extend

_NEEDS_MODELS = {
    "enqueue_on_commit": "kith.core.jobs.enqueue",
    "job_lease_extend": "kith.core.jobs.runner",
    "JobLeaseLost": "kith.core.jobs.runner",
}

__all__ = ["JobLeaseLost", "enqueue_on_commit", "job", "job_lease_extend"]


def __getattr__(name: str) -> Any:
    if name in _NEEDS_MODELS:
        return getattr(import_module(_NEEDS_MODELS[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
