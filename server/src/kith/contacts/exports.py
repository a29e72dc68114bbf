"""What a contact or company export contains: the API's fields, then one column per custom field of the workspace.

Columns are named like the API fields (``email``, ``owner_email``) and custom fields ``attr.<key>`` like the
``?attr.<key>=`` filters, so an exported file maps straight back onto an import or an API call. Tags are one column,
names joined by ", " in CSV/XLSX and a list in JSON.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from kith.accounts.models import Membership, Role, Workspace
from kith.contacts import selectors
from kith.contacts.errors import InvalidFields
from kith.contacts.models import ObjectType
from kith.core.audit import audit_record
from kith.core.exports import ExportColumn

ATTRIBUTE_GROUP = "attributes"
ATTRIBUTE_PREFIX = "attr"
# Everyone but viewers (see may_export).
EXPORT_ROLES = frozenset({Role.OWNER, Role.ADMIN, Role.MANAGER, Role.REP, Role.MARKETER})


def _field(name: str) -> ExportColumn:
    return ExportColumn(name, lambda row: getattr(row, name))


def _related(name: str, path: tuple[str, str]) -> ExportColumn:
    relation, attr = path

    def read(row: Any) -> Any:
        related = getattr(row, relation)
        return getattr(related, attr) if related is not None else None

    return ExportColumn(name, read)


def _attribute(key: str) -> ExportColumn:
    return ExportColumn(key, lambda row: row.attributes.get(key), group=ATTRIBUTE_GROUP, prefix=ATTRIBUTE_PREFIX)


CONTACT_COLUMNS: list[ExportColumn] = [
    _field("id"), _field("first_name"), _field("last_name"), _field("email"), _field("phone"),
    ExportColumn("company", lambda row: row.company_id), _related("company_name", ("company", "name")),
    ExportColumn("owner", lambda row: row.owner_id), _related("owner_email", ("owner", "email")),
    _field("lifecycle_stage"), _field("lead_status"), _field("timezone"), _field("locale"),
    _field("email_consent"), _field("email_consent_changed_at"), _field("sms_consent"),
    _field("sms_consent_changed_at"), _field("engagement_score"), _field("last_seen_at"), _field("external_id"),
    _field("source"),
    # .all() reads the prefetch of selectors.contact_list, one query per chunk of rows.
    ExportColumn("tags", lambda row: [tag.name for tag in row.tags.all()]),
    _field("created_at"), _field("updated_at"),
]

COMPANY_COLUMNS: list[ExportColumn] = [
    _field("id"), _field("name"), _field("domain"), _field("industry"), _field("size"),
    ExportColumn("owner", lambda row: row.owner_id), _related("owner_email", ("owner", "email")),
    _field("external_id"), _field("created_at"), _field("updated_at"),
]


def attribute_columns(*, workspace: Workspace, object_type: str) -> list[ExportColumn]:
    """One column per custom field of ``object_type``, in key order (one query)."""
    definitions = selectors.custom_field_definitions_by_key(workspace=workspace, object_type=object_type)
    return [_attribute(key) for key in sorted(definitions)]


def columns_select(available: list[ExportColumn], wanted: Iterable[str] | None) -> list[ExportColumn]:
    """The columns named in ``wanted`` (headers such as ``email`` or ``attr.plan``), in that order; all of them when
    ``wanted`` is ``None``. An unknown name is an ``InvalidFields`` on ``columns``."""
    if wanted is None:
        return available
    by_header = {column.header: column for column in available}
    names = [name.strip() for name in wanted if name.strip()]
    unknown = [name for name in names if name not in by_header]
    if unknown:
        shown = ", ".join(sorted({name[:70] for name in unknown})[:5])
        raise InvalidFields({"columns": [f"Unknown column(s): {shown}."]})
    if not names:
        raise InvalidFields({"columns": ["Name at least one column."]})
    return [by_header[name] for name in dict.fromkeys(names)]


def contact_export_columns(*, workspace: Workspace) -> list[ExportColumn]:
    return CONTACT_COLUMNS + attribute_columns(workspace=workspace, object_type=ObjectType.CONTACT)


def company_export_columns(*, workspace: Workspace) -> list[ExportColumn]:
    return COMPANY_COLUMNS + attribute_columns(workspace=workspace, object_type=ObjectType.COMPANY)


def may_export(membership: Membership | None) -> bool:
    """Whether a session member may download lists. ``membership=None`` is an API key, which needs only its read
    scope (checked by ``WorkspaceAccess``): it can page through the same rows anyway. Viewers may not: they are
    read-only guests (auditors, contractors) and a bulk download is a far larger exposure than reading pages."""
    return membership is None or membership.role in EXPORT_ROLES


def export_audit(*, workspace: Workspace, actor: Any, object_type: str, export_format: str, query: str) -> None:
    """Record the export as a security event (SPEC §3.1: every export is audited), with the filters used."""
    audit_record(action=f"{object_type}.exported", actor=actor, workspace=workspace,
                 target_label=f"{object_type} list ({export_format})",
                 after={"format": export_format, "query": query[:2000]})
