"""``{% may_export as can_export %}``: whether the current member may download lists (the Export menus ask)."""

from __future__ import annotations

from typing import Any

from django import template

from kith.contacts.exports import may_export as _may_export

register = template.Library()


@register.simple_tag(takes_context=True)
def may_export(context: dict[str, Any]) -> bool:
    request = context.get("request")
    membership = getattr(request, "membership", None)
    return membership is not None and _may_export(membership)
