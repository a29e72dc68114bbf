"""OpenAPI document extras: every operation documents the error responses our one error format can produce."""

from __future__ import annotations

from typing import Any

ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {
                "code": {"type": "string", "example": "invalid"},
                "message": {"type": "string"},
                "fields": {
                    "type": "object",
                    "description": "Per-field messages; present on validation errors.",
                    "additionalProperties": {},
                },
            },
        }
    },
}

_DESCRIPTIONS = {
    "400": "The request is invalid; `error.fields` names each bad field.",
    "401": "Missing, invalid or revoked credentials.",
    "403": "Authenticated, but the role or key scope does not allow this.",
    "404": "No such object in this workspace.",
    "406": "The Accept header asks for a format other than JSON.",
    "409": "The request conflicts with the current state (a duplicate, or a rule such as 'keep one owner').",
    "413": "The request body is too large.",
    "415": "The body is not JSON (send Content-Type: application/json).",
    "429": "Too many requests; retry later.",
}


def add_error_responses(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict[str, Any]:
    """drf-spectacular postprocessing hook: add the shared Error schema and the error responses to every operation."""
    result.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
    ref = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    for path, operations in result.get("paths", {}).items():
        if not path.startswith("/api/v1/"):
            continue
        for method, operation in operations.items():
            if method not in {"get", "post", "put", "patch", "delete"}:
                continue
            responses = operation.setdefault("responses", {})
            for status, description in _DESCRIPTIONS.items():
                responses.setdefault(status, {"description": description, "content": ref})
    return result
