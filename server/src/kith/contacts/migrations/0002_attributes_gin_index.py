"""GIN indexes on contacts' and companies' ``attributes`` for the ``?attr.<key>=`` filters, on PostgreSQL only.

The filters compile to jsonb containment (``attributes @> '{"plan": "pro"}'``), which a ``jsonb_path_ops`` GIN
index answers without scanning the workspace's rows. SQLite has no GIN indexes (and no ``@>``); there the filters
compare extracted JSON values instead, so these operations do nothing.
"""

from typing import Any

from django.db import migrations

INDEXES = [
    ("contacts_contact_attrs_gin", "contacts_contact"),
    ("contacts_company_attrs_gin", "contacts_company"),
]


def create_indexes(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, table in INDEXES:
        schema_editor.execute(f'CREATE INDEX IF NOT EXISTS "{name}" ON "{table}" USING gin ("attributes" jsonb_path_ops)')


def drop_indexes(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, _ in INDEXES:
        schema_editor.execute(f'DROP INDEX IF EXISTS "{name}"')


class Migration(migrations.Migration):
    dependencies = [("contacts", "0001_initial")]

    operations = [migrations.RunPython(create_indexes, drop_indexes, elidable=False)]
