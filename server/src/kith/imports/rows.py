"""Turning one source row into the values of one record, with the same rules as every other write path.

Plain fields go through ``kith.contacts.validation`` (``contact_fields_clean``/``company_fields_clean``), custom
attributes through ``kith.contacts.attributes.attributes_clean`` and tag names through ``tag_names_clean``: an
import accepts exactly what the UI and the API accept. A blank cell means "leave this field as it is", so an
import that updates existing records never blanks what the file does not know.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from kith.contacts.attributes import attributes_clean
from kith.contacts.errors import InvalidFields
from kith.contacts.models import CustomFieldDefinition, FieldType
from kith.contacts.services._common import tag_names_clean
from kith.contacts.validation import company_fields_clean, contact_fields_clean
from kith.imports.mapping import ATTR_PREFIX, SKIP, TAGS
from kith.imports.models import ImportKind
from kith.imports.reading import SourceRow

# Several values in one cell (tags, multiple-choice fields) are separated by commas or semicolons.
_LIST_SPLIT = re.compile(r"[;,]")
KEY_LABELS = {"email": "e-mail address", "external_id": "external id", "domain": "domain"}


@dataclass
class Record:
    number: int
    cells: list[str]
    key: str
    values: dict[str, Any]
    raw_attributes: dict[str, Any] = field(default_factory=dict)
    attributes: dict[str, Any] = field(default_factory=dict)
    tags: list[str] = field(default_factory=list)
    # Deals: references as the file gives them (a company name, a contact's e-mail), resolved per batch.
    refs: dict[str, str] = field(default_factory=dict)


@functools.lru_cache(maxsize=4096)
def _tags_cell_clean(text: str) -> tuple[str, ...] | dict[str, list[str]]:
    """The tag names of one cell (``tag_names_clean``'s rules), or its errors. Files repeat the same few tag
    combinations on many rows, so each distinct cell is cleaned once."""
    try:
        return tuple(tag_names_clean([n for n in _LIST_SPLIT.split(text) if n.strip()]))
    except InvalidFields as exc:
        return exc.errors


def errors_text(errors: Mapping[str, list[str]]) -> str:
    return "; ".join(f"{name}: {' '.join(messages)}" for name, messages in errors.items())


class RowCleaner:
    """Cleans the rows of one import: built once with the mapping and the workspace's definitions, then called
    for every row (no queries)."""

    def __init__(
        self,
        *,
        kind: str,
        mapping: Mapping[str, str],
        upsert_key: str,
        definitions: Mapping[str, CustomFieldDefinition],
        phone_region: str,
    ) -> None:
        self.kind = ImportKind(kind)
        self.upsert_key = upsert_key
        self.definitions = definitions
        self.phone_region = phone_region
        chosen = [(int(column), target) for column, target in mapping.items() if target != SKIP]
        self.plain = [(i, t) for i, t in chosen if t != TAGS and not t.startswith(ATTR_PREFIX)]
        self.attrs = [(i, t.removeprefix(ATTR_PREFIX)) for i, t in chosen if t.startswith(ATTR_PREFIX)]
        self.tags_column = next((i for i, t in chosen if t == TAGS), None)
        self.multi = {key for _, key in self.attrs
                      if key in definitions and definitions[key].field_type == FieldType.MULTI_CHOICE}

    @property
    def plain_fields(self) -> list[str]:
        return [name for _, name in self.plain]

    def clean(self, row: SourceRow) -> Record | dict[str, list[str]]:
        """The record ``row`` describes, or its field errors. Attributes are checked by ``finish`` once the
        caller knows whether the record exists (a new record must have its required fields)."""
        cells = row.cells
        raw = {name: cells[i] for i, name in self.plain if cells[i].strip()}
        if self.kind == ImportKind.CONTACTS:
            values, errors = contact_fields_clean(raw, phone_region=self.phone_region)
        else:
            values, errors = company_fields_clean(raw)
        problems = dict(errors.errors)
        tags: list[str] = []
        if self.tags_column is not None and cells[self.tags_column].strip():
            cleaned = _tags_cell_clean(cells[self.tags_column])
            if isinstance(cleaned, dict):
                problems.update(cleaned)
            else:
                tags = list(cleaned)
        key = values.get(self.upsert_key, "")
        if not key and self.upsert_key not in problems:
            problems[self.upsert_key] = [f"No {KEY_LABELS[self.upsert_key]}: rows are matched on it."]
        if problems:
            return problems
        raw_attributes: dict[str, Any] = {}
        for i, attr in self.attrs:
            text = cells[i].strip()
            if text:
                raw_attributes[attr] = ([p.strip() for p in _LIST_SPLIT.split(text) if p.strip()]
                                        if attr in self.multi else text)
        return Record(number=row.number, cells=cells, key=key, values=values, raw_attributes=raw_attributes,
                      tags=tags)

    def finish(self, record: Record, *, exists: bool) -> dict[str, list[str]]:
        """Validate ``record``'s custom attributes (and, for a new company, its name); its field errors, if any. A new record gets the complete ``attributes``; an existing one only the keys the file writes,
        merged into what it has."""
        try:
            record.attributes = attributes_clean(definitions=self.definitions, values=record.raw_attributes,
                                                 current={} if exists else None)
        except InvalidFields as exc:
            return exc.errors
        if self.kind == ImportKind.COMPANIES and not exists and not record.values.get("name"):
            return {"name": ["A company needs a name."]}
        return {}

    def column_of(self, error_field: str) -> int | None:
        """The column an error of ``clean``/``finish`` is about (``email``, ``attributes.plan``, ``tags``)."""
        if error_field == TAGS:
            return self.tags_column
        if error_field.startswith("attributes."):
            key = error_field.removeprefix("attributes.")
            return next((i for i, attr in self.attrs if attr == key), None)
        return next((i for i, name in self.plain if name == error_field), None)
