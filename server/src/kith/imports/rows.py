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

from kith.contacts.attributes import attributes_clean, field_name
from kith.contacts.errors import InvalidFields
from kith.contacts.models import CustomFieldDefinition, FieldType, Tag
from kith.contacts.services._common import tag_names_clean
from kith.contacts.validation import company_fields_clean, contact_fields_clean
from kith.imports.mapping import ATTR_PREFIX, SKIP, TAGS
from kith.imports.models import ImportKind
from kith.imports.reading import SourceRow

# Distinct cell values per plain field whose cleaned form a cleaner remembers (names, stages, countries repeat on
# thousands of rows); a column of unique values stops being remembered there, so memory stays bounded.
FIELD_CACHE_SIZE = 50_000
# What a (key, cell) outcome of ``RowCleaner._attribute_outcome`` says.
_STORED, _ERROR, _REMOVED = object(), object(), object()
# Fields whose values are (nearly) unique per row: cleaned every time rather than remembered.
UNIQUE_FIELDS = frozenset({"email", "external_id", "phone", "domain"})
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
    # The errors of ``raw_attributes`` (the checks that do not depend on whether the record exists).
    attribute_errors: dict[str, list[str]] = field(default_factory=dict)
    tags: list[str] = field(default_factory=list)
    tag_keys: tuple[str, ...] = ()  # Tag.key_for of each of ``tags``
    # Contacts and companies: the record's row of the staging table, built in the reader thread (see
    # ``kith.imports.writers.stage_values``); the "fresh" column is set once the batch knows what exists.
    staged: list[Any] | None = None
    # Deals: references as the file gives them (a company name, a contact's e-mail), resolved per batch.
    refs: dict[str, str] = field(default_factory=dict)


@functools.lru_cache(maxsize=4096)
def _tags_cell_clean(text: str) -> tuple[tuple[str, ...], tuple[str, ...]] | dict[str, list[str]]:
    """The tag names of one cell (``tag_names_clean``'s rules) with their folded keys, or its errors. Files repeat
    the same few tag combinations on many rows, so each distinct cell is cleaned once."""
    try:
        names = tuple(tag_names_clean([n for n in _LIST_SPLIT.split(text) if n.strip()]))
    except InvalidFields as exc:
        return exc.errors
    return names, tuple(Tag.key_for(name) for name in names)


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
        self.required = [key for key, definition in definitions.items() if definition.required]
        self._fields_clean = self._contact_fields if self.kind == ImportKind.CONTACTS else company_fields_clean
        # (field, cell) → (value, errors) of the plain fields, and (key, cell) → outcome of the attributes.
        self._field_cache: dict[tuple[str, str], tuple[Any, list[str] | None]] = {}
        self._attribute_cache: dict[tuple[str, str], tuple[object, Any]] = {}

    @property
    def plain_fields(self) -> list[str]:
        return [name for _, name in self.plain]

    def _contact_fields(self, raw: Mapping[str, Any]) -> Any:
        return contact_fields_clean(raw, phone_region=self.phone_region)

    def _plain_clean(self, cells: list[str]) -> tuple[dict[str, Any], dict[str, list[str]]]:
        """The plain fields through ``contact_fields_clean``/``company_fields_clean``, which clean each field on
        its own: so a repeated (field, cell) is looked up instead of cleaned again, with the same outcome."""
        unique = {name: cells[i] for i, name in self.plain if name in UNIQUE_FIELDS and cells[i].strip()}
        unique_values, unique_errors = self._fields_clean(unique) if unique else ({}, None)
        values: dict[str, Any] = {}
        problems: dict[str, list[str]] = {}
        cache = self._field_cache
        for i, name in self.plain:
            text = cells[i]
            if name in UNIQUE_FIELDS:
                if name in unique_values:
                    values[name] = unique_values[name]
                elif unique_errors is not None and name in unique_errors.errors:
                    problems[name] = unique_errors.errors[name]
                continue
            if not text.strip():
                continue
            outcome = cache.get((name, text))
            if outcome is None:
                cleaned, errors = self._fields_clean({name: text})
                outcome = (cleaned.get(name), errors.errors.get(name))
                if len(cache) < FIELD_CACHE_SIZE:
                    cache[(name, text)] = outcome
            if outcome[1]:
                problems[name] = list(outcome[1])
            else:
                values[name] = outcome[0]
        return values, problems

    def clean(self, row: SourceRow) -> Record | dict[str, list[str]]:
        """The record ``row`` describes (attributes checked too), or its field errors. Whether a new record has its
        required fields is checked by ``finish`` once the caller knows whether the record exists."""
        cells = row.cells
        values, problems = self._plain_clean(cells)
        tags: tuple[str, ...] = ()
        tag_keys: tuple[str, ...] = ()
        if self.tags_column is not None and cells[self.tags_column].strip():
            cleaned = _tags_cell_clean(cells[self.tags_column])
            if isinstance(cleaned, dict):
                problems.update(cleaned)
            else:
                tags, tag_keys = cleaned
        key = values.get(self.upsert_key, "")
        if not key and self.upsert_key not in problems:
            problems[self.upsert_key] = [f"No {KEY_LABELS[self.upsert_key]}: rows are matched on it."]
        if problems:
            return problems
        raw_attributes: dict[str, Any] = {}
        attributes: dict[str, Any] = {}
        attribute_errors: dict[str, list[str]] = {}
        cache = self._attribute_cache
        for i, attr in self.attrs:
            text = cells[i].strip()
            if not text:
                continue
            if attr in self.multi:
                raw = raw_attributes[attr] = [p.strip() for p in _LIST_SPLIT.split(text) if p.strip()]
                outcome = self._attribute_outcome(attr, raw)
            else:
                raw_attributes[attr] = text
                outcome = cache.get((attr, text))
                if outcome is None:
                    outcome = self._attribute_outcome(attr, text)
                    if len(cache) < FIELD_CACHE_SIZE:
                        cache[(attr, text)] = outcome
            if outcome[0] is _ERROR:
                attribute_errors.update(outcome[1])
            elif outcome[0] is not _REMOVED:
                attributes[attr] = outcome[1]
        return Record(number=row.number, cells=cells, key=key, values=values, raw_attributes=raw_attributes,
                      attributes=attributes, attribute_errors=attribute_errors, tags=list(tags),
                      tag_keys=tag_keys)

    def _attribute_outcome(self, key: str, value: Any) -> tuple[object, Any]:
        """``attributes_clean`` of one key, as the existing record's check (``current={}``) sees it: the stored
        value, or the key's errors, or nothing to store. ``attributes_clean`` checks every key on its own, so a
        row's attributes are the union of its keys' outcomes, and one (key, cell) outcome serves every row with
        that cell; a new record's required fields are checked by ``finish``."""
        try:
            cleaned = attributes_clean(definitions=self.definitions, values={key: value}, current={})
        except InvalidFields as exc:
            return _ERROR, exc.errors
        return (_STORED, cleaned[key]) if key in cleaned else (_REMOVED, None)

    def finish(self, record: Record, *, exists: bool) -> dict[str, list[str]]:
        """The errors ``record`` has once it is known whether it exists: its attributes' (see ``clean``), a new
        record's missing required fields (as ``attributes_clean`` with ``current=None`` reports them) and a new
        company's missing name. A new record gets the complete ``attributes``; an existing one only the keys the
        file writes, merged into what it has."""
        errors = dict(record.attribute_errors)
        if not exists:
            for key in self.required:
                if key not in record.raw_attributes and field_name(key) not in errors:
                    errors[field_name(key)] = ["This field is required."]
        if errors:
            return errors
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
