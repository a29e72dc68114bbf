"""The extension point for work that follows contact writes (segment membership subscribes here).

Not a Django signal (house style keeps signals for the host boundary): a plain registry, called by the contact
services *inside* their transaction with the ids of the contacts they created or changed. A subscriber that needs
to do real work records it in rows of its own (or with ``enqueue_on_commit``) so that it happens only if the write
commits; it must be cheap (it runs on every contact write) and do no network I/O.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Any, Protocol


class ContactsChangedSubscriber(Protocol):
    def __call__(self, *, workspace: Any, contact_ids: Collection[int]) -> None: ...


_subscribers: list[ContactsChangedSubscriber] = []


def contacts_changed_subscribe(subscriber: ContactsChangedSubscriber) -> ContactsChangedSubscriber:
    """Register ``subscriber(workspace=..., contact_ids=[...])``; usable as a decorator. Call it from an
    ``AppConfig.ready`` so every process (web, workers) registers the same subscribers."""
    if subscriber not in _subscribers:
        _subscribers.append(subscriber)
    return subscriber


def contacts_changed_unsubscribe(subscriber: Callable[..., Any]) -> None:
    if subscriber in _subscribers:
        _subscribers.remove(subscriber)


def contacts_changed(*, workspace: Any, contact_ids: Collection[int]) -> None:
    """Tell every subscriber that these contacts were created or changed (fields, consent, tags, a merge)."""
    ids = sorted({int(pk) for pk in contact_ids if pk is not None})
    if not ids:
        return
    for subscriber in list(_subscribers):  # noqa: PERF101 — a copy: a subscriber may unsubscribe itself
        subscriber(workspace=workspace, contact_ids=ids)
