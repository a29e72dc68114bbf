"""One place to ask for the time, so tests can move it (``kith.core.clock.frozen``)."""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator

from django.utils import timezone

_override: dt.datetime | None = None


def now() -> dt.datetime:
    return _override if _override is not None else timezone.now()


@contextlib.contextmanager
def frozen(at: dt.datetime) -> Iterator[None]:
    global _override
    previous, _override = _override, at
    try:
        yield
    finally:
        _override = previous
