"""Writes of the contacts app, split by sub-domain; import them from here.

Every service is one transaction, takes keyword-only arguments, writes its audit row(s) with
``kith.core.audit``, and raises ``kith.contacts.errors.InvalidFields`` (a ``KithError``) naming each bad field.
"""

from kith.contacts.services.bulk import MAX_BULK_ITEMS, BulkItemResult, BulkStatus, contact_bulk_upsert
from kith.contacts.services.company_bulk import company_bulk_write
from kith.contacts.services.companies import company_create, company_delete, company_update, company_upsert
from kith.contacts.services.contacts import contact_create, contact_delete, contact_update, contact_upsert
from kith.contacts.services.duplicates import duplicate_dismiss
from kith.contacts.services.merge import contact_merge, contact_merge_undo, merge_plan, merge_undo_blocker
from kith.contacts.services.custom_fields import (
    contact_settings_update,
    custom_field_definition_create,
    custom_field_definition_delete,
    custom_field_definition_update,
)
from kith.contacts.services.tags import (
    contact_add_tags,
    contact_remove_tags,
    tag_create,
    tag_delete,
    tag_rename,
    tags_get_or_create,
)

__all__ = [
    "MAX_BULK_ITEMS",
    "BulkItemResult",
    "BulkStatus",
    "company_bulk_write",
    "company_create",
    "company_delete",
    "company_update",
    "company_upsert",
    "contact_add_tags",
    "contact_bulk_upsert",
    "contact_create",
    "contact_delete",
    "contact_merge",
    "contact_merge_undo",
    "contact_remove_tags",
    "contact_settings_update",
    "contact_update",
    "contact_upsert",
    "custom_field_definition_create",
    "custom_field_definition_delete",
    "custom_field_definition_update",
    "duplicate_dismiss",
    "merge_plan",
    "merge_undo_blocker",
    "tag_create",
    "tag_delete",
    "tag_rename",
    "tags_get_or_create",
]
