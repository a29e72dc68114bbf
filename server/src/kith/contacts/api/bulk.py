"""The API side of every CRM bulk endpoint (``POST /<objects>/bulk/``): the request envelope, the per-item result
and the summary, one shape for contacts, companies, deals and tasks (``kith.contacts.bulk`` is the service side)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiExample
from rest_framework import serializers

from kith.contacts.bulk import MAX_BULK_ITEMS, BulkStatus

BULK_DESCRIPTION = (
    "Every item gets its own result; good items are saved even when others fail. A request whose items do not "
    f"match the documented shape, or with more than {MAX_BULK_ITEMS} items, is refused as a whole (400). Send an "
    "`Idempotency-Key` to retry a request safely."
)


class BulkItemResultSerializer(serializers.Serializer):
    index = serializers.IntegerField(help_text="Position of the item in the request.")
    status = serializers.ChoiceField(choices=[(s.value, s.value) for s in BulkStatus])
    id = serializers.IntegerField(allow_null=True, help_text="The object's id; null for an error.")
    errors = serializers.DictField(child=serializers.ListField(child=serializers.CharField()), allow_null=True,
                                   help_text="Messages per field; null unless status is error.")


class BulkResultSerializer(serializers.Serializer):
    created = serializers.IntegerField()
    updated = serializers.IntegerField()
    unchanged = serializers.IntegerField()
    errors = serializers.IntegerField()
    results = BulkItemResultSerializer(many=True)


def bulk_request_serializer(name: str, item: type[serializers.Serializer], help_text: str) -> type[Any]:
    """``{"items": [<item>, ...]}`` with 1 to ``MAX_BULK_ITEMS`` items, as a named serializer class."""
    return type(name, (serializers.Serializer,), {
        "items": item(many=True, allow_empty=False, max_length=MAX_BULK_ITEMS, help_text=help_text),
        "__doc__": f"Up to {MAX_BULK_ITEMS} items.",
    })


def bulk_result_example(results: list[dict[str, Any]]) -> OpenApiExample:
    """The documented answer for ``results`` (each ``{"index", "status", "id", "errors"}``), counts included."""
    counts = {status.value: sum(1 for r in results if r["status"] == status.value) for status in BulkStatus}
    return OpenApiExample("Per-item results", response_only=True, value={
        "created": counts["created"], "updated": counts["updated"], "unchanged": counts["unchanged"],
        "errors": counts["error"], "results": results})
