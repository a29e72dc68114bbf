"""The layout of a list page for one request: which columns, which sort, which saved views to offer.

List pages read ``columns`` (comma-separated or repeated), ``sort`` (a column key, ``-`` for descending) and
``view`` (the saved view being shown) from their query string beside their own filters. Anything unknown is
ignored, as a hand-edited URL should still show a list. Without ``columns`` and ``sort`` the page renders as it
always did.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db.models import F, QuerySet
from django.http import QueryDict

from kith.savedviews import selectors
from kith.savedviews.columns import DEFAULT_COLUMNS, ListColumn, available_columns
from kith.savedviews.models import ListKind, SavedView
from kith.web.views.base import MemberRequest

# Query parameters that are the layout or the paging, not the filters a view saves.
LAYOUT_PARAMS = frozenset({"columns", "sort", "view", "after", "page", "format", "csrfmiddlewaretoken"})
PAGE_SIZE = 50
# Offset pages of a sorted list; beyond this a narrower filter serves better than paging (and OFFSET stays cheap).
MAX_PAGE = 200
LIST_URLS = {ListKind.CONTACT: "web:contact_list", ListKind.COMPANY: "web:company_list",
             ListKind.DEAL: "web:deal_list"}
DETAIL_URLS = {ListKind.CONTACT: "web:contact_detail", ListKind.COMPANY: "web:company_detail",
               ListKind.DEAL: "web:deal_detail"}


def filters_query(params: QueryDict) -> str:
    """The filter part of a list query string (what a saved view keeps)."""
    kept = params.copy()
    for name in LAYOUT_PARAMS:
        kept.pop(name, None)
    return kept.urlencode()


def column_keys(params: QueryDict) -> list[str]:
    return [key.strip() for value in params.getlist("columns") for key in value.split(",") if key.strip()]


@dataclass(frozen=True)
class OffsetPage:
    """One page of a sorted list (keyset paging only works in id order)."""

    rows: Sequence[Any]
    number: int
    has_next: bool

    @property
    def is_first(self) -> bool:
        return self.number == 1

    @property
    def next_after(self) -> None:  # the keyset pager of the default layout has nothing to show here
        return None


@dataclass
class ListLayout:
    kind: str
    available: dict[str, ListColumn]
    columns: list[ListColumn]
    sort: str
    custom: bool
    query: str
    base_query: str = ""  # the whole query string but the paging: where page links start
    views: list[SavedView] = field(default_factory=list)
    current: SavedView | None = None

    @property
    def kind_label(self) -> str:
        return ListKind(self.kind).label

    @property
    def list_url_name(self) -> str:
        return LIST_URLS[ListKind(self.kind)]

    @property
    def detail_url_name(self) -> str:
        return DETAIL_URLS[ListKind(self.kind)]

    @property
    def column_keys(self) -> str:
        return ",".join(column.key for column in self.columns)

    @property
    def sortable(self) -> list[ListColumn]:
        return [column for column in self.available.values() if column.order]

    @property
    def filter_items(self) -> list[tuple[str, str]]:
        """The filters as (name, value) pairs, for hidden inputs of the column chooser."""
        return [(name, value) for name, values in QueryDict(self.query).lists() for value in values]

    def export_columns(self) -> list[str] | None:
        """The export columns holding what the page shows; ``None`` (all) in the default layout."""
        if not self.custom:
            return None
        return list(dict.fromkeys(name for column in self.columns for name in column.export))

    def ordered(self, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if not self.sort:
            return queryset
        column = self.available[self.sort.lstrip("-")]
        descending = self.sort.startswith("-")
        assert column.order is not None
        keys = [F(path).desc(nulls_last=True) if descending else F(path).asc(nulls_last=True) for path in column.order]
        return queryset.order_by(*keys, "-id")

    def page(self, queryset: QuerySet[Any], raw_page: str | None) -> OffsetPage:
        number = int(raw_page) if raw_page and raw_page.isdigit() and 0 < int(raw_page) <= MAX_PAGE else 1
        start = (number - 1) * PAGE_SIZE
        rows = list(self.ordered(queryset)[start: start + PAGE_SIZE + 1])
        return OffsetPage(rows=rows[:PAGE_SIZE], number=number,
                          has_next=len(rows) > PAGE_SIZE and number < MAX_PAGE)


def list_layout(request: MemberRequest, *, kind: str) -> ListLayout:
    """The layout the request asks for, with the saved views the member may pick from (two queries)."""
    available = available_columns(workspace=request.workspace, kind=kind)
    wanted = [key for key in dict.fromkeys(column_keys(request.GET)) if key in available]
    sort = request.GET.get("sort", "")
    if sort.lstrip("-") not in available or not available[sort.lstrip("-")].order:
        sort = ""
    keys = wanted or DEFAULT_COLUMNS[ListKind(kind)]
    views = list(selectors.saved_view_list(workspace=request.workspace, user=request.user, kind=kind))
    raw_view = request.GET.get("view", "")
    current = next((view for view in views if str(view.pk) == raw_view), None)
    paging = request.GET.copy()
    paging.pop("after", None)
    paging.pop("page", None)
    return ListLayout(kind=kind, available=available, columns=[available[key] for key in keys if key in available],
                      sort=sort, custom=bool(wanted or sort), query=filters_query(request.GET),
                      base_query=paging.urlencode(), views=views, current=current)
