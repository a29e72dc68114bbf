"""``{{ row|cell:column }}``: what a list column shows for a row, as text (the template escapes it)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import template
from django.utils import formats, timezone

from kith.savedviews.columns import ListColumn

register = template.Library()


@register.filter
def cell(row: Any, column: ListColumn) -> str:
    value = column.value(row)
    if value is None or value == "" or value == []:
        return "—"
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, list | tuple):
        return ", ".join(str(item) for item in value)
    if isinstance(value, dt.datetime):
        return formats.date_format(timezone.localtime(value), "M j, Y H:i")
    if isinstance(value, dt.date):
        return formats.date_format(value, "M j, Y")
    return str(value)


@register.simple_tag
def sort_link(layout: Any, column: ListColumn) -> str:
    """The ``sort`` value a click on ``column``'s header asks for: ascending first, then descending."""
    return f"-{column.key}" if layout.sort == column.key else column.key
