"""PLACEHOLDER — being written by the jobs helper."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class JobFunction:
    name: str
    func: Callable[..., Any]
    queue: str = "default"
    max_attempts: int = 5
    lease_seconds: int = 300

    def __call__(self, **kwargs: Any) -> Any:
        return self.func(**kwargs)


REGISTRY: dict[str, JobFunction] = {}


def job(_func=None, *, name=None, queue="default", max_attempts=5, lease_seconds=300):
    def wrap(func):
        jf = JobFunction(name or f"{func.__module__}.{func.__name__}", func, queue, max_attempts, lease_seconds)
        REGISTRY[jf.name] = jf
        return jf
    return wrap(_func) if _func is not None else wrap
