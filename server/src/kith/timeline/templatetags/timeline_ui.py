"""``{% activity_log_form action %}``: the "log a note, call or meeting" form, for pages whose views do not pass one
(the deal page)."""

from __future__ import annotations

from typing import Any

from django import template

from kith.contacts.forms import ActivityForm

register = template.Library()


@register.inclusion_tag("timeline/_log_form_standalone.html")
def activity_log_form(action: str) -> dict[str, Any]:
    return {"action": action, "activity_form": ActivityForm()}
