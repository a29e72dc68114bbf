"""Streaming list exports as CSV, JSON, NDJSON and XLSX, in memory that does not grow with the row count.

An export is a queryset (already filtered and access-checked by the caller) and a list of ``ExportColumn``. Rows are
read with ``QuerySet.iterator(chunk_size=...)`` — a server-side cursor on PostgreSQL — and written out one at a time:
CSV and JSON go straight into a ``StreamingHttpResponse``; XLSX goes through openpyxl's write-only workbook, which
spools rows to a temporary file, and the finished file is streamed from disk.

Every text cell that a spreadsheet would read as a formula (starting with ``= + - @``, or a tab/CR that some
spreadsheets strip before looking) gets a leading apostrophe in CSV and XLSX (OWASP "CSV injection"). JSON is data
for programs, so it keeps values exactly.
"""

from __future__ import annotations

import csv
import datetime as dt
import decimal
import enum
import json
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from django.db.models import QuerySet
from django.http import FileResponse, StreamingHttpResponse
from django.utils import timezone
from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

# Rows fetched per round trip: large enough that the per-query overhead vanishes, small enough that one chunk
# (with its prefetched tags) stays a few megabytes at most.
CHUNK_SIZE = 2000
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


class ExportFormat(enum.StrEnum):
    CSV = "csv"
    JSON = "json"
    NDJSON = "ndjson"
    XLSX = "xlsx"


CONTENT_TYPES = {
    ExportFormat.CSV: "text/csv; charset=utf-8",
    ExportFormat.JSON: "application/json",
    ExportFormat.NDJSON: "application/x-ndjson",
    ExportFormat.XLSX: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


@dataclass(frozen=True)
class ExportColumn:
    """One column: ``key`` is the CSV/XLSX header and the JSON key; ``value`` reads the JSON-native value of a row.

    A column with ``group`` set (``"attributes"``) is nested under that key in JSON and is named ``<prefix>.<key>``
    in CSV/XLSX headers, so a custom field called ``email`` can never collide with the built-in column.
    """

    key: str
    value: Callable[[Any], Any]
    group: str | None = None
    prefix: str = ""

    @property
    def header(self) -> str:
        return f"{self.prefix}.{self.key}" if self.prefix else self.key


def neutralize_formula(text: str) -> str:
    """``text`` made safe to open in a spreadsheet: a leading apostrophe when it would start a formula."""
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text


def _flat(value: Any) -> Any:
    """A JSON-native value as one spreadsheet cell: lists joined, instants in UTC, nothing left as ``None``."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        return ", ".join(str(item) for item in value)
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).isoformat() if timezone.is_aware(value) else value.isoformat()
    if isinstance(value, dt.date | decimal.Decimal):
        return str(value)
    return value


def csv_cell(value: Any) -> Any:
    flat = _flat(value)
    return neutralize_formula(flat) if isinstance(flat, str) else flat


def xlsx_cell(value: Any) -> Any:
    """Numbers stay numbers, dates become real dates (naive UTC: the format has no time zones), text is escaped
    (openpyxl itself would store a string starting with ``=`` as a formula)."""
    if isinstance(value, bool) or value is None:
        return _flat(value)
    if isinstance(value, int | float | decimal.Decimal):
        return value
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).replace(tzinfo=None) if timezone.is_aware(value) else value
    if isinstance(value, dt.date):
        return value
    flat = _flat(value)
    if not isinstance(flat, str):
        return flat
    # XML 1.0 cannot hold most control characters; openpyxl refuses them. Drop them rather than fail the export.
    return neutralize_formula(ILLEGAL_CHARACTERS_RE.sub("", flat))


def json_value(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)  # as the API renders decimals: no binary rounding of money
    return value


def json_object(row: Any, columns: list[ExportColumn]) -> dict[str, Any]:
    obj: dict[str, Any] = {}
    for column in columns:
        value = json_value(column.value(row))
        if column.group:
            obj.setdefault(column.group, {})[column.key] = value
        else:
            obj[column.key] = value
    return obj


def rows_of(queryset: QuerySet[Any]) -> Iterator[Any]:
    return queryset.iterator(chunk_size=CHUNK_SIZE)


class _Echo:
    """A file-like whose ``write`` returns what it was given, so ``csv.writer`` produces strings to stream."""

    def write(self, value: str) -> str:
        return value


def csv_chunks(rows: Iterable[Any], columns: list[ExportColumn]) -> Iterator[str]:
    writer = csv.writer(_Echo())
    # A byte-order mark so Excel opens UTF-8 (names with accents) correctly; other readers skip it.
    yield "\ufeff" + writer.writerow([column.header for column in columns])
    for row in rows:
        yield writer.writerow([csv_cell(column.value(row)) for column in columns])


def json_chunks(rows: Iterable[Any], columns: list[ExportColumn]) -> Iterator[str]:
    """One JSON array, written element by element: a valid document for any JSON reader, streamed all the same."""
    yield "["
    separator = "\n"
    for row in rows:
        yield separator + json.dumps(json_object(row, columns), ensure_ascii=False)
        separator = ",\n"
    yield "\n]\n"


def ndjson_chunks(rows: Iterable[Any], columns: list[ExportColumn]) -> Iterator[str]:
    for row in rows:
        yield json.dumps(json_object(row, columns), ensure_ascii=False) + "\n"


def xlsx_write(rows: Iterable[Any], columns: list[ExportColumn], target: Any, *, title: str) -> None:
    """Write the workbook to the binary file ``target``. Write-only mode keeps one row in memory at a time."""
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title=title[:31])
    sheet.append([column.header for column in columns])
    for row in rows:
        sheet.append([xlsx_cell(column.value(row)) for column in columns])
    workbook.save(target)


def export_response(
    queryset: QuerySet[Any], columns: list[ExportColumn], *, export_format: ExportFormat, filename: str
) -> StreamingHttpResponse | FileResponse:
    """The HTTP response that downloads ``queryset`` as ``export_format``. Rows are read while the response is
    sent (CSV, JSON, NDJSON) or spooled to a temporary file first (XLSX), never collected in memory."""
    rows = rows_of(queryset)
    download = f"{filename}.{export_format.value}"
    if export_format is ExportFormat.XLSX:
        # Deleted when the response closes the file; the ZIP format needs the whole file before its directory.
        spool = tempfile.TemporaryFile()  # noqa: SIM115 — FileResponse closes (and so deletes) it when sent
        xlsx_write(rows, columns, spool, title=filename)
        spool.seek(0)
        return FileResponse(spool, as_attachment=True, filename=download,
                            content_type=CONTENT_TYPES[export_format])
    chunks = {ExportFormat.CSV: csv_chunks, ExportFormat.JSON: json_chunks,
              ExportFormat.NDJSON: ndjson_chunks}[export_format](rows, columns)
    response = StreamingHttpResponse((chunk.encode() for chunk in chunks), content_type=CONTENT_TYPES[export_format])
    response["Content-Disposition"] = f'attachment; filename="{download}"'
    # Proxies must not buffer a long download into memory or disk before passing it on.
    response["X-Accel-Buffering"] = "no"
    return response
