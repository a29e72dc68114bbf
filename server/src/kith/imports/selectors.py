"""Reads of imports: one import (tenant-checked), the workspace's history, and the preview of a draft."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import islice
from pathlib import Path

from django.db import connection
from django.db.models import QuerySet

from kith.accounts.models import Workspace
from kith.contacts import selectors as contact_selectors
from kith.contacts.models import Company, Contact
from kith.core.errors import NotFound
from kith.deals.models import Deal
from kith.imports import storage
from kith.imports.deal_rows import DealRowCleaner
from kith.imports.mapping import mapping_errors
from kith.imports.models import ImportJob, ImportKind
from kith.imports.reading import Sniffed, rows
from kith.imports.rows import Record, RowCleaner, errors_text

PREVIEW_ROWS = 20
OBJECT_TYPES = {ImportKind.CONTACTS: "contact", ImportKind.COMPANIES: "company"}  # deals have no custom fields


def import_list(*, workspace: Workspace) -> QuerySet[ImportJob]:
    return ImportJob.objects.for_workspace(workspace).select_related("created_by").order_by("-id")


def import_get(*, workspace: Workspace, import_id: int) -> ImportJob:
    """The import ``import_id`` of ``workspace``; ``NotFound`` for another workspace's, as for a missing one."""
    found = ImportJob.objects.for_workspace(workspace).select_related("workspace", "created_by") \
        .filter(pk=import_id).first()
    if found is None:
        raise NotFound("No such import.")
    return found


def existing_keys(*, workspace_id: int, kind: str, key: str, values: Sequence[str]) -> set[str]:
    """Which of ``values`` (of the upsert ``key``) records of ``kind`` in the workspace already have."""
    if not values:
        return set()
    model = {ImportKind.CONTACTS: Contact, ImportKind.COMPANIES: Company, ImportKind.DEALS: Deal}[ImportKind(kind)]
    if connection.vendor == "postgresql":
        # One array parameter instead of thousands of IN placeholders: cheaper to send and to plan, per batch.
        column = model._meta.get_field(key).column
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT {column} FROM {model._meta.db_table} WHERE workspace_id = %s "
                           f"AND {column} = ANY(%s) AND NOT ({column} = '')", [workspace_id, list(values)])
            return {row[0] for row in cursor.fetchall()}
    return set(model.objects.filter(workspace_id=workspace_id, **{f"{key}__in": values})
               .values_list(key, flat=True))


def error_report_path(*, job: ImportJob) -> Path | None:
    """The error report file of ``job``, once a run has written one."""
    if not job.error_report_path:
        return None
    path = storage.absolute(job.error_report_path)
    return path if path.exists() else None


@dataclass(frozen=True)
class PreviewCell:
    text: str
    error: str = ""


@dataclass(frozen=True)
class PreviewRow:
    number: int
    cells: list[PreviewCell]
    error: str = ""  # problems not tied to one column (unreadable row, wrong column count)
    action: str = ""  # "create", "update", "skip" or "" when the row fails


def import_preview(*, job: ImportJob, limit: int = PREVIEW_ROWS) -> list[PreviewRow]:
    """The first ``limit`` data rows as the current mapping would import them, each cell with its error."""
    workspace = job.workspace
    definitions = (contact_selectors.custom_field_definitions_by_key(workspace=workspace,
                                                                     object_type=OBJECT_TYPES[job.kind])
                   if job.kind in OBJECT_TYPES else {})
    if mapping_errors(kind=job.kind, mapping=job.mapping, width=len(job.headers), upsert_key=job.upsert_key,
                      definitions=definitions):
        return []
    cleaner: RowCleaner | DealRowCleaner
    if job.kind == ImportKind.DEALS:
        cleaner = DealRowCleaner(workspace_id=workspace.pk, mapping=job.mapping, upsert_key=job.upsert_key)
    else:
        cleaner = RowCleaner(kind=job.kind, mapping=job.mapping, upsert_key=job.upsert_key, definitions=definitions,
                             phone_region=contact_selectors.contact_settings_get(
                                 workspace=workspace).default_phone_region)
    sniffed = Sniffed(format=job.format, encoding=job.encoding, delimiter=job.delimiter or ",",
                      quotechar=job.quotechar or '"', headers=tuple(job.headers))
    source = list(islice(rows(storage.absolute(job.file_path), sniffed), limit))
    results = {row.number: cleaner.clean(row) for row in source if not row.error}
    records = [r for r in results.values() if isinstance(r, Record)]
    existing = existing_keys(workspace_id=workspace.pk, kind=job.kind, key=job.upsert_key,
                             values=[r.key for r in records])
    if isinstance(cleaner, DealRowCleaner):
        cleaner.resolve(records)
    preview: list[PreviewRow] = []
    for row in source:
        if row.error:
            preview.append(PreviewRow(row.number, [PreviewCell(c[:200]) for c in row.cells], error=row.error))
            continue
        result = results[row.number]
        action = ""
        if isinstance(result, Record):
            exists = result.key in existing
            action = "skip" if exists and not job.update_existing else "update" if exists else "create"
            result = cleaner.finish(result, exists=exists) if action != "skip" else {}
            if result:
                action = ""
        by_column: dict[int, list[str]] = {}
        unplaced: dict[str, list[str]] = {}
        for name, messages in (result or {}).items():
            column = cleaner.column_of(name)
            if column is None:
                unplaced[name] = messages
            else:
                by_column.setdefault(column, []).extend(messages)
        cells = [PreviewCell(text[:200], " ".join(by_column.get(i, []))) for i, text in enumerate(row.cells)]
        preview.append(PreviewRow(row.number, cells, error=errors_text(unplaced), action=action))
    return preview
