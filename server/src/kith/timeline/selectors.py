"""Reads of the timeline: always for one subject inside one workspace, newest first."""

from __future__ import annotations

from typing import Any

from django.db.models import Q, QuerySet

from kith.contacts.selectors import sees_only_own
from kith.core.errors import NotFound
from kith.timeline.models import Activity


def timeline_for_contact(*, workspace: Any, contact: Any) -> QuerySet[Activity]:
    return (Activity.objects.for_workspace(workspace).filter(contact=contact).select_related("actor")
            .order_by("-occurred_at", "-id"))


def timeline_for_company(*, workspace: Any, company: Any) -> QuerySet[Activity]:
    return (Activity.objects.for_workspace(workspace).filter(company=company).select_related("actor")
            .order_by("-occurred_at", "-id"))


def timeline_for_deal(*, workspace: Any, deal: Any) -> QuerySet[Activity]:
    return (Activity.objects.for_workspace(workspace).filter(deal=deal).select_related("actor")
            .order_by("-occurred_at", "-id"))


def activity_list(*, workspace: Any, membership: Any) -> QuerySet[Activity]:
    """Every timeline entry ``membership`` may see, newest first. A member limited to their own records
    (``kith.contacts.selectors.sees_only_own``) sees an entry when they see one of its subjects, exactly as the
    detail pages show it: a call logged on a contact they own shows even though it also names a colleague's
    company."""
    queryset = Activity.objects.for_workspace(workspace).select_related("actor").order_by("-occurred_at", "-id")
    if sees_only_own(membership):
        user_id = membership.user_id
        queryset = queryset.filter(Q(contact__owner_id=user_id) | Q(company__owner_id=user_id)
                                   | Q(deal__owner_id=user_id))
    return queryset


def activity_get(*, workspace: Any, membership: Any, activity_id: int) -> Activity:
    activity = activity_list(workspace=workspace, membership=membership).filter(pk=activity_id).first()
    if activity is None:
        raise NotFound("No such timeline entry.")
    return activity
