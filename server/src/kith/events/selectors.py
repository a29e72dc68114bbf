"""Reads of events. Every read starts from the caller's workspace and follows the contacts' access rule: a member
limited to their own records sees only events of contacts they own (not anonymous ones, which belong to nobody)."""

from __future__ import annotations

from django.db.models import QuerySet

from kith.accounts.models import Membership, Workspace
from kith.contacts.selectors import sees_only_own
from kith.events.models import Event, EventSettings


def event_list(*, workspace: Workspace, membership: Membership | None) -> QuerySet[Event]:
    """Events ``membership`` may see (``None``: an API key or the system, which see all), newest first."""
    events = Event.objects.filter(workspace=workspace)
    if sees_only_own(membership):
        assert membership is not None
        events = events.filter(contact__owner_id=membership.user_id)
    return events.order_by("-id")


def event_recent(*, workspace: Workspace, limit: int = 50) -> list[Event]:
    """The latest events for the debugger page, contact loaded in the same query."""
    return list(Event.objects.filter(workspace=workspace).select_related("contact").order_by("-id")[:limit])


def event_settings_get(*, workspace: Workspace) -> EventSettings:
    """The workspace's settings, or unsaved defaults when it has none yet."""
    return EventSettings.objects.filter(workspace=workspace).first() or EventSettings(workspace=workspace)
