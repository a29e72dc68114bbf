"""``{% dev_inbox_enabled as flag %}``: whether the sidebar links the dev inbox (development only)."""

from __future__ import annotations

from django import template

from kith.messaging.ui.devinbox import dev_inbox_enabled as _enabled

register = template.Library()


@register.simple_tag
def dev_inbox_enabled() -> bool:
    return _enabled()
