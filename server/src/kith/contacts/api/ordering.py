"""``?ordering=attr.<key>`` (or ``-attr.<key>``): lists ordered by a custom attribute, with keyset cursors.

DRF's cursor pagination keys its cursor on the first ordering field alone and pages through ties with an offset;
a custom attribute has many ties (every contact on the same plan) and many rows without a value, which DRF cannot
place in a cursor at all. So an attribute ordering is always ``(value, id)``, rows without the value last in either
direction, and the cursor carries the last row's ``(has value, value, id)``: each page is one indexed range scan
with a condition on the position, whatever its depth, and no row is skipped or repeated when values tie.

Comparisons use the JSON key lookups of ``JSONField`` (``attributes -> 'seats'`` on PostgreSQL, ``json_extract``
on SQLite), the same expressions the ``ORDER BY`` uses, so the page condition and the order always agree on each
database — numbers compare as numbers, ISO dates and text as text, booleans as booleans.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
from dataclasses import dataclass
from typing import Any

from django.db.models import F, Q, QuerySet
from django.db.models.fields.json import KeyTransform
from rest_framework import filters
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.utils.urls import remove_query_param, replace_query_param

from kith.contacts import selectors
from kith.contacts.attributes import printable
from kith.contacts.models import FieldType, ObjectType
from kith.core.api import CursorPagination

ATTRIBUTE_PREFIX = "attr."
SORT_ALIAS = "_attribute_sort"
# Set on the view by the filter, read by the pagination: the parsed attribute ordering of this request.
VIEW_ATTRIBUTE = "attribute_ordering"


@dataclass(frozen=True)
class AttributeOrdering:
    key: str
    descending: bool


def attribute_ordering_parse(*, raw: str, workspace: Any, object_type: str) -> AttributeOrdering | None:
    """The attribute ordering ``raw`` asks for; ``None`` when it orders by plain fields. Raises a 400 for an
    unknown key, a multiple-choice field (a list has no order) or an attribute mixed with other fields."""
    terms = [term.strip() for term in raw.split(",") if term.strip()]
    if not any(term.lstrip("-").startswith(ATTRIBUTE_PREFIX) for term in terms):
        return None
    if len(terms) > 1:
        raise ValidationError({"ordering": ["Order by one custom attribute alone (ties are ordered by id)."]})
    term = terms[0]
    key = term.lstrip("-").removeprefix(ATTRIBUTE_PREFIX)
    definition = selectors.custom_field_definitions_by_key(workspace=workspace, object_type=object_type).get(key)
    if definition is None:
        raise ValidationError({"ordering": [f"No {object_type} custom field has the key {printable(key)!r}."]})
    if definition.field_type == FieldType.MULTI_CHOICE:
        raise ValidationError({"ordering": ["A multiple-choice field cannot order a list."]})
    return AttributeOrdering(key=key, descending=term.startswith("-"))


class AttributeOrderingFilter(filters.OrderingFilter):
    """DRF's ordering, plus ``attr.<key>``/``-attr.<key>`` on views with ``attribute_object_type``."""

    ordering_description = ("Order by one of the listed fields (`-` for descending, e.g. `-created_at`), or by a "
                            "custom attribute: `attr.<key>` / `-attr.<key>` (rows without a value come last; ties "
                            "by id).")

    def filter_queryset(self, request: Request, queryset: QuerySet[Any], view: Any) -> QuerySet[Any]:
        values = request.query_params.getlist(self.ordering_param)
        parsed = attribute_ordering_parse(
            raw=values[0] if values else "", workspace=view.workspace,
            object_type=getattr(view, "attribute_object_type", ObjectType.CONTACT))
        setattr(view, VIEW_ATTRIBUTE, parsed)
        if parsed is None:
            return super().filter_queryset(request, queryset, view)
        return attribute_ordered(queryset, parsed, reverse=False)


def attribute_ordered(queryset: QuerySet[Any], ordering: AttributeOrdering, *, reverse: bool) -> QuerySet[Any]:
    """``queryset`` in ``ordering`` (rows without the value last), or exactly backwards when ``reverse``."""
    queryset = queryset.annotate(**{SORT_ALIAS: KeyTransform(ordering.key, "attributes")})
    descending = ordering.descending != reverse
    nulls = {"nulls_first": True} if reverse else {"nulls_last": True}
    value = F(SORT_ALIAS).desc(**nulls) if descending else F(SORT_ALIAS).asc(**nulls)
    return queryset.order_by(value, "-id" if descending else "id")


@dataclass(frozen=True)
class Position:
    """Where a page ends: the row's attribute value (``has_value`` False when it has none) and its id."""

    has_value: bool
    value: Any
    id: int


def _beyond(position: Position, *, descending: bool) -> Q:
    """Rows after ``position`` in the order ``(value, id)`` (``descending`` both), rows without a value last."""
    value_after, id_after = ("lt", "lt") if descending else ("gt", "gt")
    if not position.has_value:
        return Q(**{f"{SORT_ALIAS}__isnull": True, f"id__{id_after}": position.id})
    return (Q(**{f"{SORT_ALIAS}__{value_after}": position.value})
            | Q(**{SORT_ALIAS: position.value, f"id__{id_after}": position.id})
            | Q(**{f"{SORT_ALIAS}__isnull": True}))


def _before(position: Position, *, descending: bool) -> Q:
    """Rows before ``position`` in the same order (for the previous page)."""
    value_before, id_before = ("gt", "gt") if descending else ("lt", "lt")
    if not position.has_value:
        return (Q(**{f"{SORT_ALIAS}__isnull": False})
                | Q(**{f"{SORT_ALIAS}__isnull": True, f"id__{id_before}": position.id}))
    return (Q(**{f"{SORT_ALIAS}__{value_before}": position.value})
            | Q(**{SORT_ALIAS: position.value, f"id__{id_before}": position.id}))


class AttributeCursorPagination(CursorPagination):
    """The project's cursor pagination; keyset cursors of ``(value, id)`` when the list is ordered by a custom
    attribute (see the module docstring)."""

    def paginate_queryset(self, queryset: Any, request: Any, view: Any = None) -> Any:
        ordering = getattr(view, VIEW_ATTRIBUTE, None)
        self._attribute_ordering = ordering
        if ordering is None:
            return super().paginate_queryset(queryset, request, view)
        self.request = request
        self.page_size = self.get_page_size(request)
        self.base_url = request.build_absolute_uri()
        reverse, position = self._attribute_cursor(request)
        if position is not None:
            condition = (_before if reverse else _beyond)(position, descending=ordering.descending)
            queryset = queryset.filter(condition)
        if reverse:
            queryset = attribute_ordered(queryset, ordering, reverse=True)
        rows = list(queryset[: self.page_size + 1])
        more = len(rows) > self.page_size
        page = rows[: self.page_size]
        if reverse:
            page.reverse()
        self.page = page
        # Going forward: a next page when a row was left over, a previous one when we did not start at the top.
        # Going back: the mirror image.
        self._has_next = more if not reverse else position is not None
        self._has_previous = position is not None if not reverse else more
        return page

    def _position_of(self, row: Any) -> Position:
        value = row.attributes.get(self._attribute_ordering.key) if isinstance(row.attributes, dict) else None
        return Position(has_value=value is not None, value=value, id=row.pk)

    def _attribute_cursor(self, request: Any) -> tuple[bool, Position | None]:
        raw = request.query_params.get(self.cursor_query_param)
        if not raw:
            return False, None
        try:
            data = json.loads(base64.urlsafe_b64decode(raw.encode("ascii")).decode("utf-8"))
            reverse, has_value, value, pk = data["r"], data["h"], data["v"], data["i"]
            if not (isinstance(reverse, bool) and isinstance(has_value, bool) and isinstance(pk, int)
                    and not isinstance(pk, bool) and 0 < pk < 2**63
                    and (value is None or isinstance(value, str | int | bool)
                         or (isinstance(value, float) and math.isfinite(value)))):
                raise ValueError("bad cursor")
        except (ValueError, KeyError, TypeError, UnicodeError, binascii.Error) as exc:
            raise ValidationError({self.cursor_query_param: [self.invalid_cursor_message]}) from exc
        return reverse, Position(has_value=has_value, value=value, id=pk)

    def _link(self, position: Position, *, reverse: bool) -> str:
        payload = {"r": reverse, "h": position.has_value, "v": position.value, "i": position.id}
        encoded = base64.urlsafe_b64encode(json.dumps(payload, separators=(",", ":")).encode()).decode("ascii")
        return replace_query_param(self.base_url, self.cursor_query_param, encoded)

    def get_next_link(self) -> str | None:
        if getattr(self, "_attribute_ordering", None) is None:
            return super().get_next_link()
        if not self._has_next or not self.page:
            return None
        return self._link(self._position_of(self.page[-1]), reverse=False)

    def get_previous_link(self) -> str | None:
        if getattr(self, "_attribute_ordering", None) is None:
            return super().get_previous_link()
        if not self._has_previous:
            return None
        if not self.page:
            return remove_query_param(self.base_url, self.cursor_query_param)
        return self._link(self._position_of(self.page[0]), reverse=True)
