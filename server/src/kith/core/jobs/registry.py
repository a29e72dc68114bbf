"""The ``@job`` decorator and the name → function registry every runner resolves job rows through.

This module must stay free of Django model imports: ``kith.celery`` (imported by ``kith/__init__``, before Django's
app registry exists) reads the schedule through this package.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from importlib import import_module
from typing import Any, Generic, ParamSpec, TypeVar, overload

from kith.core.errors import KithError

P = ParamSpec("P")
R = TypeVar("R")

DEFAULT_QUEUE = "default"
# Long enough for any well-behaved job (a batch of sends, one webhook with its timeout); a job that can take longer
# says so with lease_seconds=... or renews its lease with job_lease_extend().
DEFAULT_LEASE_SECONDS = 300
DEFAULT_MAX_ATTEMPTS = 5
# enqueue_on_commit(task, run_at=..., **kwargs) owns this keyword, so a job may not use it as a parameter.
RESERVED_KWARGS = frozenset({"run_at"})


class UnknownJob(KithError, LookupError):
    """A job row names a function no ``@job`` decorator registered (renamed, removed, or not deployed yet)."""


@dataclass(frozen=True)
class JobFunction(Generic[P, R]):
    """A function registered with ``@job``. Calling it runs the function synchronously, in-process."""

    name: str
    func: Callable[P, R]
    queue: str = DEFAULT_QUEUE
    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    lease_seconds: int = DEFAULT_LEASE_SECONDS

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R:
        return self.func(*args, **kwargs)

    def check_kwargs(self, kwargs: dict[str, Any]) -> None:
        """Raise ``TypeError`` now, at enqueue, if ``kwargs`` would not fit the function's signature later."""
        try:
            inspect.signature(self.func).bind(**kwargs)
        except TypeError as exc:
            raise TypeError(f"Job {self.name}: {exc}") from exc


REGISTRY: dict[str, JobFunction[..., Any]] = {}


def _validate(func: Callable[..., Any], *, name: str, queue: str, max_attempts: int, lease_seconds: int) -> None:
    if "<locals>" in func.__qualname__ or "." in func.__qualname__:
        raise ValueError(f"@job {func.__qualname__}: jobs must be module-level functions so workers can import them.")
    # Workers resolve a name they have not seen by importing everything before its last dot, so a custom name must
    # still live in the defining module (a renamed function keeps its old name this way while rows are queued).
    module, _, attribute = name.rpartition(".")
    if module != func.__module__ or not attribute.isidentifier():
        raise ValueError(f"@job name {name!r} must be '{func.__module__}.<identifier>'.")
    for parameter in inspect.signature(func).parameters.values():
        if parameter.kind not in (inspect.Parameter.KEYWORD_ONLY, inspect.Parameter.VAR_KEYWORD):
            raise ValueError(f"@job {name}: parameter {parameter.name!r} must be keyword-only (def f(*, ...)).")
        if parameter.name in RESERVED_KWARGS:
            raise ValueError(f"@job {name}: {parameter.name!r} is reserved by enqueue_on_commit.")
    if max_attempts < 1 or lease_seconds < 1:
        raise ValueError(f"@job {name}: max_attempts and lease_seconds must be at least 1.")
    if not queue or len(queue) > 50:
        raise ValueError(f"@job {name}: queue must be 1-50 characters.")
    existing = REGISTRY.get(name)
    if existing is not None and existing.func.__qualname__ != func.__qualname__:
        raise ValueError(f"@job name {name!r} is already used by {existing.func.__qualname__}.")


@overload
def job(func: Callable[P, R], /) -> JobFunction[P, R]: ...


@overload
def job(
    *,
    name: str | None = None,
    queue: str = DEFAULT_QUEUE,
    max_attempts: int = DEFAULT_MAX_ATTEMPTS,
    lease_seconds: int = DEFAULT_LEASE_SECONDS,
) -> Callable[[Callable[P, R]], JobFunction[P, R]]: ...


def job(
    func: Callable[P, R] | None = None,
    /,
    *,
    name: str | None = None,
    queue: str = DEFAULT_QUEUE,
    max_attempts: int = DEFAULT_MAX_ATTEMPTS,
    lease_seconds: int = DEFAULT_LEASE_SECONDS,
) -> JobFunction[P, R] | Callable[[Callable[P, R]], JobFunction[P, R]]:
    """Register a background job. Use bare (``@job``) or with options (``@job(max_attempts=3)``).

    The function must take keyword-only, JSON-serializable arguments and be idempotent: every runner executes it
    at least once, and a worker that dies mid-run means it runs again once its lease (``lease_seconds``) expires.
    """

    def register(f: Callable[P, R]) -> JobFunction[P, R]:
        job_name = name or f"{f.__module__}.{f.__qualname__}"
        _validate(f, name=job_name, queue=queue, max_attempts=max_attempts, lease_seconds=lease_seconds)
        registered = JobFunction(
            name=job_name, func=f, queue=queue, max_attempts=max_attempts, lease_seconds=lease_seconds
        )
        REGISTRY[job_name] = registered
        return registered

    return register(func) if func is not None else register


def job_function_get(name: str) -> JobFunction[..., Any]:
    """The registered function for ``name``, importing its module first if this process has not yet done so.

    Only names registered by ``@job`` resolve, so a job row can never make a worker call an arbitrary function.
    """
    found = REGISTRY.get(name)
    if found is None:
        module, _, _ = name.rpartition(".")
        if not module:
            raise UnknownJob(f"Job name {name!r} is not a dotted path.")
        try:
            import_module(module)
        except ImportError as exc:
            raise UnknownJob(f"Job {name!r}: cannot import {module!r} ({exc}).") from exc
        found = REGISTRY.get(name)
    if found is None:
        raise UnknownJob(f"Job {name!r} is not registered: is the function decorated with @job?")
    return found
