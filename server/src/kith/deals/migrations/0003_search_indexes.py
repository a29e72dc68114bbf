"""Full-text and trigram GIN indexes for searching deals, on PostgreSQL only (see ``kith.search.migration_ops``)."""

from django.db import migrations

from kith.search.migration_ops import DEALS_INDEXES, search_indexes_operation


class Migration(migrations.Migration):
    dependencies = [("deals", "0002_external_id"), ("contacts", "0004_search_indexes")]

    operations = [search_indexes_operation(DEALS_INDEXES)]
