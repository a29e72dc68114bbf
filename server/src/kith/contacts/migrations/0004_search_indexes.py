"""Full-text and trigram GIN indexes for searching contacts and companies, on PostgreSQL only (see
``kith.search.migration_ops``)."""

from django.db import migrations

from kith.search.migration_ops import CONTACTS_INDEXES, search_indexes_operation


class Migration(migrations.Migration):
    dependencies = [("contacts", "0003_external_id")]

    operations = [search_indexes_operation(CONTACTS_INDEXES)]
