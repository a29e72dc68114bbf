"""Writes of in-app notifications: create (internal links only), mark read, mark all read.

Marking read is the recipient's own bookkeeping, not a change to shared data, so it writes no audit row.
"""

from __future__ import annotations

from typing import Any

from kith.core import clock
from kith.core.errors import KithError
from kith.tasks.models import Notification


def internal_path(url: str) -> str:
    """``url`` if it is a path on this site (``/tasks/3/``); raises otherwise. Notifications are shown as links,
    and a stored off-site or scheme URL (``//evil.test``, ``javascript:``) would turn one into a phishing link."""
    if url and (not url.startswith("/") or url.startswith("//") or "\\" in url or any(ord(c) < 32 for c in url)):
        raise KithError("A notification links to a path on this site, such as /tasks/1/.", field="url")
    return url


def notification_create(*, workspace: Any, recipient: Any, kind: str, text: str, url: str = "",
                        task: Any = None) -> Notification:
    return Notification.objects.create(workspace=workspace, recipient=recipient, kind=kind, text=text[:500],
                                       url=internal_path(url), task=task)


def notification_mark_read(*, notification: Notification) -> Notification:
    """Mark one notification read (a no-op when it already is; the first read time is kept)."""
    if notification.read_at is None:
        now = clock.now()
        Notification.objects.filter(pk=notification.pk, read_at__isnull=True).update(read_at=now, updated_at=now)
        notification.refresh_from_db(fields=["read_at", "updated_at"])
    return notification


def notification_mark_all_read(*, workspace: Any, user: Any) -> int:
    """Mark every unread notification of ``user`` in ``workspace`` read, in one UPDATE; returns how many."""
    if getattr(user, "pk", None) is None:
        return 0
    now = clock.now()
    return (Notification.objects.for_workspace(workspace).filter(recipient_id=user.pk, read_at__isnull=True)
            .update(read_at=now, updated_at=now))
