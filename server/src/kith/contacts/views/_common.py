"""What the contacts and companies pages share: writer checks, keyset pages and copying service errors onto forms."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from django import forms
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet

from kith.contacts.errors import InvalidFields
from kith.core.errors import KithError, NotFound
from kith.web.forms import add_domain_error
from kith.web.views.base import MemberRequest

T = TypeVar("T")
PAGE_SIZE = 50


def require_writer(request: MemberRequest) -> None:
    if not request.membership.can_write:
        raise PermissionDenied("Viewers can look at contacts and companies but not change them.")


def service_errors_to_form(form: forms.Form, exc: KithError) -> None:
    """Show a service's refusal on the fields it names (``attributes.plan`` and unknown names go above the form)."""
    if isinstance(exc, InvalidFields):
        for field, errors in exc.errors.items():
            form.add_error(field if field in form.fields else None, errors)
    elif isinstance(exc, NotFound):
        form.add_error(None, exc.message)
    else:
        add_domain_error(form, exc)


@dataclass(frozen=True)
class KeysetPage:
    """One page of a newest-first list, read as ``id < after`` plus one extra row to know whether more exist.

    No ``COUNT(*)``: at 100k contacts a count on every keystroke of the search box would cost more than the page.
    """

    rows: Sequence[Any]
    next_after: int | None
    is_first: bool


def keyset_page(queryset: QuerySet[Any], after: str | None, size: int = PAGE_SIZE) -> KeysetPage:
    start: int | None = int(after) if after and after.isdigit() and len(after) < 19 else None
    if start is not None:
        queryset = queryset.filter(pk__lt=start)
    rows = list(queryset[: size + 1])
    more = len(rows) > size
    rows = rows[:size]
    return KeysetPage(rows=rows, next_after=rows[-1].pk if more else None, is_first=start is None)


def attribute_rows(attributes: dict[str, Any], definitions: dict[str, Any]) -> list[tuple[str, str]]:
    """Custom attributes as (label, printable value) pairs, labelled by their definitions where one exists."""

    def shown(value: Any) -> str:
        if isinstance(value, bool):
            return "Yes" if value else "No"
        if isinstance(value, list):
            return ", ".join(str(item) for item in value)
        return "—" if value is None or value == "" else str(value)

    return [(definitions[key].label if key in definitions else key, shown(value))
            for key, value in sorted(attributes.items())]
