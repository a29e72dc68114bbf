"""The one schedule file (``schedule.toml``): every periodic job, its cadence, and why that cadence.

Celery beat (``kith/celery.py``) and the embedded runner (``kith.core.jobs.periodic``) both read it through
``schedule_load``. Like ``registry``, this module imports no Django models: ``kith.celery`` loads it before Django's
app registry is ready.
"""

from __future__ import annotations

import datetime as dt
import functools
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.core.exceptions import ImproperlyConfigured

SCHEDULE_PATH = Path(__file__).with_name("schedule.toml")
# The Celery task beat sends for every entry; its worker side creates the Job row and runs it.
PERIODIC_TASK_NAME = "kith.jobs.periodic"
_KEYS = {"name", "every", "why"}


@dataclass(frozen=True)
class PeriodicJob:
    name: str  # the @job function's dotted name
    every: dt.timedelta
    why: str


def _entry(raw: dict[str, Any], *, path: Path, index: int) -> PeriodicJob:
    where = f"{path}: [[job]] #{index + 1}"
    unknown = set(raw) - _KEYS
    missing = _KEYS - set(raw)
    if unknown or missing:
        raise ImproperlyConfigured(f"{where}: needs exactly {sorted(_KEYS)}; unknown {sorted(unknown)}, "
                                   f"missing {sorted(missing)}.")
    name, every, why = raw["name"], raw["every"], raw["why"]
    if not isinstance(name, str) or "." not in name:
        raise ImproperlyConfigured(f"{where}: name must be the job function's dotted path, got {name!r}.")
    # bool is an int subclass; `every = true` is a typo, not one second.
    if not isinstance(every, int) or isinstance(every, bool) or every < 1:
        raise ImproperlyConfigured(f"{where}: every must be a whole number of seconds >= 1, got {every!r}.")
    if not isinstance(why, str) or not why.strip():
        raise ImproperlyConfigured(f"{where}: why must say why this cadence was chosen.")
    return PeriodicJob(name=name, every=dt.timedelta(seconds=every), why=why.strip())


def schedule_parse(*, path: Path) -> tuple[PeriodicJob, ...]:
    """Read and validate a schedule file; raise ``ImproperlyConfigured`` naming the file and entry."""
    with path.open("rb") as fh:
        try:
            data = tomllib.load(fh)
        except tomllib.TOMLDecodeError as exc:
            raise ImproperlyConfigured(f"{path}: {exc}") from exc
    if set(data) - {"job"}:
        raise ImproperlyConfigured(f"{path}: only [[job]] tables are allowed, found {sorted(set(data) - {'job'})}.")
    entries = tuple(_entry(raw, path=path, index=i) for i, raw in enumerate(data.get("job", [])))
    names = [entry.name for entry in entries]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ImproperlyConfigured(f"{path}: {duplicates} listed more than once.")
    return entries


@functools.cache
def schedule_load() -> tuple[PeriodicJob, ...]:
    """The project's schedule (``kith/core/jobs/schedule.toml``), parsed once per process."""
    return schedule_parse(path=SCHEDULE_PATH)


def beat_schedule(*, entries: Sequence[PeriodicJob]) -> dict[str, dict[str, Any]]:
    """Celery beat's ``beat_schedule`` for ``entries``: one ``kith.jobs.periodic`` message per entry and period.

    No queue is named, so the messages go to ``CELERY_TASK_DEFAULT_QUEUE`` (``kith``), which every worker consumes.
    """
    return {
        entry.name: {"task": PERIODIC_TASK_NAME, "schedule": entry.every, "args": [entry.name]}
        for entry in entries
    }
