"""Writes of saved views. Any member may keep personal views (they change nothing but their own screen); sharing a
view with the workspace takes a member who may write, and only its owner or an admin may delete a shared view."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db import transaction
from django.http import QueryDict

from kith.accounts.models import Membership, Workspace
from kith.contacts.errors import FieldErrors
from kith.core.audit import audit_record, snapshot
from kith.core.errors import PermissionDenied
from kith.savedviews.columns import available_columns
from kith.savedviews.layout import filters_query
from kith.savedviews.models import ListKind, SavedView

MAX_QUERY_LENGTH = 2000
MAX_COLUMNS = 40
AUDITED = ("kind", "name", "query", "columns", "sort", "shared")


def _clean(*, workspace: Workspace, kind: str, name: str, query: str, columns: Sequence[str],
           sort: str) -> tuple[str, str, list[str], str]:
    errors = FieldErrors()
    if kind not in ListKind.values:
        errors.add("kind", "Choose contacts, companies or deals.")
        errors.raise_if_any()
    name = " ".join(name.split())
    if not name:
        errors.add("name", "Give the view a name.")
    elif len(name) > 100:
        errors.add("name", "At most 100 characters.")
    query = filters_query(QueryDict(query))
    if len(query) > MAX_QUERY_LENGTH:
        errors.add("query", f"The filters may be at most {MAX_QUERY_LENGTH:,} characters long.")
    available = available_columns(workspace=workspace, kind=kind)
    columns = list(dict.fromkeys(columns))
    unknown = [key for key in columns if key not in available]
    if unknown:
        errors.add("columns", f"Unknown column(s): {', '.join(k[:40] for k in unknown[:5])}.")
    elif len(columns) > MAX_COLUMNS:
        errors.add("columns", f"At most {MAX_COLUMNS} columns.")
    if sort and (sort.lstrip("-") not in available or not available[sort.lstrip("-")].order):
        errors.add("sort", "This column cannot be sorted by.")
    errors.raise_if_any()
    return name, query, columns, sort


def saved_view_save(*, workspace: Workspace, membership: Membership, actor: Any, kind: str, name: str, query: str,
                    columns: Sequence[str], sort: str, shared: bool) -> SavedView:
    """Save the layout under ``name``; the member's view of that name (of this kind) is replaced. Raises
    ``InvalidFields`` naming bad fields, ``PermissionDenied`` when a viewer tries to share."""
    name, query, columns, sort = _clean(workspace=workspace, kind=kind, name=name, query=query, columns=columns,
                                        sort=sort)
    if shared and not membership.can_write:
        raise PermissionDenied("Viewers can keep personal views but not share them.", field="shared")
    with transaction.atomic():
        view, created = SavedView.objects.select_for_update().get_or_create(
            workspace=workspace, kind=kind, owner_id=membership.user_id, name=name,
            defaults={"query": query, "columns": columns, "sort": sort, "shared": shared})
        before = None if created else snapshot(view, AUDITED)
        if not created:
            view.query, view.columns, view.sort, view.shared = query, columns, sort, shared
            view.save(update_fields=["query", "columns", "sort", "shared", "updated_at"])
        audit_record(action="saved_view.created" if created else "saved_view.updated", actor=actor,
                     workspace=workspace, target=view, before=before, after=snapshot(view, AUDITED))
    return view


def saved_view_delete(*, view: SavedView, membership: Membership, actor: Any) -> None:
    if view.owner_id != membership.user_id and not membership.is_admin:
        raise PermissionDenied("Only its owner or an admin can delete a shared view.")
    with transaction.atomic():
        audit_record(action="saved_view.deleted", actor=actor, workspace=view.workspace, target=view,
                     before=snapshot(view, AUDITED))
        view.delete()
