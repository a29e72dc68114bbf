"""The columns a list page can show, per kind: built-in fields and (contacts, companies) one per custom field.

A column knows how to show a row, which ORM path sorts by it (``None``: not sortable) and which export columns
hold the same data, so the Export menu downloads what the page shows. Custom attributes sort through the JSON
key (``attributes__plan``): PostgreSQL compares jsonb numbers as numbers, SQLite's json_extract likewise.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kith.accounts.models import Workspace
from kith.contacts import selectors as contact_selectors
from kith.contacts.models import ObjectType
from kith.savedviews.models import ListKind

ATTRIBUTE_PREFIX = "attr."


@dataclass(frozen=True)
class ListColumn:
    key: str
    label: str
    value: Callable[[Any], Any]
    order: tuple[str, ...] | None = None
    export: tuple[str, ...] = ()


def _get(path: str) -> Callable[[Any], Any]:
    def read(row: Any) -> Any:
        for part in path.split("."):
            row = getattr(row, part, None)
            if row is None:
                return None
        return row

    return read


def _display(field: str) -> Callable[[Any], Any]:
    return lambda row: getattr(row, f"get_{field}_display")()


def _col(key: str, label: str, *, value: Callable[[Any], Any] | None = None, order: tuple[str, ...] | None = None,
         export: tuple[str, ...] | None = None, sortable: bool = True) -> ListColumn:
    return ListColumn(key=key, label=label, value=value or _get(key),
                      order=(order or (key,)) if sortable else None, export=export or (key,))


_OWNER = _col("owner", "Owner", value=_get("owner.display_name"), order=("owner__email",), export=("owner_email",))

CONTACT_COLUMNS = [
    _col("name", "Name", value=lambda c: c.full_name or c.email or c.phone or "(no name)",
         order=("first_name", "last_name"), export=("first_name", "last_name")),
    _col("email", "E-mail"), _col("phone", "Phone"),
    _col("company_name", "Company", value=_get("company.name"), order=("company__name",)),
    _col("lifecycle_stage", "Stage", value=_display("lifecycle_stage")),
    _col("lead_status", "Lead status", value=_display("lead_status")),
    _OWNER,
    _col("tags", "Tags", value=lambda c: [tag.name for tag in c.tags.all()], sortable=False),
    _col("email_consent", "E-mail consent", value=_display("email_consent")),
    _col("sms_consent", "SMS consent", value=_display("sms_consent")),
    _col("engagement_score", "Score"), _col("last_seen_at", "Last seen"), _col("source", "Source"),
    _col("external_id", "External id"), _col("created_at", "Created"), _col("updated_at", "Updated"),
]
COMPANY_COLUMNS = [
    _col("name", "Name"), _col("domain", "Domain"), _col("industry", "Industry"),
    _col("size", "Size", value=_display("size")), _OWNER, _col("external_id", "External id"),
    _col("created_at", "Created"), _col("updated_at", "Updated"),
]
DEAL_COLUMNS = [
    _col("name", "Deal"), _col("pipeline_name", "Pipeline", value=_get("pipeline.name"), order=("pipeline__name",)),
    _col("stage_name", "Stage", value=_get("stage.name"), order=("stage__position",)),
    _col("status", "Status", value=_display("status")),
    _col("value", "Value", value=lambda d: f"{d.value:,} {d.currency}", export=("value", "currency")),
    _col("expected_close_date", "Expected close"), _OWNER,
    _col("contact_email", "Contact", value=_get("contact.email"), order=("contact__email",)),
    _col("company_name", "Company", value=_get("company.name"), order=("company__name",)),
    _col("external_id", "External id"), _col("closed_at", "Closed"), _col("created_at", "Created"),
]
BUILT_IN = {ListKind.CONTACT: CONTACT_COLUMNS, ListKind.COMPANY: COMPANY_COLUMNS, ListKind.DEAL: DEAL_COLUMNS}
DEFAULT_COLUMNS = {
    ListKind.CONTACT: ["name", "email", "company_name", "lifecycle_stage", "lead_status", "owner", "tags"],
    ListKind.COMPANY: ["name", "domain", "industry", "size", "owner"],
    ListKind.DEAL: ["name", "stage_name", "value", "owner", "contact_email", "expected_close_date"],
}
_ATTRIBUTE_TYPES = {ListKind.CONTACT: ObjectType.CONTACT, ListKind.COMPANY: ObjectType.COMPANY}


def _attribute(key: str, label: str) -> ListColumn:
    return ListColumn(key=f"{ATTRIBUTE_PREFIX}{key}", label=label, value=lambda row: row.attributes.get(key),
                      order=(f"attributes__{key}",), export=(f"{ATTRIBUTE_PREFIX}{key}",))


def available_columns(*, workspace: Workspace, kind: str) -> dict[str, ListColumn]:
    """Every column of ``kind`` by key, built-ins first, then custom fields by label (one query)."""
    columns = {column.key: column for column in BUILT_IN[ListKind(kind)]}
    object_type = _ATTRIBUTE_TYPES.get(ListKind(kind))
    if object_type is not None:
        definitions = contact_selectors.custom_field_definitions_by_key(workspace=workspace, object_type=object_type)
        for definition in sorted(definitions.values(), key=lambda d: d.label.casefold()):
            column = _attribute(definition.key, definition.label)
            columns[column.key] = column
    return columns
