"""Reading an uploaded file: sniff its format, text encoding and CSV dialect once, then stream its rows.

Rows are streamed (never the whole file in memory) and every record keeps its number as a spreadsheet shows it
(the header is row 1), so error reports and resumed runs agree on which row is which. Problems confined to one
record (undecodable bytes, a wrong number of cells, a cell too large, a quoting error) are attached to that record
rather than raised: the rest of the file still imports.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from openpyxl import load_workbook

from kith.core.errors import KithError

# Larger than any value a field accepts (custom text stops at 10,000 characters), small enough that a runaway
# quote that swallows the rest of the file is reported on its row instead of building a huge value.
MAX_CELL_CHARS = 100_000
# The csv module refuses fields over its limit with an error that ends the reader; ours is far above
# MAX_CELL_CHARS so that an oversized cell is reported on its own row and reading goes on.
csv.field_size_limit(64 * 1024 * 1024)
SNIFF_BYTES = 256 * 1024  # decides the encoding
SNIFF_LINES, SNIFF_CHARS = 50, 32 * 1024  # decide the dialect
MAX_COLUMNS = 200
_ESCAPED = re.compile("[\udc80-\udcff]")  # bytes the codec could not decode, kept by "surrogateescape"


class ImportFileError(KithError, ValueError):
    """The file as a whole cannot be imported (not CSV/XLSX, no header row, unreadable)."""


@dataclass(frozen=True)
class Sniffed:
    format: str
    encoding: str = ""
    delimiter: str = ","
    quotechar: str = '"'
    headers: tuple[str, ...] = ()


@dataclass(frozen=True)
class SourceRow:
    number: int  # as a spreadsheet numbers it: the header is row 1
    cells: list[str]
    error: str = ""


def detect_encoding(sample: bytes) -> str:
    """UTF-8 (with or without BOM) when the sample decodes as such, UTF-16 with a BOM, else cp1252 (what Excel
    writes on Windows), else latin-1, which decodes any byte."""
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    for encoding in ("utf-8", "cp1252"):
        try:
            # final=False: the sample may end inside a multi-byte character.
            codecs.getincrementaldecoder(encoding)().decode(sample, final=False)
            return encoding
        except UnicodeDecodeError:
            continue
    return "latin-1"


def _text_sample(path: Path, encoding: str) -> str:
    with path.open("rb") as handle:
        raw = handle.read(SNIFF_BYTES)
    text = codecs.getincrementaldecoder(encoding)(errors="replace").decode(raw, final=False)
    # Sniff whole lines only: a cut last line would make the Sniffer doubt its delimiter.
    if len(raw) == SNIFF_BYTES and "\n" in text:
        text = text[: text.rindex("\n")]
    return text


def sniff(path: Path, *, file_format: str) -> Sniffed:
    """Format details and the header row of the file at ``path``. Raises ``ImportFileError``."""
    if file_format == "xlsx":
        headers = next((row.cells for row in _xlsx_rows(path)), None)
        return Sniffed(format="xlsx", headers=_headers(headers))
    with path.open("rb") as handle:
        encoding = detect_encoding(handle.read(SNIFF_BYTES))
    text = _text_sample(path, encoding)
    if not text.strip():
        raise ImportFileError("The file is empty.", field="file")
    try:
        # The Sniffer's regular expressions grow steeply with the sample: a few dozen lines decide as well.
        dialect = csv.Sniffer().sniff("\n".join(text.splitlines()[:SNIFF_LINES])[:SNIFF_CHARS], delimiters=",;\t|")
        delimiter, quotechar = dialect.delimiter, dialect.quotechar or '"'
    except csv.Error:
        delimiter, quotechar = ",", '"'
    sniffed = Sniffed(format="csv", encoding=encoding, delimiter=delimiter, quotechar=quotechar)
    first = next(iter(csv.reader(text.splitlines(), delimiter=delimiter, quotechar=quotechar)), None)
    return Sniffed(format="csv", encoding=encoding, delimiter=delimiter, quotechar=quotechar,
                   headers=_headers(first)) if first is not None else sniffed


def _headers(cells: list[str] | None) -> tuple[str, ...]:
    if not cells or not any(cell.strip() for cell in cells):
        raise ImportFileError("The first row must name the columns.", field="file")
    if len(cells) > MAX_COLUMNS:
        raise ImportFileError(f"At most {MAX_COLUMNS} columns.", field="file")
    return tuple(cell.strip().lstrip("\ufeff")[:200] or f"Column {n}" for n, cell in enumerate(cells, start=1))


def rows(path: Path, sniffed: Sniffed, *, skip: int = 0) -> Iterator[SourceRow]:
    """The data rows after the header, from the ``skip``-th on; rows that are entirely blank are counted but not
    yielded. A row's ``error`` says why it cannot be read (its cells are then what could be read)."""
    source = _xlsx_rows(path) if sniffed.format == "xlsx" else _csv_rows(path, sniffed)
    width = len(sniffed.headers)
    for row in source:
        if row.number == 1 or row.number - 1 <= skip:
            continue
        if row.error:
            yield row
            continue
        # max(map(len, …)) runs in C: this check costs little on a million rows, unlike a generator per row.
        longest = max(map(len, row.cells), default=0)
        if longest == 0:
            continue
        if len(row.cells) != width:
            if len(row.cells) > width and not any(c.strip() for c in row.cells[width:]):
                # Spreadsheets often leave trailing empty cells; they carry nothing.
                yield SourceRow(row.number, row.cells[:width])
                continue
            yield SourceRow(row.number, row.cells,
                            f"Expected {width} columns like the header, found {len(row.cells)}.")
            continue
        if longest > MAX_CELL_CHARS:
            yield SourceRow(row.number, [c[:MAX_CELL_CHARS] for c in row.cells],
                            f"A cell is longer than {MAX_CELL_CHARS:,} characters.")
            continue
        yield row


def _csv_rows(path: Path, sniffed: Sniffed) -> Iterator[SourceRow]:
    # surrogateescape keeps undecodable bytes visible (as lone surrogates) so the one row holding them is reported
    # instead of the whole file failing; UTF-16 has no such mode and replaces them.
    errors = "replace" if sniffed.encoding == "utf-16" else "surrogateescape"
    with path.open(encoding=sniffed.encoding, errors=errors, newline="") as handle:
        reader = csv.reader(handle, delimiter=sniffed.delimiter, quotechar=sniffed.quotechar)
        number = 0
        while True:
            number += 1
            try:
                cells = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                yield SourceRow(number, [], f"Unreadable row: {exc}.")
                continue
            if _ESCAPED.search("".join(cells)):
                cells = [_ESCAPED.sub("\ufffd", cell) for cell in cells]
                yield SourceRow(number, cells, f"The row is not valid {sniffed.encoding} text.")
                continue
            yield SourceRow(number, cells)


def _xlsx_rows(path: Path) -> Iterator[SourceRow]:
    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:
        raise ImportFileError("This is not a readable XLSX workbook.", field="file") from exc
    try:
        sheet = workbook.worksheets[0]
        for number, values in enumerate(sheet.iter_rows(values_only=True), start=1):
            yield SourceRow(number, [_cell_text(value) for value in values])
    finally:
        workbook.close()


def _cell_text(value: object) -> str:
    """A spreadsheet value as the text a CSV export would hold: dates in ISO form, whole floats without ".0"."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def line_estimate(path: Path, *, file_format: str) -> int:
    """Data rows in the file, estimated from its line count (quoted newlines make it an over-estimate); the
    progress bar's denominator until the import is done. Reads bytes only: a 100 MB file takes well under a
    second."""
    if file_format == "xlsx":
        try:
            workbook = load_workbook(path, read_only=True, data_only=True)
        except Exception:  # noqa: BLE001  (sniff() already reported an unreadable workbook)
            return 0
        try:
            return max(0, (workbook.worksheets[0].max_row or 1) - 1)
        finally:
            workbook.close()
    lines = 0
    last = b"\n"
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            lines += chunk.count(b"\n")
            last = chunk[-1:]
    if last != b"\n":
        lines += 1
    return max(0, lines - 1)
