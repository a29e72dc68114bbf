"""The PostgreSQL search indexes, as migration operations (used by contacts migration 0004 and deals migration 0003).

Each index is built by Django from the expression of ``kith.search.documents`` the queries use, so the SQL of the
index and of the query cannot drift apart. SQLite has neither GIN indexes nor ``tsvector``: there the operations do
nothing and search falls back to ``LIKE`` (see ``kith.search.selectors``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib.postgres.indexes import GinIndex, OpClass
from django.db import migrations

from kith.search import documents

# (app label, model, index name, expression factory, trigram?)
IndexSpec = tuple[str, str, str, Callable[[], Any], bool]

CONTACTS_INDEXES: list[IndexSpec] = [
    ("contacts", "Contact", "contact_search_fts_idx", documents.contact_vector, False),
    ("contacts", "Contact", "contact_search_trgm_idx", documents.contact_text, True),
    ("contacts", "Company", "company_search_fts_idx", documents.company_vector, False),
    ("contacts", "Company", "company_search_trgm_idx", documents.company_text, True),
]
DEALS_INDEXES: list[IndexSpec] = [
    ("deals", "Deal", "deal_search_fts_idx", documents.deal_vector, False),
    ("deals", "Deal", "deal_search_trgm_idx", documents.deal_text, True),
]


def _index(spec: IndexSpec) -> GinIndex:
    _, _, name, expression, trigram = spec
    return GinIndex(OpClass(expression(), name="gin_trgm_ops") if trigram else expression(), name=name)


def search_indexes_operation(specs: list[IndexSpec]) -> migrations.RunPython:
    def create(apps: Any, schema_editor: Any) -> None:
        if schema_editor.connection.vendor != "postgresql":
            return
        # The CI and docker-compose database users may create extensions; a managed database without that right
        # needs an administrator to run this statement once before migrating.
        schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        for spec in specs:
            schema_editor.add_index(apps.get_model(spec[0], spec[1]), _index(spec))

    def drop(apps: Any, schema_editor: Any) -> None:
        if schema_editor.connection.vendor != "postgresql":
            return
        for spec in specs:
            schema_editor.remove_index(apps.get_model(spec[0], spec[1]), _index(spec))

    return migrations.RunPython(create, drop, elidable=False)
