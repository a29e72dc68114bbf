"""Reads of the timeline: always for one subject inside one workspace, newest first."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

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
