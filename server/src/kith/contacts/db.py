"""Database expressions the ORM lacks, written once for PostgreSQL and SQLite."""

from __future__ import annotations

from typing import Any

from django.db import NotSupportedError
from django.db.models import Func, JSONField, Value


class JSONRemoveKey(Func):
    """``attributes`` without the top-level ``key``: ``jsonb - key`` on PostgreSQL, ``json_remove`` on SQLite.

    Lets one UPDATE strip a deleted custom field from every row instead of rewriting rows one by one.
    """

    output_field = JSONField()

    def __init__(self, expression: Any, key: str) -> None:
        super().__init__(expression, Value(key))
        self.key = key

    def as_sql(self, compiler: Any, connection: Any, **extra: Any) -> tuple[str, list[Any]]:
        raise NotSupportedError(f"JSONRemoveKey supports PostgreSQL and SQLite, not {connection.vendor}.")

    def as_postgresql(self, compiler: Any, connection: Any, **extra: Any) -> tuple[str, list[Any]]:
        column, params = compiler.compile(self.source_expressions[0])
        return f"({column} - %s::text)", [*params, self.key]

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> tuple[str, list[Any]]:
        column, params = compiler.compile(self.source_expressions[0])
        # Keys are validated slugs (kith.contacts.attributes.KEY_PATTERN); the path is still a bound parameter.
        return f"json_remove({column}, %s)", [*params, f'$."{self.key}"']
