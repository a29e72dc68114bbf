"""Errors of the contacts app. All are ``KithError``s, so the API turns them into 400s with field errors."""

from __future__ import annotations

from kith.core.errors import KithError


class InvalidFields(KithError, ValueError):
    """One or more fields of a write are invalid.

    ``errors`` maps every bad field (``email``, ``attributes.plan``) to its messages, so one answer names all of
    them; ``field`` and ``message`` are the first, for callers that show a single error.
    """

    def __init__(self, errors: dict[str, list[str]]) -> None:
        if not errors:
            raise ValueError("InvalidFields needs at least one error.")
        field, messages = next(iter(errors.items()))
        super().__init__(messages[0], field=field)
        self.errors = errors


class FieldErrors:
    """Collects field errors while a write is cleaned, then raises them together."""

    def __init__(self) -> None:
        self.errors: dict[str, list[str]] = {}

    def add(self, field: str, message: str) -> None:
        self.errors.setdefault(field, []).append(message)

    def merge(self, other: InvalidFields) -> None:
        for field, messages in other.errors.items():
            for message in messages:
                self.add(field, message)

    def __bool__(self) -> bool:
        return bool(self.errors)

    def raise_if_any(self) -> None:
        if self.errors:
            raise InvalidFields(self.errors)


class DuplicateRecord(InvalidFields):
    """A unique value (a contact's e-mail or external id, a company's domain) is already taken in the workspace.

    Its own class so that upserts can tell "someone else created it first" (retry as an update) from bad input.
    """
