"""What every bulk write of the CRM shares (contacts, companies, deals, tasks): the size bound, the per-item result,
the one-statement writes with a row-by-row fallback, and the summary the API answers with.

A bulk write validates every item in memory against references loaded once for the whole request, then writes
the good items with one ``bulk_create`` and one (batched) ``bulk_update``; the bad items get their field errors and
the good ones are saved anyway. When a statement fails on a unique index because a concurrent writer took a value
since the lookup, the rows are written again one savepoint each so that only the losing rows fail
(``insert_all_or_each``/``update_all_or_each``).
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, models, transaction

from kith.contacts.errors import InvalidFields

# One request of 1,000 items stays well under the 5 MB request limit and a few seconds of work; larger loads go
# through imports.
MAX_BULK_ITEMS = 1000
# bulk_update builds one CASE per field per row; batches keep each statement a reasonable size.
UPDATE_BATCH_SIZE = 200


class BulkStatus(enum.StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    UNCHANGED = "unchanged"
    ERROR = "error"


# The per-item statuses as the OpenAPI document names them (settings.SPECTACULAR_SETTINGS["ENUM_NAME_OVERRIDES"]).
BULK_STATUS_VALUES = [status.value for status in BulkStatus]


@dataclass(frozen=True)
class BulkItemResult:
    index: int
    status: BulkStatus
    id: int | None = None
    errors: dict[str, list[str]] | None = None


def bulk_size_check(items: Sequence[Any]) -> None:
    """Refuse the request as a whole when it has more than ``MAX_BULK_ITEMS`` items."""
    if len(items) > MAX_BULK_ITEMS:
        raise InvalidFields({"items": [f"At most {MAX_BULK_ITEMS} items per request."]})


def bulk_error(results: dict[int, BulkItemResult], index: int, errors: dict[str, list[str]]) -> None:
    results[index] = BulkItemResult(index=index, status=BulkStatus.ERROR, errors=errors)


def bulk_saved_status(*, created: bool, changed: bool) -> BulkStatus:
    return BulkStatus.CREATED if created else BulkStatus.UPDATED if changed else BulkStatus.UNCHANGED


def insert_all_or_each(objects: Sequence[models.Model], *, lost: Callable[[int], None]) -> None:
    """Insert ``objects`` in one statement. If a unique index refuses it (a concurrent writer took a value since
    the caller's lookup), insert them one savepoint each and call ``lost(position)`` for each refused one (its pk
    stays ``None``)."""
    if not objects:
        return
    model = type(objects[0])
    try:
        with transaction.atomic():
            model.objects.bulk_create(objects)
        return
    except IntegrityError:
        for obj in objects:
            obj.pk = None
    for position, obj in enumerate(objects):
        try:
            with transaction.atomic():
                obj.save(force_insert=True)
        except IntegrityError:
            obj.pk = None
            lost(position)


def update_all_or_each(objects: Sequence[models.Model], changed: Sequence[Sequence[str]], *,
                       lost: Callable[[int], None]) -> None:
    """Write the ``changed`` fields of each of ``objects`` (plus ``updated_at``) with ``bulk_update``; on a unique
    index conflict, one savepoint per row, calling ``lost(position)`` for the rows that still conflict."""
    if not objects:
        return
    model = type(objects[0])
    fields = sorted({name for names in changed for name in names} | {"updated_at"})
    try:
        with transaction.atomic():
            model.objects.bulk_update(objects, fields, batch_size=UPDATE_BATCH_SIZE)
        return
    except IntegrityError:
        pass
    for position, (obj, names) in enumerate(zip(objects, changed, strict=True)):
        try:
            with transaction.atomic():
                obj.save(update_fields=sorted({*names, "updated_at"}))
        except IntegrityError:
            lost(position)


def bulk_summary(results: Sequence[BulkItemResult | Any]) -> dict[str, Any]:
    """The API's answer to a bulk request: counts per status and one result per item, in request order. Takes any
    result with ``index``, ``status``, ``id`` and ``errors`` (the tasks service's results carry the task too)."""
    counts = {status.value: 0 for status in BulkStatus}
    for result in results:
        counts[BulkStatus(result.status).value] += 1
    return {"created": counts["created"], "updated": counts["updated"], "unchanged": counts["unchanged"],
            "errors": counts["error"],
            "results": [{"index": r.index, "status": BulkStatus(r.status).value, "id": r.id, "errors": r.errors}
                        for r in results]}
