"""The extension point for work that follows processed events (the workflow engine subscribes here).

Not a Django signal (house style keeps signals for the host boundary): a plain registry, called by the processing
job inside the transaction that marks the events processed. A subscriber that schedules work with
``enqueue_on_commit`` therefore gets its job exactly when the events' processing commits, and a subscriber that
raises rolls the chunk back, so the job's retry processes (and notifies) the same events again. Subscribers must
therefore be idempotent, and must not do network I/O (they run inside a transaction).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol


class EventsProcessedSubscriber(Protocol):
    def __call__(self, *, workspace: Any, event_ids: Sequence[int]) -> None: ...


_subscribers: list[EventsProcessedSubscriber] = []


def events_processed_subscribe(subscriber: EventsProcessedSubscriber) -> EventsProcessedSubscriber:
    """Register ``subscriber(workspace=..., event_ids=[...])``; usable as a decorator. Call it from an
    ``AppConfig.ready`` so every process (web, workers) registers the same subscribers."""
    if subscriber not in _subscribers:
        _subscribers.append(subscriber)
    return subscriber


def events_processed_unsubscribe(subscriber: Callable[..., Any]) -> None:
    if subscriber in _subscribers:
        _subscribers.remove(subscriber)


def events_processed(*, workspace: Any, event_ids: Sequence[int]) -> None:
    """Tell every subscriber that these events now have their contact resolved and traits applied."""
    if not event_ids:
        return
    for subscriber in list(_subscribers):  # noqa: PERF101 — a copy: a subscriber may unsubscribe itself
        subscriber(workspace=workspace, event_ids=list(event_ids))
