"""What a deal export contains: the API's fields plus the names of the pipeline, stage, contact and company, so the
file reads on its own. Deals have no custom fields (definitions cover contacts and companies)."""

from __future__ import annotations

from typing import Any

from kith.accounts.models import Workspace
from kith.core.exports import ExportColumn


def _field(name: str) -> ExportColumn:
    return ExportColumn(name, lambda row: getattr(row, name))


def _name_of(column: str, relation: str, attr: str = "name") -> ExportColumn:
    def read(row: Any) -> Any:
        related = getattr(row, relation)
        return getattr(related, attr) if related is not None else None

    return ExportColumn(column, read)


DEAL_COLUMNS: list[ExportColumn] = [
    _field("id"), _field("name"),
    ExportColumn("pipeline", lambda row: row.pipeline_id), _name_of("pipeline_name", "pipeline"),
    ExportColumn("stage", lambda row: row.stage_id), _name_of("stage_name", "stage"),
    _field("status"), _field("value"), _field("currency"), _field("expected_close_date"),
    ExportColumn("owner", lambda row: row.owner_id), _name_of("owner_email", "owner", "email"),
    ExportColumn("contact", lambda row: row.contact_id), _name_of("contact_email", "contact", "email"),
    ExportColumn("company", lambda row: row.company_id), _name_of("company_name", "company"),
    _field("lost_reason"), _field("closed_at"), _field("external_id"), _field("created_at"), _field("updated_at"),
]


def deal_export_columns(*, workspace: Workspace) -> list[ExportColumn]:
    return list(DEAL_COLUMNS)
