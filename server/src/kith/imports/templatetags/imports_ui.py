"""``{% may_import "contacts" as can_import %}``: whether the current member may import records of a kind, for the
Import buttons on the list pages."""

from __future__ import annotations

from typing import Any

from django import template

from kith.imports.permissions import can_import

register = template.Library()


@register.simple_tag(takes_context=True)
def may_import(context: dict[str, Any], kind: str) -> bool:
    request = context.get("request")
    return can_import(getattr(request, "membership", None), kind)
