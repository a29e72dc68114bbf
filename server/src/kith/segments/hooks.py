"""The extension point for work that follows segment membership changes (workflows and drips subscribe here).

Not a Django signal (house style keeps signals for the host boundary): a plain registry. ``kith.segments.membership``
calls every subscriber *after* the transaction that changed the membership rows has committed, once per segment
whose members changed, with the contacts that entered and the contacts that left::

    fn(workspace=<Workspace>, segment_id=12, entered=[3, 5], left=[9])

A contact appears in ``entered`` exactly once per time it starts matching (the row insert that reports it is
``INSERT … ON CONFLICT DO NOTHING RETURNING``, so two concurrent refreshes cannot both report it). Because the call
happens after commit, a process that dies between the commit and the call loses the notification: subscribers that
must not miss anyone also reconcile from ``SegmentMembership`` rows periodically (the drips engine does). A
subscriber that raises is logged, the other subscribers are still called, and the error is then re-raised so the
job that announced the change is marked failed (the membership change itself is committed and stays).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any, Protocol

logger = logging.getLogger(__name__)


class SegmentMembershipChangedSubscriber(Protocol):
    def __call__(self, *, workspace: Any, segment_id: int, entered: Sequence[int], left: Sequence[int]) -> None: ...


_subscribers: list[SegmentMembershipChangedSubscriber] = []


def segment_membership_changed_subscribe(
    subscriber: SegmentMembershipChangedSubscriber,
) -> SegmentMembershipChangedSubscriber:
    """Register ``subscriber(workspace=..., segment_id=int, entered=[ids], left=[ids])``; usable as a decorator.
    Call it from an ``AppConfig.ready`` so every process (web, workers) registers the same subscribers."""
    if subscriber not in _subscribers:
        _subscribers.append(subscriber)
    return subscriber


def segment_membership_changed_unsubscribe(subscriber: Callable[..., Any]) -> None:
    if subscriber in _subscribers:
        _subscribers.remove(subscriber)


def segment_membership_changed(*, workspace: Any, segment_id: int, entered: Sequence[int], left: Sequence[int]) -> None:
    """Tell every subscriber about one segment's change (called after commit by ``kith.segments.membership``)."""
    if not entered and not left:
        return
    failures: list[Exception] = []
    for subscriber in list(_subscribers):  # noqa: PERF101 — a copy: a subscriber may unsubscribe itself
        try:
            subscriber(workspace=workspace, segment_id=int(segment_id), entered=sorted(entered), left=sorted(left))
        except Exception as exc:  # one subscriber's failure must not silence the others; re-raised below
            logger.exception("segments: membership subscriber %r failed for segment %s", subscriber, segment_id)
            failures.append(exc)
    if failures:
        raise failures[0]
