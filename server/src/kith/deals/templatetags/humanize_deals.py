"""Display helpers of the deals pages."""

from __future__ import annotations

from decimal import Decimal

from django import template

register = template.Library()


@register.filter
def money(value: Decimal | None, currency: str) -> str:
    """``12,500 EUR``: whole amounts without cents, grouped by thousands; the code keeps mixed currencies honest."""
    amount = Decimal(value or 0)
    text = f"{amount:,.0f}" if amount == amount.to_integral_value() else f"{amount:,.2f}"
    return f"{text} {currency}"
