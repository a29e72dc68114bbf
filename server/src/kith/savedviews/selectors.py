"""Reads of saved views: a member sees their own views and the shared views of their workspace."""

from __future__ import annotations

from typing import Any

from django.db.models import Q, QuerySet

from kith.accounts.models import Workspace
from kith.core.errors import NotFound
from kith.savedviews.models import SavedView


def saved_view_list(*, workspace: Workspace, user: Any, kind: str) -> QuerySet[SavedView]:
    return (SavedView.objects.for_workspace(workspace).filter(kind=kind)
            .filter(Q(owner=user) | Q(shared=True)).select_related("owner").order_by("name", "id"))


def saved_view_get(*, workspace: Workspace, user: Any, view_id: int) -> SavedView:
    view = (SavedView.objects.for_workspace(workspace).filter(Q(owner=user) | Q(shared=True))
            .filter(pk=view_id).select_related("owner").first())
    if view is None:
        raise NotFound("No such view.")
    return view
