"""Background jobs: one decorator, one way to enqueue, three runners. See ``kith/core/jobs/README`` in docs."""

from kith.core.jobs.registry import job
from kith.core.jobs.enqueue import enqueue_on_commit

__all__ = ["job", "enqueue_on_commit"]
